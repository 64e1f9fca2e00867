"""Append-only JSON-lines files (scheduler.log, events.jsonl): safe under concurrent runs, rotated.

Each append takes an exclusive flock on a lock file beside the log, rotates when the next line would
pass `max_bytes` (scheduler.log -> scheduler.log.1 -> ... keeping `keep` old files), then writes the
line with one O_APPEND write. Files are opened with O_NOFOLLOW: a symlink planted in place of a log
is refused, never written through.
"""

from __future__ import annotations

import os

from cronsync import CronsyncError
from cronsync.userspace import fastjson
from cronsync.userspace.files import lock, open_error, open_no_follow

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    PathLike = str | os.PathLike[str]


class LogWriteError(CronsyncError):
    """A log line could not be written (e.g. the file is a symlink)."""


def append_json_line(file: PathLike, record: dict[str, Any], *, max_bytes: int, keep: int) -> None:
    path = os.fspath(file)
    line = (fastjson.dumps(record) + "\n").encode()
    folder, name = os.path.split(path)
    lock_path = os.path.join(folder, f".{name}.lock")
    try:
        lock_fd = lock(lock_path)
    except OSError as exc:
        raise LogWriteError(f"cannot write {path}: {open_error(lock_path, exc, 'its lock')}") from None
    assert lock_fd is not None  # lock() waits
    try:
        _rotate_if_full(path, len(line), max_bytes, keep)
        fd = open_no_follow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise LogWriteError(open_error(path, exc)) from None
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


def last_records(file: PathLike) -> dict[str, dict[str, Any]]:
    """Each job's last record (by job_id), from one read of the log and its rotated files."""
    last: dict[str, dict[str, Any]] = {}
    for record in read_json_lines(file):
        job_id = record.get("job_id")
        if isinstance(job_id, str):
            last[job_id] = record
    return last


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
