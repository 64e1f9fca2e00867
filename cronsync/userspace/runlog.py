"""Append-only JSON-lines files (scheduler.log, events.jsonl): safe under concurrent runs, rotated.

Each append takes an exclusive flock on a lock file beside the log, rotates when the next line would
pass `max_bytes` (scheduler.log -> scheduler.log.1 -> ... keeping `keep` old files), then writes the
line with one O_APPEND write. Files are opened with O_NOFOLLOW: a symlink planted in place of a log
is refused, never written through.
"""

from __future__ import annotations

import fcntl
import os

from cronsync import fastjson

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    PathLike = str | os.PathLike[str]

_WRITE_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class LogWriteError(Exception):
    """A log line could not be written (e.g. the file is a symlink)."""


def append_json_line(file: PathLike, record: dict[str, Any], *, max_bytes: int, keep: int) -> None:
    path = os.fspath(file)
    line = (fastjson.dumps(record) + "\n").encode()
    folder, name = os.path.split(path)
    lock = os.path.join(folder, f".{name}.lock")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        lock_fd = os.open(lock, _WRITE_FLAGS, 0o600)
    except OSError as exc:
        hint = f" ({lock} is a symlink; cronsync never writes through one)" if os.path.islink(lock) else ""
        raise LogWriteError(f"cannot write {path}: {exc.strerror}{hint}") from None
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        _rotate_if_full(path, len(line), max_bytes, keep)
        fd = os.open(path, _WRITE_FLAGS, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        hint = " (it is a symlink; cronsync never writes through one)" if os.path.islink(path) else ""
        raise LogWriteError(f"cannot write {path}: {exc.strerror}{hint}") from None
    finally:
        os.close(lock_fd)


def _rotate_if_full(path: str, incoming: int, max_bytes: int, keep: int) -> None:
    try:
        size = os.lstat(path).st_size
    except FileNotFoundError:
        return
    if size == 0 or size + incoming <= max_bytes:
        return
    if keep == 0:
        os.unlink(path)
        return
    oldest = rotated_file(path, keep)
    if os.path.lexists(oldest):
        os.unlink(oldest)
    for number in range(keep - 1, 0, -1):
        older = rotated_file(path, number)
        if os.path.lexists(older):
            os.rename(older, rotated_file(path, number + 1))
    os.rename(path, rotated_file(path, 1))


def rotated_file(path: str, number: int) -> str:
    return f"{path}.{number}"


def read_json_lines(file: PathLike, keep: int = 100) -> Iterator[dict[str, Any]]:
    """Every record of the log and its rotated files, oldest first; unreadable lines are skipped."""
    path = os.fspath(file)
    files = [rotated_file(path, n) for n in range(keep, 0, -1)] + [path]
    for file in files:
        try:
            handle = open(file, "rb")  # noqa: SIM115 - closed below, after the generator is drained
        except OSError:
            continue
        with handle:
            for raw in handle:
                try:
                    record = fastjson.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record
