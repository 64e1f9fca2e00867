"""The crontab backend: one tagged entry per job inside cronsync's marked block of the user's crontab."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronsync import CronsyncError
from cronsync.adapters import crontab
from cronsync.apply.report import ApplyReport, JobReport
from cronsync.apply.target import installation_problems, installation_target
from cronsync.core import render
from cronsync.core.crontab_block import split
from cronsync.core.errors import InvalidInput, Problem
from cronsync.core.health import watch_schedule
from cronsync.core.ids import WATCH_ID
from cronsync.core.plan import WATCHDOG, BackendName, JobPlan, Plan, plan_crontab
from cronsync.core.schedule import ScheduleError, crontab_form, next_fires, parse
from cronsync.resources import templates
from cronsync.userspace.paths import UserSpace

if TYPE_CHECKING:
    from cronsync.config import AnyJob, Config

# What cron gives every job (crontab(5)), before the crontab's own variable lines.
CRON_BASE_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
ZONEINFO = Path("/usr/share/zoneinfo")


def crontab_problems(config: Config) -> list[Problem]:
    """Why the crontab backend would refuse config, found without changing the crontab."""
    return _problems(config, *_zones(config))


def _zones(config: Config) -> tuple[dict[str, str | None], str | None]:
    """Each job's zone where it is not the machine's, and the machine's (read once: a plan needs both)."""
    local_zone = crontab.local_timezone()
    return foreign_zones(config.jobs, local_zone), local_zone


def _problems(config: Config, zones: dict[str, str | None], local_zone: str | None) -> list[Problem]:
    return installation_problems(config) + _schedule_problems(config, zones, local_zone)


class CrontabBackend:
    name: BackendName = "crontab"

    def plan(self, config: Config) -> Plan:
        target = installation_target(config.space)
        jobs_file = str(config.space.jobs_file)
        zones, local_zone = _zones(config)
        problems = _problems(config, zones, local_zone)
        try:
            entries = (
                []
                if problems
                else render.crontab_entries(config.jobs, target, templates(), zones, local_zone)
            )
        except render.RenderError as exc:
            problems.append(Problem(jobs_file, str(exc)))
            entries = []
        if problems:
            raise InvalidInput(problems)
        # a job without `cron` has no entry: exec starts it after the jobs in its `after`
        jobs = [(job.id, job.name, job.enabled) for job in config.jobs if job.cron is not None]
        if config.settings.watch is not None:
            expression = watch_schedule(config.settings.watch.every)
            entries.append(render.watch_crontab_entry(target, templates(), expression))
            jobs.append((WATCH_ID, WATCHDOG.name, True))
        plan = plan_crontab(jobs, entries, crontab.read(), config.space.jobs_file)
        plan.jobs.extend(  # nothing of theirs to install: in place as they are
            JobPlan(job.id, job.name, "unchanged", job.enabled, has_timer=False)
            for job in config.jobs
            if job.cron is None
        )
        return plan

    def holds_schedules(self, jobs_file: Path) -> bool:
        """Whether the user's crontab holds entries in jobs_file's block (this user space's)."""
        if shutil.which("crontab") is None:
            return False
        try:
            text = crontab.read()
        except crontab.CrontabError:
            return False
        return text is not None and bool(split(text, jobs_file).managed_lines)

    def carry_out(self, plan: Plan) -> ApplyReport:
        report = ApplyReport("crontab", [])
        if plan.crontab_new != plan.crontab_old and not (plan.crontab_new == "" and plan.crontab_old is None):
            if plan.crontab_new is None:
                crontab.remove()
            else:
                crontab.write(plan.crontab_new)
            report.files_written.append("crontab")
        for job in plan.jobs:
            if job.action == "delete":
                detail = "removed"
            else:
                detail = "disabled: entry commented out" if not job.enabled else "ok"
            report.jobs.append(JobReport(job.job_id, job.name, job.action, True, detail))
        return report

    def uninstall(self, jobs_file: Path) -> list[str]:
        """Remove jobs_file's block (its entries' ids); every other line, other spaces' blocks too, stays."""
        current = crontab.read()
        if current is None:
            return []
        cut = split(current, jobs_file)
        ids = list(cut.entries())
        if not cut.managed_lines and cut.user_text() == current:
            return []
        remaining = cut.user_text()
        if remaining:
            crontab.write(remaining)
        else:
            crontab.remove()
        return ids

    def schedule_facts(self, jobs: Sequence[AnyJob], installed: set[str]) -> dict[str, dict[str, Any]]:
        """Per job id: the next run, from the schedule (cron runs entries in the machine's local time)."""
        now = datetime.now().astimezone()
        facts: dict[str, dict[str, Any]] = {}
        for job in jobs:
            fires = (
                next_fires(parse(job.cron), now, 1, job.timezone)
                if job.enabled and job.id in installed and job.cron is not None
                else []
            )
            facts[job.id] = {"next_run": fires[0].isoformat(timespec="seconds") if fires else None}
        return facts

    def run_now(self, space: UserSpace, job_id: str, wait: bool) -> int:
        """Run the entry's command with the environment cron gives it."""
        from crontab import CronTab

        text = crontab.read() or ""
        cut = split(text, space.jobs_file)
        if job_id not in cut.entries() and not _unscheduled(space, job_id):
            raise CronsyncError(
                f"{job_id} has no entry in the crontab; run `cronsync apply --backend crontab` first"
            )
        environment = {
            "HOME": os.path.expanduser("~"),
            "LOGNAME": os.environ.get("LOGNAME", os.environ.get("USER", "")),
            **CRON_BASE_ENVIRONMENT,
            **{str(k): str(v) for k, v in CronTab(tab=cut.user_text()).env.items()},
        }
        space.request_manual_run(job_id)  # exec records the run as `manual`
        argv = installation_target(space).command("exec", job_id)
        return subprocess.run(argv, env=environment, check=False).returncode


