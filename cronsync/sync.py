"""The sync engine: what is installed vs what jobs.json wants (the plan), and carrying the plan out.

systemd backend: one `cronsync-<id>.service` + `.timer` per job and the `cronsync-sync.path` watcher
in the user unit directory. crontab backend: one tagged entry per job in a marked block of the
user's crontab. Only files that carry cronsync's marker line and only entries in its block are ever
changed or deleted.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from cronsync.adapters import systemd
from cronsync.core import render
from cronsync.core.errors import InvalidInput, Problem
from cronsync.core.schedule import parse
from cronsync.paths import UserSpace, systemd_user_unit_dir
from cronsync.resources import resource_dir

TYPE_CHECKING = False  # the pydantic schema is imported only when jobs.json must be validated
if TYPE_CHECKING:
    from cronsync.config import AnyJob, Config

Action = Literal["create", "update", "delete", "unchanged"]
Backend = Literal["systemd", "crontab"]
WATCHER_ID = "sync"
UNIT_SUFFIXES = (".service", ".timer", ".path")


@dataclass
class JobPlan:
    """What happens to one job's units or entry."""

    job_id: str
    name: str | None
    action: Action
    enabled: bool | None
    changes: list[str] = field(default_factory=list)
    diff: str = ""
    is_reboot: bool = False

    def to_json(self, with_diff: bool) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.job_id,
            "name": self.name,
            "action": self.action,
            "enabled": self.enabled,
            "changes": self.changes,
        }
        if with_diff:
            data["diff"] = self.diff
        return data


@dataclass
class Plan:
    backend: Backend
    jobs: list[JobPlan]
    # systemd: unit files to write and delete (file names in the unit dir)
    writes: dict[str, str] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    # systemd: every unit file the plan wants installed, {file name: text}
    unit_texts: dict[str, str] = field(default_factory=dict)
    # crontab: the whole new crontab text (None: remove the crontab), and the current one
    crontab_new: str | None = None
    crontab_old: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(job.action != "unchanged" for job in self.jobs)

    def to_json(self, with_diff: bool) -> dict[str, object]:
        return {
            "ok": True,
            "backend": self.backend,
            "changed": self.changed,
            "jobs": [job.to_json(with_diff) for job in self.jobs],
            "warnings": self.warnings,
        }


def launcher_argv() -> tuple[str, ...]:
    """How units and crontab entries start cronsync: this interpreter on cronsync's `__main__.py`.

    `-I` (isolated mode) keeps a job's PYTHONHOME or PYTHONPATH, which the service's Environment=
    also hands to cronsync's own interpreter, from breaking or hijacking `cronsync exec` itself.
    `-S` skips `site` on every run; `__main__.py` loads it when an import needs site-packages.
    """
    package_dir = os.path.dirname(os.path.abspath(__file__))
    return (os.path.abspath(sys.executable), "-I", "-S", os.path.join(package_dir, "__main__.py"))


def installation_target(space: UserSpace) -> render.Target:
    """The installed cronsync and the user space, as absolute paths."""
    systemd_run = shutil.which("systemd-run") or "/usr/bin/systemd-run"
    return render.Target(launcher_argv(), space.root, space.jobs_file, os.path.abspath(systemd_run))


def template_dir() -> Path:
    return resource_dir("templates")


# --- the lock ------------------------------------------------------------------------------------


