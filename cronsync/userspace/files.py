"""The one way cronsync writes a file, opens one that a symlink must not stand in for, and locks one.

- `atomic_write`: a temp file beside the target, fsync, rename, fsync of the folder, so a reader or a
  crash sees the old file or the new one, never half of it. `stage` is its first half, for callers that
  rename many files only once all are written (apply's unit files).
- `open_no_follow`: O_NOFOLLOW | O_CLOEXEC, so a symlink planted in a file's place is never written
  through; `open_error` says so in its message.
- `lock`: flock(2) on a lock file opened that way.
- `make_dirs`: the one way cronsync creates a folder: each missing one 0700 whatever the umask.
- `write_new`: a new file, whole, with its mode, never replacing one that exists (`cronsync init`).

Import-light: `cronsync exec` uses it on every run (no pathlib, no tempfile).
"""

from __future__ import annotations

import fcntl
import os

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Callable

    PathLike = str | os.PathLike[str]

DIR_MODE = 0o700  # every folder cronsync creates: nobody but its owner may add or swap a file in it

# What `stage` leaves when its writer is killed: `.<name>.<8 hex digits>`.
TEMP_SUFFIX_LENGTH = 8


def open_no_follow(path: PathLike, flags: int, mode: int = 0o600) -> int:
    """os.open that never follows a symlink standing where `path` should be."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def open_error(path: PathLike, exc: OSError, what: str = "") -> str:
    """`cannot open <what> <path>: <reason>`, saying so when a symlink stands there."""
    hint = " (it is a symlink; cronsync never writes through one: remove it)" if os.path.islink(path) else ""
    label = f"{what} " if what else ""
    return f"cannot open {label}{os.fspath(path)}: {exc.strerror or exc}{hint}"


def lock(path: PathLike, *, wait: bool = True, read_only: bool = False) -> int | None:
    """The fd of `path` (created 0600, never through a symlink) with an exclusive flock held; None when
    `wait` is false and another process holds it. Closing the fd (every copy of it) releases the lock.
    `read_only`: an fd that can be handed to a process that must not write the file."""
    make_dirs(os.path.dirname(os.fspath(path)))
    fd = open_no_follow(path, (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def stage(
    path: PathLike, data: bytes | str, mode: int = 0o600, midway: Callable[[], None] | None = None
) -> str:
    """`data` in a new, synced temp file beside `path`: its name. Nothing is left behind on error.
    `midway` runs with half of the data written (tests stop a writer there)."""
    folder, name = os.path.split(os.fspath(path))
    make_dirs(folder)
    content = data.encode() if isinstance(data, str) else data
    while True:
        tmp = os.path.join(folder, f".{name}.{os.urandom(TEMP_SUFFIX_LENGTH // 2).hex()}")
        try:
            fd = open_no_follow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            continue
    try:
        os.fchmod(fd, mode)  # whatever the umask
        half = len(content) // 2
        write_all(fd, content[:half])
        if midway is not None:
            midway()
        write_all(fd, content[half:])
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        remove_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def atomic_write(path: PathLike, data: bytes | str, mode: int = 0o600) -> None:
    """Replace `path` with `data` whole: temp file, fsync, rename, fsync of the folder."""
    tmp = stage(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_dir(os.path.dirname(os.fspath(path)))


def write_new(path: PathLike, data: bytes | str, mode: int = 0o600) -> bool:
    """Create `path` whole with `data` and `mode` (staged, then hard-linked into place, so an existing
    file is never replaced); False when something already stands there."""
    tmp = stage(path, data, mode)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        remove_quietly(tmp)
    fsync_dir(os.path.dirname(os.fspath(path)))
    return True


def make_dirs(folder: PathLike, mode: int = DIR_MODE) -> list[str]:
    """Create `folder` and each missing parent with `mode` exactly, whatever the umask (os.makedirs
    gives parents 0777 less the umask); folders that exist are left as they are. The ones created,
    outermost first. FileExistsError when something not a folder stands there."""
    path = os.fspath(folder)
    if not path:
        return []  # the current folder
    path = path.rstrip("/") or "/"
    try:
        os.mkdir(path, mode)  # the umask can only take bits away, never add one
    except FileExistsError:
        if not os.path.isdir(path):
            raise
        return []
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if parent == path:
            raise
        created = make_dirs(parent, mode)
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
            return created
        return [*created, _set_mode(path, mode)]
    return [_set_mode(path, mode)]


def _set_mode(folder: str, mode: int) -> str:
    """chmod a folder just created, through a descriptor: a symlink swapped in is not followed."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return folder


def fsync_dir(folder: PathLike) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_stale_temp(name: str, suffixes: tuple[str, ...]) -> bool:
    """Whether `name` is a temp file `stage` left beside a file ending in one of `suffixes`."""
    stem, dot, tail = name.rpartition(".")
    if not (name.startswith(".") and dot and len(tail) == TEMP_SUFFIX_LENGTH):
        return False
    return all(c.isascii() and (c.isalnum() or c == "_") for c in tail) and stem.endswith(suffixes)


def remove_quietly(path: PathLike) -> None:
    try:  # noqa: SIM105 - contextlib costs exec an import
        os.unlink(path)
    except OSError:
        pass


def write_all(fd: int, data: bytes) -> None:
    """All of `data`, however many writes it takes; OSError (e.g. ENOSPC) if the rest cannot go."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def overwrite(fd: int, data: bytes) -> None:
    """Replace the whole content of the open file `fd` with `data` (a small note kept in a lock file)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
