"""Apply's orchestration: which backend, the apply lock, plan (fast or full), carry it out, record it.

The one place that knows the backends by name: `choose_backend` and `installed_backend` turn the
`--backend` option into a backend object (sticking to the backend this user space is installed on);
everything else talks to that object.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cronsync import CronsyncError
from cronsync.adapters import systemd
from cronsync.apply.crontab import CrontabBackend, crontab_problems, scheduler_warnings
from cronsync.apply.fastpath import Update, full_update, plan_changes
from cronsync.apply.report import ApplyReport
from cronsync.apply.systemd import SystemdBackend, systemd_problems
from cronsync.apply.unitfiles import holds_timers, managed_unit_files
from cronsync.core.errors import InvalidInput, Problem
from cronsync.core.ids import WATCHER_ID
from cronsync.core.plan import BackendName, Plan, uninstall_command
from cronsync.userspace.compiled import current_signature, save_compiled
from cronsync.userspace.files import lock, open_error
from cronsync.userspace.installed import record_install_times
from cronsync.userspace.manifest import forget_manifest, write_manifest
from cronsync.userspace.paths import UserSpace, read_sources_bytes, systemd_user_unit_dir

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from cronsync.config import AnyJob, Config


class Backend(Protocol):
    """What every backend does, the same way (`cronsync.apply.systemd`, `cronsync.apply.crontab`)."""

    name: BackendName

    def plan(self, config: Config) -> Plan: ...
    def carry_out(self, plan: Plan) -> ApplyReport: ...
    def holds_schedules(self, jobs_file: Path) -> bool: ...
    def uninstall(self, jobs_file: Path) -> list[str]: ...
    def schedule_facts(self, jobs: Sequence[AnyJob], installed: set[str]) -> dict[str, dict[str, Any]]: ...
    def run_now(self, space: UserSpace, job_id: str, wait: bool) -> int: ...


class BackendUnavailable(CronsyncError):
    """The requested backend cannot be used on this machine."""


class InstalledElsewhere(CronsyncError):
    """The user space is installed on the other backend; moving it is an explicit step."""


def installed_on(space: UserSpace) -> list[BackendName]:
    """The backends holding this user space's schedules (its timers; its crontab block), read from
    disk and the crontab: no user manager is needed to tell."""
    holding: list[BackendName] = []
    if holds_timers(systemd_user_unit_dir(), space.jobs_file):
        holding.append("systemd")
    if CrontabBackend().holds_schedules(space.jobs_file):
        holding.append("crontab")
    return holding


def catches_up(space: UserSpace) -> bool:
    """Whether this space's scheduler runs a run missed while it was down: its timers are installed
    (systemd's Persistent=; cron never catches up). Read from disk: no crontab -l, no user manager."""
    return holds_timers(systemd_user_unit_dir(), space.jobs_file)


def _backend_named(name: str) -> Backend:
    if name == "crontab":
        return CrontabBackend()
    manager = systemd.connect()
    if manager is None:
        raise BackendUnavailable(
            "no systemd user manager answers (is XDG_RUNTIME_DIR set? is `systemctl --user` working?); "
            "run `cronsync doctor`, or use --backend crontab"
        )
    return SystemdBackend(manager, systemd_user_unit_dir())


def choose_backend(requested: str, space: UserSpace) -> Backend:
    """The backend plan and apply use. `auto` sticks to the backend this user space is installed on
    (and fails, changing nothing, when that one is unavailable); a space installed nowhere gets
    systemd when a user manager answers, else crontab. Naming the other backend than the one the
    space is installed on is refused with the commands that move it."""
    if requested == "auto":
        return installed_backend("auto", space)
    holding = installed_on(space)
    if holding and requested not in holding:
        raise InstalledElsewhere(_move_instructions(space, holding[0], requested))
    return _backend_named(requested)


def _move_instructions(space: UserSpace, old: str, new: str) -> str:
    uninstall = uninstall_command(space.jobs_file, "--backend", old)
    apply = shlex.join(["cronsync", "--user-dir", space.root_str, "apply", "--backend", new])
    return (
        f"this user space ({space.jobs_file}) is installed on {old}; nothing was changed. To move it to "
        f"{new}, remove its {old} schedules first, then apply: `{uninstall}`, then `{apply}`"
    )


def installed_backend(requested: str, space: UserSpace) -> Backend:
    """For commands about what is installed: `auto` picks the backend holding this space's schedules."""
    if requested != "auto":
        return _backend_named(requested)
    holding = installed_on(space)
    if not holding:
        manager = systemd.connect()
        if manager is None:
            return CrontabBackend()
        return SystemdBackend(manager, systemd_user_unit_dir())
    try:
        return _backend_named(holding[0])
    except BackendUnavailable:
        raise BackendUnavailable(
            f"this user space ({space.jobs_file}) is installed on systemd, but no systemd user manager "
            "answers (is XDG_RUNTIME_DIR set? is `systemctl --user` working?); nothing was changed. "
            "Run `cronsync doctor`; --backend auto never moves a space to the crontab by itself"
        ) from None


def uninstall_everywhere(requested: str, space: UserSpace) -> dict[str, list[str]]:
    """`cronsync uninstall`: this user space's units (`auto`, `systemd`) and crontab block (`auto`,
    `crontab`); other spaces' schedules stay. A run going under systemd is stopped (`stopped_runs`)."""
    removed: dict[str, list[str]] = {"units": [], "crontab_entries": [], "stopped_runs": []}
    unit_dir = systemd_user_unit_dir()
    if requested in ("auto", "systemd") and managed_unit_files(unit_dir, space.jobs_file):
        manager = systemd.connect()
        if manager is None:
            raise BackendUnavailable(
                "cronsync units of this user space are installed but no systemd user manager answers; "
                "run `cronsync doctor`"
            )
        report = SystemdBackend(manager, unit_dir).uninstall_report(space.jobs_file)
        removed["units"], removed["stopped_runs"] = report.files_deleted, report.stopped_runs
    crontab = CrontabBackend()
    if requested == "crontab" or (requested == "auto" and crontab.holds_schedules(space.jobs_file)):
        removed["crontab_entries"] = crontab.uninstall(space.jobs_file)
    return removed


_BACKEND_PROBLEMS: dict[BackendName, Callable[[Config], list[Problem]]] = {
    "systemd": systemd_problems,
    "crontab": crontab_problems,
}


def backend_problems(config: Config) -> dict[BackendName, list[Problem]]:
    """For `validate`: what each backend would refuse of a valid config — only the backend this space is
    installed on, when it is installed on one, else both."""
    names = installed_on(config.space) or list(_BACKEND_PROBLEMS)
    return {name: _BACKEND_PROBLEMS[name](config) for name in names}


def make_plan(config: Config, backend: Backend) -> Plan:
    """The backend's plan, warned when the other backend still holds this space's schedules."""
    plan = backend.plan(config)
    if isinstance(backend, CrontabBackend):
        plan.warnings.extend(scheduler_warnings())
    _warn_about_the_other_backend(plan, backend, config.space)
    return plan


def _warn_about_the_other_backend(plan: Plan, backend: Backend, space: UserSpace) -> None:
    if backend.name == "systemd":
        if CrontabBackend().holds_schedules(space.jobs_file):
            plan.warnings.append(
                "this user space's cronsync entries are still in your crontab, so jobs may run twice; "
                f"remove them with `{uninstall_command(space.jobs_file, '--backend', 'crontab')}`"
            )
    elif holds_timers(systemd_user_unit_dir(), space.jobs_file):
        plan.warnings.append(
            "this user space's cronsync systemd timers are still installed, so jobs may run twice; "
            f"remove them with `{uninstall_command(space.jobs_file, '--backend', 'systemd')}`"
        )


@contextlib.contextmanager
def apply_lock(space: UserSpace) -> Iterator[None]:
    """Serialize applies (and the watcher's, and uninstall) with flock(2) on USER/state/apply.lock."""
    path = space.apply_lock_file
    try:
        fd = lock(path)
    except OSError as exc:
        raise InvalidInput([Problem(str(path), open_error(path, exc, "the apply lock"))]) from None
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def apply(space: UserSpace, backend: Backend) -> tuple[Plan, ApplyReport]:
    """Load jobs.json under the lock (a save can land mid-apply), plan and carry the plan out."""
    with apply_lock(space):
        return apply_locked(space, backend)


def apply_locked(space: UserSpace, backend: Backend) -> tuple[Plan, ApplyReport]:
    """Plan (validating only what changed, when the manifest allows) and carry the plan out."""
    if isinstance(backend, SystemdBackend):
        sources = read_sources_quietly(space)
        update = plan_changes(space, backend.unit_dir, sources) if sources is not None else None
        if update is not None:
            _warn_about_the_other_backend(update.plan, backend, space)
            return _apply_update(space, update, backend)
    from cronsync.config import parse_config, read_sources, write_compiled

    sources = read_sources(space)
    config, problems = parse_config(space, *sources)
    if problems:
        raise InvalidInput(problems)
    write_compiled(config)
    plan = make_plan(config, backend)
    if isinstance(backend, SystemdBackend):
        return _apply_update(space, full_update(config, plan, backend.unit_dir, sources), backend)
    return plan, _carry_out(space, plan, backend)


def read_sources_quietly(space: UserSpace) -> tuple[bytes, bytes | None] | None:
    """jobs.json and settings.json, or None when either cannot be read (the full path says why)."""
    try:
        jobs_bytes, settings_bytes = read_sources_bytes(space)
    except CronsyncError:
        return None
    return None if jobs_bytes is None else (jobs_bytes, settings_bytes)


def _apply_update(space: UserSpace, update: Update, backend: Backend) -> tuple[Plan, ApplyReport]:
    """Carry a systemd plan out; record it in the manifest if every timer came out right."""
    if update.compiled is not None:
        key, jobs, settings = update.compiled["key"], update.compiled["jobs"], update.compiled["settings"]
        save_compiled(space, key, current_signature(space, key), jobs, settings)
    report = _carry_out(space, update.plan, backend)
    manifest = update.manifest() if report.ok else None
    if manifest is None:
        forget_manifest(space)
    elif manifest != update.recorded:
        write_manifest(space, manifest)
    return update.plan, report


def _carry_out(space: UserSpace, plan: Plan, backend: Backend) -> ApplyReport:
    report = backend.carry_out(plan)
    report.warnings = plan.warnings
    ok = {job.job_id: job.ok for job in report.jobs}
    outcomes = [
        (job.job_id, job.action, ok.get(job.job_id, True)) for job in plan.jobs if job.job_id != WATCHER_ID
    ]
    record_install_times(space, outcomes)
    return report