@contextlib.contextmanager
def apply_lock(space: UserSpace) -> Iterator[None]:
    """Serialize applies (and the watcher's) with flock(2) on USER/state/apply.lock."""
    space.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(space.apply_lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        hint = (
            "; it is a symlink, and cronsync never writes through one: remove it"
            if exc.errno == errno.ELOOP
            else ""
        )
        raise InvalidInput(
            [Problem(str(space.apply_lock_file), f"cannot open the apply lock: {exc.strerror}{hint}")]
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class InstallError(RuntimeError):
    """A unit file could not be written or removed (read-only or full file system, ...)."""


# Test hook: `CRONSYNC_DEBUG_PAUSE_AT=<point>` stops apply at that point (see debug_pause) so that
# tests can SIGKILL it exactly there.
DEBUG_PAUSE_ENV = "CRONSYNC_DEBUG_PAUSE_AT"
# What atomic_write's mkstemp leaves when the writer is killed: `.<unit name>.<8 random characters>`.
_TEMP_FILE = re.compile(r"^\.cronsync-.+\.(service|timer|path)\.[A-Za-z0-9_]{8}$")


def debug_pause(point: str) -> None:
    """If asked through $CRONSYNC_DEBUG_PAUSE_AT, say where we are on stderr and wait to be killed."""
    if os.environ.get(DEBUG_PAUSE_ENV) == point:
        sys.stderr.write(f"cronsync: paused at {point}\n")
        sys.stderr.flush()
        while True:
            signal.pause()


def _stage(path: Path, text: str, mode: int, pause_point: str = "") -> str:
    """The text in a synced temp file beside path (its name); nothing is left behind on error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600; unit files are world-readable
        with os.fdopen(fd, "w") as handle:
            half = len(text) // 2
            handle.write(text[:half])
            handle.flush()
            if pause_point:
                debug_pause(pause_point)
            handle.write(text[half:])
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Temp file in the same directory, fsync, rename: a killed apply leaves the old file or the new."""
    tmp = _stage(path, text, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def stage_unit_files(unit_dir: Path, writes: dict[str, str]) -> dict[str, str]:
    """Every new unit file written and synced under a temp name ({name: temp path}), before any is
    renamed into place: a full or read-only file system then fails the apply with nothing changed."""
    staged: dict[str, str] = {}
    try:
        for index, (name, text) in enumerate(writes.items()):
            debug_pause(f"stage:{index}")
            staged[name] = _stage(unit_dir / name, text, 0o644, f"stage-mid:{index}")
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
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def remove_stale_temp_files(unit_dir: Path) -> None:
    """Temp files of an apply that was killed while writing (the caller holds the apply lock)."""
    if not unit_dir.is_dir():
        return
    for path in unit_dir.iterdir():
        if _TEMP_FILE.match(path.name):
            with contextlib.suppress(OSError):
                path.unlink()


def check_writable(unit_dir: Path) -> None:
    """Refuse before anything changes when the unit directory cannot be written (read-only mount)."""
    if unit_dir.exists() and not os.access(unit_dir, os.W_OK):
        raise InstallError(f"cannot change {unit_dir}: it is not writable; nothing was changed")


# --- planning ------------------------------------------------------------------------------------


def _check_ids(config: Config) -> list[Problem]:
    return [
        Problem(
            str(config.space.jobs_file),
            f"its id {WATCHER_ID!r} is reserved for cronsync's own watcher units; rename the job",
            job_index=index,
            job_name=job.name,
            field="name",
        )
        for index, job in enumerate(config.jobs)
        if job.id == WATCHER_ID
    ]


def _diff(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name
    )
    return "".join(lines)


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
        elif "=" in stripped and not stripped.startswith(("#", ";")):
            key, value = stripped.split("=", 1)
            found.setdefault(f"{section}.{key}", []).append(value)
    return found


def _changed_directives(name: str, old: str, new: str) -> list[str]:
    before, after = _directives(old), _directives(new)
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if not keys and old != new:
        return [f"{name}: comments"]
    return [f"{name}: {key.split('.', 1)[1]}" for key in keys]


def managed_unit_files(unit_dir: Path) -> dict[str, str]:
    """Every unit file in unit_dir that carries cronsync's marker: {file name: text}."""
    try:
        names = sorted(os.listdir(unit_dir))  # plain strings: pathlib costs more than reading the files
    except OSError:
        return {}
    found: dict[str, str] = {}
    for name in names:
        if name.startswith(render.UNIT_PREFIX) and name.endswith(UNIT_SUFFIXES):
            text = _managed_text(os.path.join(unit_dir, name))
            if text is not None:
                found[name] = text
    return found


def _managed_text(path: str | Path) -> str | None:
    """The text of a regular file (never through a symlink) that carries cronsync's marker, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
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


def unit_job_id(file_name: str) -> str:
    stem = file_name.removeprefix(render.UNIT_PREFIX)
    return stem.rsplit(".", 1)[0]


def timer_enabled(unit_dir: Path, job_id: str) -> bool:
    return (unit_dir / "timers.target.wants" / render.timer_name(job_id)).is_symlink()


class Scheduled(NamedTuple):
    """What planning and checking a job's timer need besides its unit files."""

    name: str
    enabled: bool
    is_reboot: bool


WATCHER = Scheduled("auto-sync watcher", True, False)


def plan_systemd(config: Config, target: render.Target, unit_dir: Path) -> Plan:
    problems = _check_ids(config) + render.check_target(target)
    if problems:
        raise InvalidInput(problems)
    templates = template_dir()
    installed = managed_unit_files(unit_dir)
    wanted: dict[str, tuple[Scheduled, dict[str, str]]] = {}
    try:
        for job in config.jobs:
            scheduled = Scheduled(job.name, job.enabled, parse(job.cron).is_reboot)
            wanted[job.id] = (scheduled, render.job_units(job, target, templates))
        wanted[WATCHER_ID] = (WATCHER, render.sync_units(target, templates))
    except render.RenderError as exc:
        raise InvalidInput([Problem(str(config.space.jobs_file), str(exc))]) from None
    return plan_units(wanted, installed, unit_dir)


def plan_units(
    wanted: dict[str, tuple[Scheduled, dict[str, str]]], installed: dict[str, str], unit_dir: Path
) -> Plan:
    """The plan that leaves exactly the wanted unit files ({job id: (job, {file name: text})}) where
    the managed files `installed` are now; InvalidInput when one would replace a file not cronsync's."""
    conflicts = [
        Problem(
            str(unit_dir / name),
            "exists but is not managed by cronsync (no marker line); move it away or rename the job",
        )
        for _, files in wanted.values()
        for name in files
        if name not in installed and (unit_dir / name).exists()
    ]
    if conflicts:
        raise InvalidInput(conflicts)

    plan = Plan("systemd", [])
    for job_id, (scheduled, files) in wanted.items():
        plan.unit_texts.update(files)
        plan.jobs.append(_plan_job_units(job_id, scheduled, files, installed, unit_dir, plan))
    installed_ids = {unit_job_id(name) for name in installed}
    for job_id in sorted(installed_ids - set(wanted)):
        names = sorted(name for name in installed if unit_job_id(name) == job_id)
        plan.deletes.extend(names)
        diff = "".join(_diff(installed[name], "", str(unit_dir / name), "/dev/null") for name in names)
        plan.jobs.append(JobPlan(job_id, None, "delete", None, [f"remove {name}" for name in names], diff))
    return plan


def _plan_job_units(
    job_id: str,
    scheduled: Scheduled,
    files: dict[str, str],
    installed: dict[str, str],
    unit_dir: Path,
    plan: Plan,
) -> JobPlan:
    name, enabled, is_reboot = scheduled
    changes: list[str] = []
    diffs = []
    for file_name, text in files.items():
        old = installed.get(file_name)
        if old == text:
            continue
        plan.writes[file_name] = text
        diffs.append(_diff(old or "", text, str(unit_dir / file_name) if old else "/dev/null", file_name))
        if old is not None:
            changes.extend(_changed_directives(file_name, old, text))
    if any(name not in installed for name in files):
        return JobPlan(job_id, name, "create", enabled, [], "".join(diffs), is_reboot)
    if job_id != WATCHER_ID and timer_enabled(unit_dir, job_id) != enabled:
        changes.append(f"enabled: {str(not enabled).lower()} -> {str(enabled).lower()}")
    action: Action = "update" if changes else "unchanged"
    return JobPlan(job_id, name, action, enabled, changes, "".join(diffs), is_reboot)


def same_zone(a: str, b: str) -> bool:
    """Two zone names that are the same zone (`UTC` and `Etc/UTC`, say)."""
    if a == b:
        return True
    base = Path("/usr/share/zoneinfo")
    try:
        return (base / a).read_bytes() == (base / b).read_bytes()
    except OSError:
        return False


def plan_crontab(config: Config, target: render.Target, current: str | None, local_zone: str | None) -> Plan:
    from cronsync.adapters import crontab

    problems = _check_ids(config) + render.check_target(target)
    for index, job in enumerate(config.jobs):
        if job.timezone and not (local_zone and same_zone(job.timezone, local_zone)):
            problems.append(
                Problem(
                    str(config.space.jobs_file),
                    f"the crontab backend cannot run a job in {job.timezone!r}: Debian's cron has no "
                    f"CRON_TZ and runs every entry in the machine's zone ({local_zone or 'unknown'}); "
                    "remove 'timezone' or use the systemd backend",
                    index,
                    job.name,
                    "timezone",
                )
            )
    try:
        entries = render.crontab_entries(config.jobs, target, template_dir())
    except render.RenderError as exc:
        problems.append(Problem(str(config.space.jobs_file), str(exc)))
        entries = []
    if problems:
        raise InvalidInput(problems)

    cut = crontab.split(current or "")
    installed_lines = {_tag_of(line): line for line in cut.managed_lines}
    plan = Plan("crontab", [], crontab_old=current)
    for job, entry in zip(config.jobs, entries, strict=True):
        old = installed_lines.get(job.id)
        if old is None:
            plan.jobs.append(
                JobPlan(
                    job.id, job.name, "create", job.enabled, [], _diff("", entry.line + "\n", "", "crontab")
                )
            )
        elif old != entry.line:
            changes = _entry_changes(old, entry.line)
            plan.jobs.append(
                JobPlan(
                    job.id,
                    job.name,
                    "update",
                    job.enabled,
                    changes,
                    _diff(old + "\n", entry.line + "\n", "", ""),
                )
            )
        else:
            plan.jobs.append(JobPlan(job.id, job.name, "unchanged", job.enabled))
    wanted_ids = {job.id for job in config.jobs}
    for job_id, line in installed_lines.items():
        if job_id not in wanted_ids:
            plan.jobs.append(
                JobPlan(job_id, None, "delete", None, ["remove entry"], _diff(line + "\n", "", "", ""))
            )
    new_text = crontab.compose(cut, entries, config.space.jobs_file)
    plan.crontab_new = None if (current is None and not new_text) else new_text
    if current is not None and not new_text and not cut.user_text():
        plan.crontab_new = None  # cronsync made the crontab; leave none behind
    return plan


def _tag_of(line: str) -> str:
    return line.rsplit(f"# {render.CRONTAB_TAG_PREFIX}", 1)[1].strip()


def _entry_changes(old: str, new: str) -> list[str]:
    changes = []
    if old.startswith("#") != new.startswith("#"):
        changes.append(
            f"enabled: {str(not old.startswith('#')).lower()} -> {str(not new.startswith('#')).lower()}"
        )
    old_fields, new_fields = old.lstrip("#").split(), new.lstrip("#").split()
    if old_fields[:5] != new_fields[:5]:
        changes.append("schedule")
    if old_fields[5:] != new_fields[5:]:
        changes.append("command")
    return changes or ["entry text"]


# --- applying ------------------------------------------------------------------------------------


@dataclass
class JobReport:
    """The outcome of apply for one job."""

    job_id: str
    name: str | None
    action: Action
    ok: bool
    detail: str = ""
    next_elapse_usec: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.job_id,
            "name": self.name,
            "action": self.action,
            "ok": self.ok,
            "detail": self.detail,
            "next_run": _iso(self.next_elapse_usec),
        }


@dataclass
class ApplyReport:
    backend: Backend
    jobs: list[JobReport]
    files_written: list[str] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)
    reloaded: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(job.ok for job in self.jobs)

    @property
    def changed(self) -> bool:
        return bool(self.files_written or self.files_deleted or self.reloaded) or any(
            job.action != "unchanged" for job in self.jobs
        )

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "backend": self.backend,
            "changed": self.changed,
            "reloaded": self.reloaded,
            "files_written": self.files_written,
            "files_deleted": self.files_deleted,
            "jobs": [job.to_json() for job in self.jobs],
            "warnings": self.warnings,
        }


