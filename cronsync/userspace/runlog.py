"""Append-only JSON-lines files (scheduler.log, events.jsonl): safe under concurrent runs, rotated.

Each append takes an exclusive flock on a lock file beside the log, rotates when the next line would
pass `max_bytes` (scheduler.log -> scheduler.log.1 -> ... keeping `keep` old files), then writes the
line with O_APPEND writes. A record is written whole or not at all: a short write (a full disk) is
undone by truncating the file back to where the record started, under the lock, and reported; and a
partial line a crash left (a file not ending in a newline) is ended first, so it cannot swallow the
record. Files are opened with O_NOFOLLOW: a symlink planted in place of a log is refused, never
written through.
"""

from __future__ import annotations

import os

from cronsync import CronsyncError
from cronsync.userspace import fastjson
from cronsync.userspace.files import lock, open_error, open_no_follow, write_all

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
        fd = open_no_follow(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    except OSError as exc:
        os.close(lock_fd)
        raise LogWriteError(open_error(path, exc)) from None
    try:
        _append_whole(fd, path, line)
    finally:
        os.close(fd)
        os.close(lock_fd)


def _append_whole(fd: int, path: str, line: bytes) -> None:
    """`line` at the end of the file, on a line of its own; on failure, the file as it was."""
    start = os.lseek(fd, 0, os.SEEK_END)
    if start and os.pread(fd, 1, start - 1) != b"\n":
        line = b"\n" + line  # a crash left half a line: end it, so that it cannot swallow this record
    try:
        write_all(fd, line)
    except OSError as exc:
        try:  # noqa: SIM105 - contextlib costs exec an import
            os.ftruncate(fd, start)
        except OSError:
            pass
        raise LogWriteError(
            f"cannot write {path}: {exc.strerror or exc}; the record was not logged"
        ) from None


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
                record = parse_record(raw)
                if record is not None:
                    yield record


def job_records_newest_first(file: PathLike, job_id: str, keep: int = 100) -> Iterator[dict[str, Any]]:
    """The job's records, newest first: the log, then its rotated files (each read only when the newer
    ones did not suffice); unreadable lines are skipped."""
    path = os.fspath(file)
    wanted = job_id.encode()
    for name in [path] + [rotated_file(path, n) for n in range(1, keep + 1)]:
        try:
            with open(name, "rb") as handle:
                lines = handle.read().splitlines()
        except OSError:
            if name != path:
                return
            continue
        for raw in reversed(lines):
            if wanted not in raw:
                continue  # most lines are other jobs': no JSON parsing for them
            record = parse_record(raw)
            if record is not None and record.get("job_id") == job_id:
                yield record


def parse_record(raw: str | bytes) -> dict[str, Any] | None:
    """One log line's record; None for what cannot be read (invalid UTF-8 or JSON, NaN or Infinity,
    nesting too deep, not an object)."""
    try:
        record = fastjson.loads_strict(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
