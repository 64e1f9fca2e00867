"""The systemd backend: one `cronsync-<id>.service` + `.timer` per job, and the auto-sync watcher.

Units live in the user unit directory; the manager is reached through `cronsync.adapters.systemd`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronsync import CronsyncError
from cronsync.adapters import systemd
from cronsync.apply.report import ApplyReport, JobReport, iso_from_usec
from cronsync.apply.target import installation_problems, installation_target
from cronsync.apply.unitfiles import (
    InstallError,
    check_writable,
    debug_pause,
    discard_staged,
    enabled_units,
    fix_unit_modes,
    holds_timers,
    read_installed,
    remove_stale_temp_files,
    stage_unit_files,
)
from cronsync.core import render
from cronsync.core.chains import manager_starts, next_jobs, systemd_chain_problems
from cronsync.core.errors import InvalidInput, Problem
from cronsync.core.health import watch_schedule
from cronsync.core.ids import WATCH_ID, WATCHER_ID
from cronsync.core.plan import (
    WATCHDOG,
    WATCHER,
    BackendName,
    JobPlan,
    Plan,
    Scheduled,
    plan_units,
    scheduling_unit,
    unit_job_id,
)
from cronsync.core.schedule import parse
from cronsync.resources import templates
from cronsync.userspace.files import fsync_dir
from cronsync.userspace.paths import UserSpace, cli_for
from cronsync.userspace.runlog import last_records

# `cronsync run` of a job whose run has just let go of its lock: how long the service may take to end
# (the run's hook runs after the lock, for up to hooks.timeout) before it is started anyway.
RUN_ENDING_SECONDS = 60.0
START_WAIT_SECONDS = 60  # `cronsync run`: how long a started service may take to begin its run

if TYPE_CHECKING:
    from cronsync.config import AnyJob, Config


def scheduled_of(job: AnyJob) -> Scheduled:
    if job.cron is None:
        return Scheduled(job.name, job.enabled, False, False, has_timer=False)
    schedule = parse(job.cron)
    return Scheduled(job.name, job.enabled, schedule.is_reboot, schedule.is_every)


def systemd_problems(config: Config) -> list[Problem]:
    """Why the systemd backend would refuse config, found without a user manager."""
    return installation_problems(config)


def wait_for_run_end(
    read_state: Callable[[], systemd.UnitState],
    before: systemd.UnitState,
    start_wait: float = START_WAIT_SECONDS,
) -> systemd.UnitState:
    """The service's state once the run that started after `before` has ended.

    One reading of the state is several calls to the manager, the active state first: a run starting in
    between reads as inactive with this run's start time. An end counts only in a reading after the one
    that saw the start, whose active state was asked for once the run had begun."""
    give_up_unstarted = time.monotonic() + start_wait
    seen_start = False
    while True:
        state = read_state()
        if seen_start and state.active_state in ("inactive", "failed"):
            return state
        if state.exec_start_usec != before.exec_start_usec:
            if not seen_start:
                seen_start = True
                continue  # read again at once
        elif time.monotonic() > give_up_unstarted:
            # never the last run's result as this one's: that is what a busy manager would show
            raise CronsyncError(
                f"{state.name} did not start within {start_wait:g} s (its state: "
                f"{state.active_state}); see `systemctl --user status {state.name}`"
            )
        time.sleep(0.2)


class UnitDirNotSearched(CronsyncError):
    """The unit directory this process would write is not one the user manager loads units from."""


class SystemdBackend:
    name: BackendName = "systemd"

    def __init__(self, manager: systemd.Manager, unit_dir: Path) -> None:
        self.manager = manager
        self.unit_dir = unit_dir

    def plan(self, config: Config) -> Plan:
        """Every job's units and the watcher's, against what the unit directory holds."""
        jobs_file = str(config.space.jobs_file)
        problems = systemd_problems(config)
        if any(job.after or job.on_failure for job in config.jobs):
            problems += systemd_chain_problems(jobs_file, config.jobs, self.manager.version())
        if problems:
            raise InvalidInput(problems)
        target = installation_target(config.space)
        shipped = templates()
        wanted: dict[str, tuple[Scheduled, dict[str, str]]] = {}
        try:
            starts = manager_starts(next_jobs(config.jobs))
            for job in config.jobs:
                wanted[job.id] = (
                    scheduled_of(job),
                    render.job_units(job, target, shipped, starts.get(job.id)),
                )
            wanted[WATCHER_ID] = (WATCHER, render.sync_units(target, shipped))
            if config.settings.watch is not None:
                expression = watch_schedule(config.settings.watch.every)
                wanted[WATCH_ID] = (WATCHDOG, render.watch_units(target, shipped, expression))
        except render.RenderError as exc:
            raise InvalidInput([Problem(jobs_file, str(exc))]) from None
        return plan_units(wanted, read_installed(self.unit_dir, config.space.jobs_file))

    def holds_schedules(self, jobs_file: Path) -> bool:
        """Whether timers made from jobs_file (this user space's) are installed."""
        return holds_timers(self.unit_dir, jobs_file)

    def carry_out(self, plan: Plan) -> ApplyReport:
        """Write and delete unit files, enable, reload once if needed, start, and check every timer."""
        report = ApplyReport("systemd", [])
        unit_dir, manager = self.unit_dir, self.manager
        check_searched(manager, unit_dir)
        remove_stale_temp_files(unit_dir)
        if plan.writes or plan.deletes:
            check_writable(unit_dir)
        staged = stage_unit_files(unit_dir, plan.writes)
        try:
            self._delete_units(plan.deletes, report)
            for index, (name, tmp) in enumerate(staged.items()):
                debug_pause(f"rename:{index}")
                os.replace(tmp, unit_dir / name)
                report.files_written.append(name)
        except OSError as exc:
            raise InstallError(f"cannot change {unit_dir}: {exc}") from None
        finally:
            discard_staged({n: t for n, t in staged.items() if n not in report.files_written})
        if staged:
            fsync_dir(unit_dir)
        written = set(report.files_written)
        fix_unit_modes(unit_dir, {n: t for n, t in plan.unit_texts.items() if n not in written})

        to_enable, to_disable = [], []
        enabled = enabled_units(unit_dir)
        for job in plan.jobs:
            if job.action == "delete" or not job.has_timer:
                continue
            unit = scheduling_unit(job.job_id)
            linked = unit in enabled
            if job.enabled and not linked:
                to_enable.append(unit)
            elif not job.enabled and linked:
                to_disable.append(unit)
        debug_pause("enable")
        manager.enable(to_enable)
        manager.disable(to_disable)

        changed = report.files_written or report.files_deleted or to_enable or to_disable
        if changed or self._changed_since_load(plan, manager.units_loaded_usec()):
            debug_pause("reload")
            manager.reload()
            report.reloaded = True
        states = manager.states(_scheduling_units(plan))
        _start_and_verify(plan, manager, states, report)
        return report

    def uninstall(self, jobs_file: Path) -> list[str]:
        """Remove every unit made from jobs_file (see uninstall_report): the files removed."""
        return self.uninstall_report(jobs_file).files_deleted

    def uninstall_report(self, jobs_file: Path) -> ApplyReport:
        """Stop the watcher first (a save must not re-install what goes), then remove every unit made
        from jobs_file, stopping the runs going; other user spaces' units stay."""
        files = read_installed(self.unit_dir, jobs_file).managed
        if not files:
            return ApplyReport("systemd", [])
        for unit in (render.SYNC_PATH_UNIT, render.SYNC_SERVICE_UNIT):
            if unit in files:
                self.manager.stop(unit)
        ids = sorted({unit_job_id(name) for name in files})
        plan = Plan("systemd", [JobPlan(i, None, "delete", None) for i in ids], deletes=sorted(files))
        return self.carry_out(plan)

    def schedule_facts(self, jobs: Sequence[AnyJob], installed: set[str]) -> dict[str, dict[str, Any]]:
        """Per job id: the next run, as the manager will start it (the last run is cronsync's own log's)."""
        states = self.manager.states([render.timer_name(job.id) for job in jobs])  # one connection
        return {
            job.id: {"next_run": iso_from_usec(states[render.timer_name(job.id)].next_elapse_usec)}
            for job in jobs
        }

    def run_now(self, space: UserSpace, job_id: str, wait: bool) -> int:
        """Start the job's service as its timer would; wait for it and return exec's exit code."""
        import click

        manager = self.manager
        service = render.service_name(job_id)
        before = manager.states([service], history=True)[service]
        if not before.loaded:
            raise CronsyncError(
                f"{service} is not installed ({before.load_state}); run `cronsync apply` first"
            )
        before = self._after_the_last_run(service, before)
        space.request_manual_run(job_id)  # exec records the run as `manual`
        manager.start(service)
        click.echo(f"started {service}")
        if not wait:
            return 0
        state = wait_for_run_end(lambda: manager.states([service], history=True)[service], before)
        record = last_records(space.log_file).get(job_id)
        if record is not None and record.get("trigger") == "manual":  # what exec logged of this run
            status, code, took = record.get("status"), record.get("exit_code"), record.get("duration")
            click.echo(f"{job_id}: {status} (exit {code}) in {took}s")
            if record.get("error"):
                click.echo(f"  {record['error']}")
        else:  # exec did not log it: it could not start
            seconds = max(0, state.exec_exit_usec - state.exec_start_usec) / 1e6
            click.echo(f"{job_id}: {state.result} (exit {state.exit_status}) in {seconds:.1f}s")
        click.echo(f"output: {cli_for(space)} logs {job_id}")
        if state.result != "success" and state.exit_status == 0:
            return 1  # the service failed without exec's status (it could not start, say)
        return state.exit_status  # exec's exit code: the job's status (see `cronsync exec`)

    def _after_the_last_run(self, service: str, state: systemd.UnitState) -> systemd.UnitState:
        """The service's state once a run that has let go of its lock is over (its hook may still run):
        a start while it is active would join that run instead of starting one."""
        give_up = time.monotonic() + RUN_ENDING_SECONDS
        while state.active_state in ("activating", "active", "deactivating") and time.monotonic() < give_up:
            time.sleep(0.2)
            state = self.manager.states([service], history=True)[service]
        return state

    def _delete_units(self, deletes: list[str], report: ApplyReport) -> None:
        """Removed jobs: stop while their files still exist (timers first, then the services: a run still
        going is stopped, and waited for), forget failures, unlink from timers.target."""
        services = [
            name for name in deletes if name.endswith(".service") and name != render.SYNC_SERVICE_UNIT
        ]
        running = [
            s.name for s in self.manager.states(services).values() if s.active_state in systemd.BUSY_STATES
        ]
        report.stopped_runs = sorted(unit_job_id(name) for name in running)
        systemd.stop_and_reset(
            self.manager, sorted(deletes, key=lambda name: not name.endswith((".timer", ".path")))
        )
        self.manager.disable([u for u in deletes if u.endswith((".timer", ".path"))])
        for index, unit in enumerate(deletes):
            debug_pause(f"unlink:{index}")
            with contextlib.suppress(FileNotFoundError):
                (self.unit_dir / unit).unlink()
            report.files_deleted.append(unit)

    def _changed_since_load(self, plan: Plan, loaded_usec: int) -> bool:
        """Whether a unit file or .wants link of the plan changed since the manager last loaded its
        units: what an apply killed before its daemon-reload leaves. One stat per file, where asking the
        manager for each unit's NeedDaemonReload costs a D-Bus round trip per unit."""
        paths = []
        directory = str(self.unit_dir)  # plain strings: 3,000 pathlib joins cost more than the stats
        for unit in _scheduling_units(plan):
            wants = "paths.target.wants" if unit == render.SYNC_PATH_UNIT else "timers.target.wants"
            service = (
                render.SYNC_SERVICE_UNIT
                if unit == render.SYNC_PATH_UNIT
                else unit.removesuffix(".timer").removesuffix(".service") + ".service"
            )
            paths += [f"{directory}/{unit}", f"{directory}/{service}", f"{directory}/{wants}/{unit}"]
        for path in paths:
            try:
                if os.lstat(path).st_mtime_ns // 1000 >= loaded_usec:
                    return True
            except FileNotFoundError:
                continue
        return False


def check_searched(manager: systemd.Manager, unit_dir: Path) -> None:
    """Refuse, before anything changes, a unit directory the user manager does not load units from: this
    shell's XDG_CONFIG_HOME differs from the manager's (a `sudo -E`, `su`, or a shell that set it after
    the manager started), so units written here would never be seen."""
    searched = manager.unit_path()
    if not searched or str(unit_dir) in searched:
        return
    real = os.path.realpath(unit_dir)
    if any(os.path.realpath(folder) == real for folder in searched):
        return
    # the manager's own $XDG_CONFIG_HOME/systemd/user is the folder listed with its `.control` sibling
    theirs = next((folder for folder in searched if f"{folder}.control" in searched), None)
    shell = os.environ.get("XDG_CONFIG_HOME")
    here = f"$XDG_CONFIG_HOME={shell}" if shell else "$XDG_CONFIG_HOME unset (so ~/.config)"
    if theirs is None:
        where = f"it loads units from: {', '.join(searched)}"
        fix = "run cronsync with the XDG_CONFIG_HOME the user manager has"
    else:
        where = f"it loads your units from {theirs}"
        manager_home = str(Path(theirs).parent.parent)
        fix = f"run cronsync with XDG_CONFIG_HOME={manager_home}"
    raise UnitDirNotSearched(
        f"units would go to {unit_dir} (this shell has {here}), but the systemd user manager does not look "
        f"there: {where}; its XDG_CONFIG_HOME differs from this shell's. Nothing was changed. Fix: {fix}"
    )


def _scheduling_units(plan: Plan) -> list[str]:
    """The units that schedule: each job's timer and the watcher's path unit."""
    return [scheduling_unit(job.job_id, job.has_timer) for job in plan.jobs if job.action != "delete"]


def _start_and_verify(
    plan: Plan, manager: systemd.Manager, states: dict[str, systemd.UnitState], report: ApplyReport
) -> None:
    acted: list[str] = []
    for index, job in enumerate(plan.jobs):
        if job.action == "delete":
            continue
        debug_pause(f"start:{index}")
        if not job.has_timer:
            continue  # a service other jobs' runs start: nothing of its own to start
        unit = scheduling_unit(job.job_id)
        active = states[unit].active_state in ("active", "activating")
        if not job.enabled:
            if active:
                manager.stop(unit)
                acted.append(unit)
        elif job.is_reboot:
            # enabled only: timers.target starts it when the user manager starts. A timer started now
            # counts OnStartupSec= from a start-up long past, so it would fire now.
            continue
        elif not active:
            manager.start(unit)
            acted.append(unit)
        elif job.action == "update":
            manager.restart(unit)
            acted.append(unit)

    wanted = {scheduling_unit(job.job_id, job.has_timer): job for job in plan.jobs if job.action != "delete"}

    def ready(state: systemd.UnitState) -> bool:
        job = wanted[state.name]
        if not job.has_timer:
            return state.loaded
        if not job.enabled:
            return state.active_state == "inactive"
        if job.is_reboot:
            return state.loaded and state.active_state != "failed"
        if job.is_interval or state.name == render.SYNC_PATH_UNIT:  # no calendar elapse to wait for
            return state.loaded and state.active_state == "active"
        # a timer whose run is going has no next elapse until the run ends: it is healthy
        return (
            state.loaded
            and state.active_state == "active"
            and (state.next_elapse_usec > 0 or _running(state))
        )

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
        elif not job.has_timer:
            detail = "no timer: runs when the jobs in its after succeed" if job.enabled else "disabled"
        elif not job.enabled:
            detail = "disabled: timer stopped"
        elif job.is_reboot:
            detail = "runs when the user manager starts"
        elif _running(state) and not state.next_elapse_usec:
            detail = "running now; its next run is set when this one ends"
        else:
            detail = "ok"
        report.jobs.append(JobReport(job.job_id, job.name, job.action, ok, detail, state.next_elapse_usec))
    for job in plan.jobs:
        if job.action == "delete":
            detail = "its running run was stopped" if job.job_id in report.stopped_runs else "removed"
            report.jobs.append(JobReport(job.job_id, None, "delete", True, detail))


def _running(timer: systemd.UnitState) -> bool:
    """Whether the timer's service is running the run the timer started."""
    return timer.sub_state == "running"
