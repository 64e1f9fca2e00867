"""The systemd backend: one `cronsync-<id>.service` + `.timer` per job, and the auto-sync watcher.

Units live in the user unit directory; the manager is reached through `cronsync.adapters.systemd`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronsync import CronsyncError
from cronsync.adapters import systemd
from cronsync.apply.report import ApplyReport, JobReport, iso_from_usec
from cronsync.apply.target import installation_target
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
from cronsync.core.errors import InvalidInput, Problem
from cronsync.core.ids import WATCHER_ID
from cronsync.core.plan import (
    WATCHER,
    BackendName,
    JobPlan,
    Plan,
    Scheduled,
    plan_units,
    reserved_id_problems,
    scheduling_unit,
    unit_job_id,
)
from cronsync.core.schedule import parse
from cronsync.resources import templates
from cronsync.userspace.files import fsync_dir
from cronsync.userspace.paths import UserSpace, cli_for
from cronsync.userspace.runlog import last_records

if TYPE_CHECKING:
    from cronsync.config import AnyJob, Config


class SystemdBackend:
    name: BackendName = "systemd"

    def __init__(self, manager: systemd.Manager, unit_dir: Path) -> None:
        self.manager = manager
        self.unit_dir = unit_dir

    def plan(self, config: Config) -> Plan:
        """Every job's units and the watcher's, against what the unit directory holds."""
        target = installation_target(config.space)
        jobs_file = str(config.space.jobs_file)
        problems = reserved_id_problems(jobs_file, [(job.name, job.id) for job in config.jobs])
        problems += render.check_target(target)
        if problems:
            raise InvalidInput(problems)
        shipped = templates()
        wanted: dict[str, tuple[Scheduled, dict[str, str]]] = {}
        try:
            for job in config.jobs:
                scheduled = Scheduled(job.name, job.enabled, parse(job.cron).without_calendar)
                wanted[job.id] = (scheduled, render.job_units(job, target, shipped))
            wanted[WATCHER_ID] = (WATCHER, render.sync_units(target, shipped))
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
            if job.action == "delete":
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
        """Stop the watcher first (a save must not re-install what goes), then remove every unit made
        from jobs_file; other user spaces' units stay."""
        files = read_installed(self.unit_dir, jobs_file).managed
        if not files:
            return []
        for unit in (render.SYNC_PATH_UNIT, render.SYNC_SERVICE_UNIT):
            if unit in files:
                self.manager.stop(unit)
        ids = sorted({unit_job_id(name) for name in files})
        plan = Plan("systemd", [JobPlan(i, None, "delete", None) for i in ids], deletes=sorted(files))
        return self.carry_out(plan).files_deleted

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
        space.request_manual_run(job_id)  # exec records the run as `manual`
        manager.start(service)
        click.echo(f"started {service}")
        if not wait:
            return 0
        give_up_unstarted = time.monotonic() + 10
        while True:
            state = manager.states([service], history=True)[service]
            started = state.exec_start_usec != before.exec_start_usec
            if state.active_state in ("inactive", "failed") and (
                started or time.monotonic() > give_up_unstarted
            ):
                break
            time.sleep(0.2)
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

    def _delete_units(self, deletes: list[str], report: ApplyReport) -> None:
        """Removed jobs: stop while their files still exist, forget failures, unlink from timers.target."""
        for unit in sorted(deletes, key=lambda name: not name.endswith((".timer", ".path"))):
            self.manager.stop(unit)
            self.manager.reset_failed(unit)
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
                else unit[: -len("timer")] + "service"
            )
            paths += [f"{directory}/{unit}", f"{directory}/{service}", f"{directory}/{wants}/{unit}"]
        for path in paths:
            try:
                if os.lstat(path).st_mtime_ns // 1000 >= loaded_usec:
                    return True
            except FileNotFoundError:
                continue
        return False


def _scheduling_units(plan: Plan) -> list[str]:
    """The units that schedule: each job's timer and the watcher's path unit."""
    return [scheduling_unit(job.job_id) for job in plan.jobs if job.action != "delete"]


def _start_and_verify(
    plan: Plan, manager: systemd.Manager, states: dict[str, systemd.UnitState], report: ApplyReport
) -> None:
    acted: list[str] = []
    for index, job in enumerate(plan.jobs):
        if job.action == "delete":
            continue
        debug_pause(f"start:{index}")
        unit = scheduling_unit(job.job_id)
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

    wanted = {scheduling_unit(job.job_id): job for job in plan.jobs if job.action != "delete"}

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