def _iso(usec: int) -> str | None:
    from datetime import UTC, datetime

    if usec <= 0:
        return None
    return datetime.fromtimestamp(usec / 1_000_000, UTC).isoformat(timespec="seconds")


def apply_systemd(plan: Plan, manager: systemd.Manager, unit_dir: Path) -> ApplyReport:
    report = ApplyReport("systemd", [])
    remove_stale_temp_files(unit_dir)
    if plan.writes or plan.deletes:
        check_writable(unit_dir)
    staged = stage_unit_files(unit_dir, plan.writes)
    try:
        _delete_units(plan.deletes, manager, unit_dir, report)
        for index, (name, tmp) in enumerate(staged.items()):
            debug_pause(f"rename:{index}")
            os.replace(tmp, unit_dir / name)
            report.files_written.append(name)
    except OSError as exc:
        raise InstallError(f"cannot change {unit_dir}: {exc}") from None
    finally:
        discard_staged({n: t for n, t in staged.items() if n not in report.files_written})
    if staged:
        _fsync_dir(unit_dir)

    to_enable, to_disable = [], []
    for job in plan.jobs:
        if job.action == "delete":
            continue
        unit = render.SYNC_PATH_UNIT if job.job_id == WATCHER_ID else render.timer_name(job.job_id)
        linked = (
            unit_dir / ("paths.target.wants" if job.job_id == WATCHER_ID else "timers.target.wants") / unit
        )
        if job.enabled and not linked.is_symlink():
            to_enable.append(unit)
        elif not job.enabled and linked.is_symlink():
            to_disable.append(unit)
    debug_pause("enable")
    manager.enable(to_enable)
    manager.disable(to_disable)

    changed = report.files_written or report.files_deleted or to_enable or to_disable
    if changed or _changed_since_load(plan, unit_dir, manager.units_loaded_usec()):
        debug_pause("reload")
        manager.reload()
        report.reloaded = True
    states = manager.states(_plan_units(plan))
    _start_and_verify(plan, manager, states, report)
    return report