def _unscheduled(space: UserSpace, job_id: str) -> bool:
    """Whether the job has no `cron` (so no entry: other jobs' runs start it), as jobs.json says now."""
    from cronsync.config import load_config

    job = load_config(space).find(job_id)
    return job is not None and job.cron is None


def same_zone(a: str, b: str) -> bool:
    """Two zone names that are the same zone (`UTC` and `Etc/UTC`, say)."""
    if a == b:
        return True
    try:
        return (ZONEINFO / a).read_bytes() == (ZONEINFO / b).read_bytes()
    except OSError:
        return False


def foreign_zones(jobs: Sequence[AnyJob], local_zone: str | None) -> dict[str, str | None]:
    """Each job's timezone where it is not the machine's: Debian's cron has no CRON_TZ, so such a job's
    entry fires at every candidate minute and `exec --guard` runs it at its times in its zone."""
    return {
        job.id: job.timezone
        if job.timezone and not (local_zone and same_zone(job.timezone, local_zone))
        else None
        for job in jobs
    }


def _schedule_problems(config: Config, zones: dict[str, str | None], local_zone: str | None) -> list[Problem]:
    """The jobs cron cannot start at their times (seconds, @every), each said on its `cron` field."""
    problems = []
    for index, job in enumerate(config.jobs):
        if job.cron is None:
            continue
        try:
            crontab_form(parse(job.cron), zones[job.id], local_zone)
        except ScheduleError as exc:
            message = f"the crontab backend cannot run this schedule: {exc}"
            problems.append(Problem(str(config.space.jobs_file), message, index, job.name, "cron"))
    return problems


def scheduler_warnings() -> list[str]:
    """What stops the crontab's entries from running, said with the command that mends it."""
    if shutil.which("crontab") is not None and not crontab.cron_running():
        return [f"the cron daemon is not running, so no entry will run; start it: {crontab.start_command()}"]
    return []
