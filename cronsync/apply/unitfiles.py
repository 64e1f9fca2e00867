"""The user unit directory: reading what cronsync installed there, and writing unit files whole.

Only files whose first line is cronsync's marker are read as cronsync's (never through a symlink).
New files are all written and synced under temp names before any is renamed into place, so a full or
read-only file system fails an apply with nothing changed, and a killed apply leaves no half file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from cronsync import CronsyncError
from cronsync.core import render
from cronsync.core.plan import UNIT_SUFFIXES, InstalledUnits
from cronsync.userspace.files import is_stale_temp, open_no_follow, remove_quietly, stage

UNIT_FILE_MODE = 0o644
# A job's `env` may hold what other accounts must not read; the user manager reads it as the user.
PRIVATE_UNIT_FILE_MODE = 0o600
WANTS = ("timers.target.wants", "paths.target.wants")  # where `systemctl enable` links cronsync's units

# Test hook: `CRONSYNC_DEBUG_PAUSE_AT=<point>` stops apply at that point (see debug_pause) so that
# tests can SIGKILL it exactly there.
DEBUG_PAUSE_ENV = "CRONSYNC_DEBUG_PAUSE_AT"


class InstallError(CronsyncError):
    """A unit file could not be written or removed (read-only or full file system, ...)."""


def debug_pause(point: str) -> None:
    """If asked through $CRONSYNC_DEBUG_PAUSE_AT, say where we are on stderr and wait to be killed."""
    if os.environ.get(DEBUG_PAUSE_ENV) == point:
        sys.stderr.write(f"cronsync: paused at {point}\n")
        sys.stderr.flush()
        while True:
            signal.pause()


def _pause_at(point: str) -> Callable[[], None]:
    return lambda: debug_pause(point)


def managed_unit_files(unit_dir: Path, jobs_file: Path) -> dict[str, str]:
    """The unit files in unit_dir whose marker names jobs_file (this user space's): {file name: text}."""
    return read_installed(unit_dir, jobs_file).managed


def holds_timers(unit_dir: Path, jobs_file: Path) -> bool:
    """Whether unit_dir holds timers made from jobs_file (read from disk: no manager needed)."""
    return any(name.endswith(".timer") for name in managed_unit_files(unit_dir, jobs_file))


def read_installed(unit_dir: Path, jobs_file: Path) -> InstalledUnits:
    """What planning needs of the unit directory, in one listing of it and of timers.target.wants;
    the marked units of other user spaces (another jobs.json) are set apart, never ours to change."""
    directory = str(unit_dir)  # plain strings: pathlib costs more than reading the files
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        names = []
    managed: dict[str, str] = {}
    others: dict[str, str] = {}
    ours = str(jobs_file)
    for name in names:
        if name.startswith(render.UNIT_PREFIX) and name.endswith(UNIT_SUFFIXES):
            text = managed_text(os.path.join(directory, name))
            if text is None:
                continue
            owner = render.marker_jobs_file(text)
            if owner == ours:
                managed[name] = text
            else:
                others[name] = owner
    return InstalledUnits(directory, managed, frozenset(names), enabled_units(unit_dir), others)


def enabled_units(unit_dir: Path) -> frozenset[str]:
    """The units `systemctl enable` linked into timers.target.wants or paths.target.wants (from disk)."""
    enabled: set[str] = set()
    for target in WANTS:
        folder = os.path.join(unit_dir, target)
        with contextlib.suppress(OSError):
            enabled.update(name for name in os.listdir(folder) if os.path.islink(os.path.join(folder, name)))
    return frozenset(enabled)


def managed_text(path: str | Path) -> str | None:
    """The text of a regular file (never through a symlink) that carries cronsync's marker, else None."""
    try:
        fd = open_no_follow(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            text = handle.read().decode()
    except (OSError, UnicodeDecodeError):
        return None
    return text if render.is_managed_text(text) else None


def unit_file_mode(text: str) -> int:
    """0600 for a unit that sets a job's environment, else 0644."""
    has_environment = any(line.startswith("Environment=") for line in text.splitlines())
    return PRIVATE_UNIT_FILE_MODE if has_environment else UNIT_FILE_MODE


def fix_unit_modes(unit_dir: Path, texts: dict[str, str]) -> list[str]:
    """Give each installed unit file of `texts` ({name: text}) its mode (`unit_file_mode`): a file with
    the right text but another mode (installed by an older cronsync, say) is not rewritten, so its
    mode is set here. One lstat per file; the ones changed."""
    changed = []
    for name, text in texts.items():
        path = os.path.join(unit_dir, name)
        wanted = unit_file_mode(text)
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) != wanted:
                fd = open_no_follow(path, os.O_RDONLY | os.O_NONBLOCK)
                try:
                    os.fchmod(fd, wanted)
                finally:
                    os.close(fd)
                changed.append(name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise InstallError(f"cannot set the mode of {path}: {exc.strerror or exc}") from None
    return changed


def stage_unit_files(unit_dir: Path, writes: dict[str, str]) -> dict[str, str]:
    """Every new unit file written and synced under a temp name ({name: temp path}), before any is
    renamed into place: a full or read-only file system then fails the apply with nothing changed."""
    staged: dict[str, str] = {}
    name = ""
    try:
        for index, (name, text) in enumerate(writes.items()):
            debug_pause(f"stage:{index}")
            staged[name] = stage(unit_dir / name, text, unit_file_mode(text), _pause_at(f"stage-mid:{index}"))
    except OSError as exc:
        discard_staged(staged)
        raise InstallError(
            f"cannot write {unit_dir / name}: {exc.strerror or exc}; nothing was changed"
        ) from None
    except BaseException:
        discard_staged(staged)
        raise
    return staged


def discard_staged(staged: dict[str, str]) -> None:
    for tmp in staged.values():
        remove_quietly(tmp)


def remove_stale_temp_files(unit_dir: Path) -> None:
    """Temp files of an apply that was killed while writing (the caller holds the apply lock)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(unit_dir):
            if name.startswith(f".{render.UNIT_PREFIX}") and is_stale_temp(name, UNIT_SUFFIXES):
                remove_quietly(unit_dir / name)


def check_writable(unit_dir: Path) -> None:
    """Refuse before anything changes when the unit directory cannot be written (read-only mount)."""
    if unit_dir.exists() and not os.access(unit_dir, os.W_OK):
        raise InstallError(f"cannot change {unit_dir}: it is not writable; nothing was changed")