def _delete_units(deletes: list[str], manager: systemd.Manager, unit_dir: Path, report: ApplyReport) -> None:
    """Removed jobs: stop while their files still exist, forget failures, unlink from timers.target."""
    for unit in sorted(deletes, key=lambda name: not name.endswith((".timer", ".path"))):
        manager.stop(unit)
        manager.reset_failed(unit)
    manager.disable([u for u in deletes if u.endswith((".timer", ".path"))])
    for index, unit in enumerate(deletes):
        debug_pause(f"unlink:{index}")
        with contextlib.suppress(FileNotFoundError):
            (unit_dir / unit).unlink()
        report.files_deleted.append(unit)


def _plan_units(plan: Plan) -> list[str]:
    """The units that schedule: each job's timer and the watcher's path unit."""
    return [
        render.SYNC_PATH_UNIT if job.job_id == WATCHER_ID else render.timer_name(job.job_id)
        for job in plan.jobs
        if job.action != "delete"
    ]


def _changed_since_load(plan: Plan, unit_dir: Path, loaded_usec: int) -> bool:
    """Whether a unit file or .wants link of the plan changed since the manager last loaded its units:
    what an apply killed before its daemon-reload leaves. One stat per file, where asking the manager
    for each unit's NeedDaemonReload costs a D-Bus round trip per unit."""
    paths = []
    directory = str(unit_dir)  # plain strings: 3,000 pathlib joins cost more than the stats
    for unit in _plan_units(plan):
        wants = "paths.target.wants" if unit == render.SYNC_PATH_UNIT else "timers.target.wants"
        service = (
            render.SYNC_SERVICE_UNIT if unit == render.SYNC_PATH_UNIT else unit[: -len("timer")] + "service"
        )
        paths += [f"{directory}/{unit}", f"{directory}/{service}", f"{directory}/{wants}/{unit}"]
    for path in paths:
        try:
            if os.lstat(path).st_mtime_ns // 1000 >= loaded_usec:
                return True
        except FileNotFoundError:
            continue
    return False


