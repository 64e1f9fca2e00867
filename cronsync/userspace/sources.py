"""USER/config/jobs.json and settings.json as bytes: the one reader of the two files every command reads.

Import-light: `cronsync exec` stats them on every run, and reads them when the stat cannot vouch for
its cache (`cronsync.userspace.compiled`).
"""

from __future__ import annotations

import os
import time

from cronsync.core.exits import CronsyncError
from cronsync.userspace.paths import JOBS_FILE, SETTINGS_FILE, UserSpace

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from typing import Any

    Signature = dict[str, Any]  # {"jobs": stat | None, "settings": stat | None, "checked_ns": int}


class SourcesError(CronsyncError):
    """jobs.json or settings.json exists but cannot be read."""


def read_sources(space: UserSpace) -> tuple[bytes | None, bytes | None]:
    """The bytes of jobs.json and settings.json, None for a file that does not exist; SourcesError when
    one exists but cannot be read."""
    return _read(space.path(JOBS_FILE)), _read(space.path(SETTINGS_FILE))


def stat_sources(space: UserSpace) -> tuple[list[int] | None, list[int] | None]:
    """The stat signatures of jobs.json and settings.json, as `read_sources_signed` records them,
    without reading them; OSError when one cannot be stat'ed."""
    return _stat(space.path(JOBS_FILE)), _stat(space.path(SETTINGS_FILE))


def _stat(path: str) -> list[int] | None:
    """[st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns] of the file at path, None when there is
    none. A write, a rename over it or a touch changes it, except a same-size write within the file
    system's timestamp granularity (see compiled.RACY_SECONDS)."""
    try:
        return _signature(os.stat(path))
    except FileNotFoundError:
        return None


def _signature(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def read_sources_signed(space: UserSpace) -> tuple[bytes | None, bytes | None, Signature]:
    """As read_sources, with the stat signature of the bytes read: each file is fstat'ed through the
    descriptor it is then read from, before it is read, so a write after the read changes the stat.
    "checked_ns" is the time just before the first stat."""
    checked_ns = time.time_ns()
    jobs_signature, jobs_bytes = _read_signed(space.path(JOBS_FILE))
    settings_signature, settings_bytes = _read_signed(space.path(SETTINGS_FILE))
    signature = {"jobs": jobs_signature, "settings": settings_signature, "checked_ns": checked_ns}
    return jobs_bytes, settings_bytes, signature


def _read_signed(path: str) -> tuple[list[int] | None, bytes | None]:
    try:
        with open(path, "rb") as handle:
            signature = _signature(os.fstat(handle.fileno()))
            return signature, handle.read()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise SourcesError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SourcesError(f"cannot read {path}: {exc.strerror or exc}") from None
