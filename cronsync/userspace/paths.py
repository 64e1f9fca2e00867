"""Where a user space lives and what is inside it.

Import-light: `cronsync exec` uses it on every run, so importing this module does not import pathlib
(pathlib pulls in urllib.parse, ipaddress and fnmatch: milliseconds per run). The layout is written
once, as paths relative to the root (the constants below); `UserSpace` offers each file both as a
`Path` (properties, for the CLI) and as a plain string (`UserSpace.path`, for exec's hot path).
"""

from __future__ import annotations

import os
import time

from cronsync import CronsyncError

TYPE_CHECKING = False  # typing/pathlib cost milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    Signature = dict[str, Any]  # {"jobs": stat | None, "settings": stat | None, "checked_ns": int}

USER_DIR_ENV = "CRONSYNC_USER_DIR"
RUN_REQUEST_SECONDS = 60.0  # `cronsync run` starts the job right after asking: an older request is stale

# The layout of a user space, relative to its root.
CONFIG_DIR = "config"
JOBS_FILE = "config/jobs.json"
SETTINGS_FILE = "config/settings.json"
SECRETS_FILE = "config/secrets.env"
SCRIPTS_DIR = "scripts"
LOGS_DIR = "logs"
LOG_FILE = "logs/scheduler.log"
EVENTS_FILE = "logs/events.jsonl"
ERRORS_FILE = "logs/errors.log"
STATE_DIR = "state"
COMPILED_FILE = "state/compiled.json"
APPLY_LOCK_FILE = "state/apply.lock"
WATCHER_STATE_FILE = "state/watcher-applied"
APPLY_MANIFEST_FILE = "state/apply-manifest.json"
INSTALLED_FILE = "state/installed.json"
WATCH_STATE_FILE = "state/watch.json"


def lock_name(job_id: str) -> str:
    return f"state/locks/{job_id}.lock"


def processes_lock_name(job_id: str) -> str:
    """Held through a descriptor the job's processes inherit: while any of them lives (cronsync exec)."""
    return f"state/locks/{job_id}.processes.lock"


def group_slot_name(group: str, slot: int) -> str:
    """One of the places of a group of jobs (settings.json "groups"): held while a run of it lives."""
    return f"state/locks/groups/{group}.{slot}.lock"


def job_is_running(space: UserSpace, job_id: str) -> bool:
    """Whether a run of the job (or a process left of one) holds its locks. Takes each that exists for a
    moment: a run starting in that moment tries again (exec/overlap.PROBE_SECONDS). Creates nothing."""
    from cronsync.userspace.files import lock

    for name in (lock_name(job_id), processes_lock_name(job_id)):
        if not os.path.exists(space.path(name)):
            continue  # never run (or its state was removed): nothing holds it
        try:
            fd = lock(space.path(name), wait=False, read_only=True)
        except OSError:
            continue
        if fd is None:
            return True
        os.close(fd)
    return False


def run_request_name(job_id: str) -> str:
    return f"state/run-requests/{job_id}"