def _start_and_verify(
    plan: Plan, manager: systemd.Manager, states: dict[str, systemd.UnitState], report: ApplyReport
) -> None:
    acted: list[str] = []
    for index, job in enumerate(plan.jobs):
        if job.action == "delete":
            continue
        debug_pause(f"start:{index}")
        unit = render.SYNC_PATH_UNIT if job.job_id == WATCHER_ID else render.timer_name(job.job_id)
        active = states[unit].active_state in ("active", "activating")
        if not job.enabled:
            if active:
                manager.stop(unit)
                acted.append(unit)
        elif not active:
            manager.start(unit)
            acted.append(unit)
        elif job.action == "update":
            manager.restart(unit)
            acted.append(unit)

    wanted = {
        (render.SYNC_PATH_UNIT if job.job_id == WATCHER_ID else render.timer_name(job.job_id)): job
        for job in plan.jobs
        if job.action != "delete"
    }

    def ready(state: systemd.UnitState) -> bool:
        job = wanted[state.name]
        if not job.enabled:
            return state.active_state == "inactive"
        if state.name == render.SYNC_PATH_UNIT or job.is_reboot:
            return state.loaded and state.active_state == "active"
        return state.loaded and state.active_state == "active" and state.next_elapse_usec > 0

    # states were read after the reload: only the units acted on (or not ready yet) are read again
    final = {unit: states[unit] for unit in wanted}
    again = [unit for unit in wanted if unit in acted or not ready(final[unit])]
    if again and (acted or report.reloaded):
        final.update(systemd.wait_for(manager, again, ready))
    for unit, job in wanted.items():
        state = final[unit]
        ok = ready(state)
        if not ok:
            detail = f"{unit} is {state.load_state}/{state.active_state}"
            if job.enabled:
                detail += " with no next elapse" if state.active_state == "active" else ""
            detail += f"; see: systemctl --user status {unit}"
        elif not job.enabled:
            detail = "disabled: timer stopped"
        else:
            detail = "ok"
        report.jobs.append(JobReport(job.job_id, job.name, job.action, ok, detail, state.next_elapse_usec))
    for job in plan.jobs:
        if job.action == "delete":
            report.jobs.append(JobReport(job.job_id, None, "delete", True, "removed"))


def apply_crontab(plan: Plan) -> ApplyReport:
    from cronsync.adapters import crontab

    report = ApplyReport("crontab", [])
    if plan.crontab_new != plan.crontab_old and not (plan.crontab_new == "" and plan.crontab_old is None):
        if plan.crontab_new is None:
            crontab.remove()
        else:
            crontab.write(plan.crontab_new)
        report.files_written.append("crontab")
    for job in plan.jobs:
        detail = (
            "removed"
            if job.action == "delete"
            else ("disabled: entry commented out" if not job.enabled else "ok")
        )
        report.jobs.append(JobReport(job.job_id, job.name, job.action, True, detail))
    return report


# --- the manifest: validate and render only the jobs that changed -------------------------------
#
# A successful systemd apply records in USER/state/apply-manifest.json a key of every input that is
# not a job ("base": settings.json, the user dir, the templates, the code that validates and
# renders, the target argv, the unit dir, cronsync's version), the key of the compiled.json it left,
# and per job a digest of its JSON object with what planning needs of it, and the sha256 of every
# unit file it installed. The next apply with the same base validates and renders only the jobs
# whose object it has no record of; every other job keeps its installed unit files, when they still
# have the recorded sha256, and its compiled.json entry. What spans jobs is checked over all of them
# again (distinct names and ids, every script in place). On any problem, or anything the manifest
# cannot vouch for, all of jobs.json is validated and rendered, so that every problem is reported.
# Either way the plan is carried out the same: enable links, files newer than the manager's last
# load, and every timer's state are still checked and repaired.

MANIFEST_FORMAT = "2"
# cronsync's own modules whose code decides what is validated, rendered and compiled
_RENDERING_MODULES = (
    "core/render.py",
    "core/schedule.py",
    "core/jobs.py",
    "core/settings.py",
    "core/ids.py",
    "core/errors.py",
    "compiled.py",
    "config.py",
    "paths.py",
    "sync.py",
)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def job_key(raw: object) -> str:
    """A digest of one job's JSON object as parsed: the layout of jobs.json around it does not count."""
    import json

    return _sha256(json.dumps(raw).encode())


def base_key(space: UserSpace, target: render.Target, unit_dir: Path, settings_bytes: bytes | None) -> str:
    """A digest of every input of validating and rendering a job other than the job itself."""
    import hashlib

    from cronsync import __version__

    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("format", MANIFEST_FORMAT.encode())
    add("version", __version__.encode())
    add("user dir", space.root_str.encode())
    add("target", repr(target).encode())
    add("unit dir", str(unit_dir).encode())
    if settings_bytes is None:
        add("no settings.json", b"")
    else:
        add("settings.json", settings_bytes)
    package = Path(__file__).parent
    for module in _RENDERING_MODULES:
        add(module, (package / module).read_bytes())
    for template in sorted(template_dir().iterdir()):
        if template.is_file():
            add(f"template {template.name}", template.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class JobRecord:
    """What the manifest keeps of one applied job."""

    key: str  # job_key of its JSON object
    job_id: str
    name: str
    enabled: bool
    is_reboot: bool
    script: str | None  # a script job's payload.path

    @property
    def scheduled(self) -> Scheduled:
        return Scheduled(self.name, self.enabled, self.is_reboot)


def _record_of(key: str, job: AnyJob) -> JobRecord:
    from cronsync.core.jobs import ScriptJob

    script = job.payload.path if isinstance(job, ScriptJob) else None
    return JobRecord(key, job.id, job.name, job.enabled, parse(job.cron).is_reboot, script)


@dataclass(frozen=True)
class Manifest:
    base: str
    compiled: str  # the key of the compiled.json the apply left
    jobs: list[JobRecord]
    files: dict[str, str]  # unit file name -> sha256 of its text


def write_manifest(space: UserSpace, manifest: Manifest) -> None:
    """Best effort: without it the next apply validates and renders every job."""
    import json

    data = {**vars(manifest), "jobs": [vars(job) for job in manifest.jobs]}  # asdict: 10x slower
    try:
        atomic_write(space.apply_manifest_file, json.dumps(data), 0o600)
    except OSError:
        forget_manifest(space)


def forget_manifest(space: UserSpace) -> None:
    with contextlib.suppress(OSError):
        space.apply_manifest_file.unlink()


def read_manifest(space: UserSpace) -> Manifest | None:
    """The manifest, or None when there is none or it is not one this code wrote."""
    import json

    try:
        fd = os.open(space.apply_manifest_file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            data = json.loads(handle.read())
        jobs = [JobRecord(**job) for job in data["jobs"]]
        manifest = Manifest(data["base"], data["compiled"], jobs, data["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(manifest.files, dict):
        return None
    texts = [manifest.base, manifest.compiled, *manifest.files, *manifest.files.values()]
    texts += [text for job in jobs for text in (job.key, job.job_id, job.name, job.script or "")]
    flags = [flag for job in jobs for flag in (job.enabled, job.is_reboot)]
    if not (all(isinstance(t, str) for t in texts) and all(isinstance(f, bool) for f in flags)):
        return None
    return manifest


def _read_sources_quietly(space: UserSpace) -> tuple[bytes, bytes | None] | None:
    try:
        jobs_bytes = space.jobs_file.read_bytes()
    except OSError:
        return None  # the full path says what is wrong
    try:
        return jobs_bytes, space.settings_file.read_bytes()
    except FileNotFoundError:
        return jobs_bytes, None
    except OSError:
        return None


@dataclass
class Update:
    """A systemd plan and what a successful apply of it leaves in USER/state."""

    plan: Plan
    records: list[JobRecord]
    base: str | None  # None: no manifest can vouch for this apply
    compiled_key: str
    # compiled.json to write before the plan is carried out; None when it is current
    compiled: dict[str, Any] | None = None
    recorded: Manifest | None = None  # the manifest as this apply found it

    def manifest(self) -> Manifest | None:
        if self.base is None:
            return None
        files = {name: _sha256(text.encode()) for name, text in self.plan.unit_texts.items()}
        return Manifest(self.base, self.compiled_key, self.records, files)


def _unit_names(job_id: str) -> tuple[str, str]:
    if job_id == WATCHER_ID:
        return render.SYNC_PATH_UNIT, render.SYNC_SERVICE_UNIT
    return render.service_name(job_id), render.timer_name(job_id)


def _intact_ids(installed: dict[str, str], recorded: dict[str, str]) -> set[str]:
    """The jobs (and the watcher) whose unit files are all installed with the recorded sha256."""
    same = {name for name, text in installed.items() if recorded.get(name) == _sha256(text.encode())}
    ids = {unit_job_id(name) for name in same}
    return {job_id for job_id in ids if all(name in same for name in _unit_names(job_id))}


def plan_changes(space: UserSpace, unit_dir: Path, sources: tuple[bytes, bytes | None]) -> Update | None:
    """The systemd plan, validating and rendering only the jobs that changed since the last successful
    apply; None whenever the manifest cannot vouch for the others or anything is wrong (then all of
    jobs.json is validated, and every problem reported)."""
    import json

    from cronsync.compiled import read_compiled, source_key

    manifest = read_manifest(space)
    target = installation_target(space)
    try:
        base = base_key(space, target, unit_dir, sources[1])
        data = json.loads(sources[0].decode())
    except (OSError, ValueError, RecursionError):
        return None
    if manifest is None or manifest.base != base or not isinstance(data, list):
        return None
    keys = [job_key(raw) for raw in data]
    compiled_key = source_key(space, *sources)
    compiled = read_compiled(space, manifest.compiled) or read_compiled(space, compiled_key)
    if compiled is None or len(set(keys)) < len(keys):
        return None  # two identical jobs: the full path names the duplicate
    installed = managed_unit_files(unit_dir)
    intact = _intact_ids(installed, manifest.files)
    reused = _reusable(manifest.jobs, intact, installed, compiled["jobs"])
    changed = [(key, raw) for key, raw in zip(keys, data, strict=True) if key not in reused]
    checked = _check_and_render(space, target, sources[1], changed) if changed else []
    if checked is None:
        return None
    fresh = iter(checked)
    jobs = [reused[key] if key in reused else next(fresh) for key in keys]
    records = [job.record for job in jobs]
    wanted = {job.record.job_id: (job.record.scheduled, job.files) for job in jobs}
    if len(wanted) < len(jobs) or len({record.name for record in records}) < len(jobs):
        return None  # a changed job took another's name or id
    try:
        for script in {record.script for record in records if record.script is not None}:
            space.script_path(script)
        if WATCHER_ID in intact:
            wanted[WATCHER_ID] = (WATCHER, {name: installed[name] for name in _unit_names(WATCHER_ID)})
        else:
            wanted[WATCHER_ID] = (WATCHER, render.sync_units(target, template_dir()))
        plan = plan_units(wanted, installed, unit_dir)
    except (ValueError, InvalidInput):  # a script gone, a unit that cannot be rendered, a conflict
        return None
    update = Update(_with_crontab_warning(plan), records, base, compiled_key, recorded=manifest)
    if compiled["key"] != compiled_key:
        entries = {job.record.job_id: job.entry for job in jobs}
        update.compiled = {"key": compiled_key, "jobs": entries, "settings": compiled["settings"]}
    return update


class Prepared(NamedTuple):
    """One job ready to plan: its manifest record, unit files and compiled.json entry."""

    record: JobRecord
    files: dict[str, str]
    entry: dict[str, Any]


def _reusable(
    records: list[JobRecord], intact: set[str], installed: dict[str, str], compiled_jobs: dict[str, Any]
) -> dict[str, Prepared]:
    """The recorded jobs whose unit files and compiled.json entry are still as recorded, by key."""
    return {
        record.key: Prepared(
            record,
            {name: installed[name] for name in _unit_names(record.job_id)},
            compiled_jobs[record.job_id],
        )
        for record in records
        if record.job_id in intact and record.job_id in compiled_jobs
    }


def _check_and_render(
    space: UserSpace, target: render.Target, settings_bytes: bytes | None, changed: list[tuple[str, Any]]
) -> list[Prepared] | None:
    """Each changed job ((key, JSON object)) validated against the user space, with its unit files and
    compiled.json entry; None on any problem."""
    from cronsync.config import check_jobs, compiled_job, load_settings

    try:
        settings, problems = load_settings(space, settings_bytes)
    except InvalidInput:
        return None
    jobs, job_problems = check_jobs(space, settings, [raw for _, raw in changed])
    if problems or job_problems or any(job.id == WATCHER_ID for job in jobs):
        return None
    templates = template_dir()
    try:
        return [
            Prepared(_record_of(key, job), render.job_units(job, target, templates), compiled_job(job))
            for (key, _), job in zip(changed, jobs, strict=True)
        ]
    except render.RenderError:
        return None


def full_update(config: Config, unit_dir: Path, sources: tuple[bytes, bytes | None]) -> Update:
    """The systemd plan from all of a validated config; sources are the bytes it was validated from."""
    import json

    target = installation_target(config.space)
    plan = _with_crontab_warning(plan_systemd(config, target, unit_dir))
    data = json.loads(sources[0].decode())
    records = [_record_of(job_key(raw), job) for raw, job in zip(data, config.jobs, strict=True)]
    try:
        base: str | None = base_key(config.space, target, unit_dir, sources[1])
    except OSError:
        base = None
    return Update(plan, records, base, config.source_key)


def _with_crontab_warning(plan: Plan) -> Plan:
    if crontab_has_block():
        plan.warnings.append(
            "cronsync entries are still in your crontab, so jobs may run twice; "
            "remove them with `cronsync uninstall --backend crontab`"
        )
    return plan


# --- the whole thing -----------------------------------------------------------------------------


class BackendUnavailable(RuntimeError):
    """The requested backend cannot be used on this machine."""


@dataclass
class Context:
    """The chosen backend and what it needs."""

    backend: Backend
    manager: systemd.Manager | None
    unit_dir: Path


def choose_backend(requested: str) -> Context:
    """`auto`: systemd when a user manager answers, else crontab."""
    unit_dir = systemd_user_unit_dir()
    if requested == "crontab":
        return Context("crontab", None, unit_dir)
    manager = systemd.connect()
    if manager is not None:
        return Context("systemd", manager, unit_dir)
    if requested == "systemd":
        raise BackendUnavailable(
            "no systemd user manager answers (is XDG_RUNTIME_DIR set? is `systemctl --user` working?); "
            "run `cronsync doctor`, or use --backend crontab"
        )
    return Context("crontab", None, unit_dir)


def make_plan(config: Config, context: Context) -> Plan:
    target = installation_target(config.space)
    if context.backend == "systemd":
        return _with_crontab_warning(plan_systemd(config, target, context.unit_dir))
    from cronsync.adapters import crontab

    plan = plan_crontab(config, target, crontab.read(), crontab.local_timezone())
    if any(name.endswith(".timer") for name in managed_unit_files(context.unit_dir)):
        plan.warnings.append(
            "cronsync's systemd timers are still installed, so jobs may run twice; "
            "remove them with `cronsync uninstall --backend systemd`"
        )
    return plan


def apply(space: UserSpace, context: Context) -> tuple[Plan, ApplyReport]:
    """Load jobs.json under the lock (a save can land mid-apply), plan and carry the plan out."""
    with apply_lock(space):
        return _load_and_apply_locked(space, context)


def _load_and_apply_locked(space: UserSpace, context: Context) -> tuple[Plan, ApplyReport]:
    """Plan (validating only what changed, when the manifest allows) and carry the plan out."""
    if context.backend == "systemd":
        sources = _read_sources_quietly(space)
        update = plan_changes(space, context.unit_dir, sources) if sources is not None else None
        if update is not None:
            return _apply_update(space, update, context)
    from cronsync.config import parse_config, read_sources, write_compiled

    sources = read_sources(space)
    config, problems = parse_config(space, *sources)
    if problems:
        raise InvalidInput(problems)
    write_compiled(config)
    if context.backend == "systemd":
        return _apply_update(space, full_update(config, context.unit_dir, sources), context)
    plan = make_plan(config, context)
    return plan, _carry_out(plan, context)


def _apply_update(space: UserSpace, update: Update, context: Context) -> tuple[Plan, ApplyReport]:
    """Carry a systemd plan out; record it in the manifest if every timer came out right."""
    if update.compiled is not None:
        from cronsync.compiled import save_compiled

        save_compiled(space, update.compiled)
    report = _carry_out(update.plan, context)
    manifest = update.manifest() if report.ok else None
    if manifest is None:
        forget_manifest(space)
    elif manifest != update.recorded:
        write_manifest(space, manifest)
    return update.plan, report


def _carry_out(plan: Plan, context: Context) -> ApplyReport:
    if context.backend == "systemd":
        assert context.manager is not None
        report = apply_systemd(plan, context.manager, context.unit_dir)
    else:
        report = apply_crontab(plan)
    report.warnings = plan.warnings
    return report


def watcher_apply(space: UserSpace, context: Context) -> ApplyReport | None:
    """The auto-sync apply: None when there is nothing to do.

    Skipped when the watcher is gone (uninstall ran while this waited for the lock) or when the
    watcher already handled these exact bytes (a burst of saves starts several of these).
    """
    with apply_lock(space):
        if _managed_text(context.unit_dir / render.SYNC_PATH_UNIT) is None:
            return None
        sources = _read_sources_quietly(space)
        if sources is None:
            return _load_and_apply_locked(space, context)[1]  # it says what cannot be read
        # a save landing after this read starts another watcher apply, which sees it
        digest = _sha256(b"\0".join(part or b"" for part in sources))
        seen_file = space.watcher_state_file
        with contextlib.suppress(OSError):
            if seen_file.read_text() == digest:
                return None
        try:
            report = _load_and_apply_locked(space, context)[1]
        except InvalidInput:
            atomic_write(seen_file, digest)  # report these errors once, not once per save event
            raise
        atomic_write(seen_file, digest)  # only now: an apply killed half way is redone
        return report


def installed_backend(requested: str) -> Context:
    """For commands about what is installed: `auto` picks the backend holding cronsync's schedules."""
    if requested != "auto":
        return choose_backend(requested)
    unit_dir = systemd_user_unit_dir()
    if any(name.endswith(".timer") for name in managed_unit_files(unit_dir)):
        return choose_backend("systemd")
    if crontab_has_block():
        return Context("crontab", None, unit_dir)
    return choose_backend("auto")


def crontab_has_block(jobs_file: Path | None = None) -> bool:
    """Whether the user's crontab holds cronsync entries (made from jobs_file, when given)."""
    from cronsync.adapters import crontab

    if shutil.which("crontab") is None:
        return False
    try:
        text = crontab.read()
    except crontab.CrontabError:
        return False
    if not text:
        return False
    cut = crontab.split(text)
    return bool(cut.managed_lines) and (jobs_file is None or cut.jobs_file == str(jobs_file))