def _read_request(path: str) -> str | None:
    """A run request's trigger ("" for a manual run); None when it is no regular file to read."""
    from cronsync.userspace.files import open_no_follow

    try:
        fd = open_no_follow(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return os.read(fd, 200).decode("ascii", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def config_home() -> str:
    """`$XDG_CONFIG_HOME`, else `~/.config`."""
    return os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")


def default_user_dir() -> Path:
    """`$XDG_CONFIG_HOME/cronsync`, i.e. `~/.config/cronsync` by default."""
    from pathlib import Path

    return Path(_default_user_dir())


def _default_user_dir() -> str:
    return os.path.join(config_home(), "cronsync")


def user_dir_path(option: str | os.PathLike[str] | None) -> str:
    """`--user-dir DIR` > `$CRONSYNC_USER_DIR` > the default; always absolute (a string)."""
    chosen = option or os.environ.get(USER_DIR_ENV) or _default_user_dir()
    return os.path.abspath(os.path.expanduser(os.fspath(chosen)))


def resolve_user_dir(option: str | os.PathLike[str] | None) -> Path:
    """`--user-dir DIR` > `$CRONSYNC_USER_DIR` > the default; always absolute."""
    from pathlib import Path

    return Path(user_dir_path(option))


class UserSpace:
    """A user space: USER/{config,scripts,logs,state} under `root`. Immutable, compared by root.

    A plain class, not a dataclass: `cronsync exec` imports this and must not pay for `dataclasses`.
    """

    __slots__ = ("_root",)
    _root: str

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "_root", os.fspath(root))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"UserSpace is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UserSpace) and other._root == self._root

    def __hash__(self) -> int:
        return hash(self._root)

    def __repr__(self) -> str:
        return f"UserSpace(root={self._root!r})"

    def __reduce__(self) -> tuple[type[UserSpace], tuple[str]]:
        return (UserSpace, (self._root,))  # copy and pickle through __init__, not __setattr__

    def path(self, relative: str) -> str:
        """A file of the layout (e.g. `path(LOG_FILE)`) as a string, without importing pathlib."""
        return os.path.join(self._root, relative)

    @property
    def root_str(self) -> str:
        return self._root

    @property
    def root(self) -> Path:
        from pathlib import Path

        return Path(self._root)

    @property
    def config_dir(self) -> Path:
        return self.root / CONFIG_DIR

    @property
    def jobs_file(self) -> Path:
        return self.root / JOBS_FILE

    @property
    def settings_file(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def secrets_file(self) -> Path:
        return self.root / SECRETS_FILE

    @property
    def scripts_dir(self) -> Path:
        return self.root / SCRIPTS_DIR

    @property
    def logs_dir(self) -> Path:
        return self.root / LOGS_DIR

    @property
    def log_file(self) -> Path:
        return self.root / LOG_FILE

    @property
    def events_file(self) -> Path:
        return self.root / EVENTS_FILE

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def compiled_file(self) -> Path:
        """Validated, normalized jobs and settings, keyed by the hash of the files they came from."""
        return self.root / COMPILED_FILE

    def lock_file(self, job_id: str) -> Path:
        """Held (flock) by `cronsync exec` while the job runs: the overlap guard."""
        return self.root / lock_name(job_id)

    def run_request_file(self, job_id: str) -> Path:
        """Created by `cronsync run` just before it starts the job's unit; `cronsync exec` consumes it
        and records the run's trigger as `manual` instead of `timer`."""
        return self.root / run_request_name(job_id)

    def request_manual_run(self, job_id: str, trigger: str = "manual") -> None:
        """Mark the next `cronsync exec` of this job as started by hand, or by `trigger` (a chained run
        exec starts through the manager; see run_request_file); never through a planted symlink: the new
        file replaces whatever stands there."""
        from cronsync.userspace.files import atomic_write, remove_quietly

        path = self.path(run_request_name(job_id))
        remove_quietly(path)
        atomic_write(path, b"" if trigger == "manual" else trigger.encode())

    def consume_run_request(self, job_id: str) -> str | None:
        """The trigger asked for (and the request removed) when a request was made just now: "manual"
        from `cronsync run`, or a chained run's. An older one was left by a start that did not happen; it
        is removed, and this run is not taken for the one asked for."""
        path = self.path(run_request_name(job_id))
        try:
            made = os.lstat(path).st_mtime
        except OSError:
            return None
        asked = _read_request(path)
        try:
            os.unlink(path)
        except OSError:  # another exec took it first: the request was for that run
            asked = None
        if asked is None or time.time() - made >= RUN_REQUEST_SECONDS:
            return None
        return asked or "manual"

    def script_path(self, path: str) -> str:
        """The script's real path (a string), which must be an existing file inside USER/scripts after
        symlinks are resolved. Raises ValueError naming the path and what would be right."""
        scripts = os.path.realpath(self.path(SCRIPTS_DIR))
        real = os.path.realpath(path if os.path.isabs(path) else self.path(path))
        if os.path.commonpath([real, scripts]) != scripts:
            raise ValueError(
                f"{path!r} resolves to {real}, outside {scripts}; scripts must live in USER/scripts"
            )
        if not os.path.isfile(real):
            what = "is a folder, not a script" if os.path.isdir(real) else "does not exist"
            raise ValueError(f"{path!r} {what} (looked for {real}); put the script in {scripts}")
        check_trusted(self._root, path if os.path.isabs(path) else self.path(path), real)
        return real

    @property
    def watcher_state_file(self) -> Path:
        """The digest of the jobs.json + settings.json bytes and errors the watcher last reported."""
        return self.root / WATCHER_STATE_FILE

    @property
    def apply_manifest_file(self) -> Path:
        """What the last successful systemd apply installed, from which inputs (userspace.manifest)."""
        return self.root / APPLY_MANIFEST_FILE

    @property
    def installed_file(self) -> Path:
        """When each job's schedule was installed as it is now (userspace.installed): where health
        starts counting its instants."""
        return self.root / INSTALLED_FILE

    @property
    def watch_state_file(self) -> Path:
        """What `cronsync watch` last reported per job, and when it last ran (userspace.watchstate)."""
        return self.root / WATCH_STATE_FILE

    @property
    def apply_lock_file(self) -> Path:
        """flock(2)ed by `cronsync apply` so that two applies (or the watcher's) never interleave."""
        return self.root / APPLY_LOCK_FILE


def cli_for(space: UserSpace) -> str:
    """`cronsync`, with the `--user-dir` that reaches this user space when it is not the default: what a
    hint tells the user to type."""
    if space.root_str == user_dir_path(None):
        return "cronsync"
    import shlex

    return f"cronsync --user-dir {shlex.quote(space.root_str)}"


class UntrustedScript(CronsyncError, ValueError):
    """A script that another account could change: it, or a folder from the user dir down to it, is
    writable by group or others or owned by another account (root aside). `fixes`: the commands."""

    def __init__(self, script: str, reasons: list[str], fixes: list[str]) -> None:
        self.fixes = fixes
        super().__init__(
            f"{script}: another account could change what this job runs, so cronsync refuses it: "
            + "; ".join(reasons)
            + "; fix: "
            + "; ".join(f"`{fix}`" for fix in fixes)
        )


def check_trusted(root: str, script: str, real: str) -> None:
    """The rule sshd's StrictModes applies to authorized_keys, for a script: it and every folder from
    the user dir down to it, both as named (`script`) and resolved (`real`), must be owned by us or by
    root and not writable by group or others. Folders above the user dir are not ours to judge (a
    user dir under /tmp is fine). Raises UntrustedScript with what to run. One lstat per path."""
    me = os.geteuid()
    reasons: list[str] = []
    fixes: list[str] = []
    for path in _trust_chain(root, script, real):
        try:
            st = os.lstat(path)
        except OSError:
            continue  # script_path has found it; a folder gone since is no file another account put there
        if st.st_mode & 0o170000 == 0o120000:
            continue  # a symlink's own mode means nothing; the folder holding it is checked
        if st.st_uid not in (me, 0):
            reasons.append(f"{path} is owned by {_user_name(st.st_uid)}, not by you")
            fixes.append(f"chown {_user_name(me)} {_quoted(path)}")
        if st.st_mode & 0o022:
            reasons.append(f"{path} is writable by group or others (mode {st.st_mode & 0o7777:o})")
            fixes.append(f"chmod go-w {_quoted(path)}")
    if reasons:
        raise UntrustedScript(real, reasons, fixes)


def _trust_chain(root: str, script: str, real: str) -> list[str]:
    """Every path from the user dir down to the script, as named and as resolved, each once."""
    chain: list[str] = []
    real_root = os.path.realpath(root)
    for top, path in ((root, os.path.normpath(script)), (real_root, real)):
        if _inside(path, top):
            chain += [top, *_below(top, path)]
    if not _inside(real, real_root):  # USER/scripts is a symlink out of the user dir
        scripts = os.path.realpath(os.path.join(root, SCRIPTS_DIR))
        chain += [real_root, scripts, *_below(scripts, real)]
    return list(dict.fromkeys(chain))


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _below(top: str, path: str) -> list[str]:
    """The folders and the file under `top` on the way down to `path`."""
    found, at = [], top
    for part in path[len(top) :].split("/"):
        if part:
            at = os.path.join(at, part)
            found.append(at)
    return found


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _quoted(path: str) -> str:
    import shlex

    return shlex.quote(path)


def systemd_user_unit_dir() -> Path:
    """Where user units live: `$XDG_CONFIG_HOME/systemd/user`."""
    from pathlib import Path

    return Path(config_home()) / "systemd" / "user"


# --- reading jobs.json and settings.json: the one reader of the two files every command reads ---


class SourcesError(CronsyncError):
    """jobs.json or settings.json exists but cannot be read."""


def read_sources_bytes(space: UserSpace) -> tuple[bytes | None, bytes | None]:
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
    """As read_sources_bytes, with the stat signature of the bytes read: each file is fstat'ed through the
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


def host_name(configured: str | None) -> str:
    """This machine's name in a fleet: settings.json fleet.host when given, else its hostname."""
    return configured or os.uname().nodename
