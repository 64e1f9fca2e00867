"""`cronsync watch [--json] [--no-notify]`: every job's health; tell the watchdog's gateways what changed.

Installed by settings.json "watch" as `cronsync-watch.timer` (or a crontab entry) running
`cronsync watch --scheduled`. A job that becomes missed, late or failing is told once, and once more
when it recovers (state/watch.json remembers what was told); a missed run between two checks that
ran again since is told once too. The watchdog checks itself: a scheduled run finds the times its
schedule says it should have run since its last scheduled run, and says so.
Exit code: 0 when every job is healthy, WATCH_UNHEALTHY (3) when one is not (or the watchdog itself
missed runs).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click

from cronsync import OK, WATCH_UNHEALTHY
from cronsync.adapters import systemd
from cronsync.apply.diagnose import causes
from cronsync.apply.engine import catches_up
from cronsync.commands.common import JSON_OPTION, config_or_last_valid, user_space
from cronsync.config import AnyJob
from cronsync.core.health import PROBLEMS, Health, JobTiming, scheduled_instants, timing_of, watch_schedule
from cronsync.userspace.paths import SECRETS_FILE, UserSpace
from cronsync.userspace.runhealth import healths, runs_by_job
from cronsync.userspace.watchstate import (
    Reported,
    WatchState,
    lock_watch_state,
    read_watch_state,
    write_watch_state,
)


@dataclass
class Finding:
    job_id: str
    name: str
    health: str
    missed_runs: int = 0
    last_missed: str | None = None
    causes: list[str] = field(default_factory=list)
    event: str | None = None  # what is told this time (a new problem, a recovery), if anything
    notified: bool = False


@click.command()
@JSON_OPTION
@click.option("--no-notify", is_flag=True, help="Print only: tell no gateway, remember nothing.")
@click.option("--scheduled", is_flag=True, hidden=True, help="Run by the watchdog's own timer or entry.")
@click.pass_context
def command(ctx: click.Context, as_json: bool, no_notify: bool, scheduled: bool) -> int:
    """Check every job for missed, late and failing runs; exit 3 when one is unhealthy."""
    space = user_space(ctx)
    fd = None if no_notify else lock_watch_state(space)
    try:
        findings, watchdog = check(space, notify=not no_notify, scheduled=scheduled)
    finally:
        if fd is not None:
            os.close(fd)
    unhealthy = any(f.health in PROBLEMS for f in findings) or watchdog is not None
    if as_json:
        payload = {
            "ok": not unhealthy,
            "jobs": [vars(f) for f in findings],
            "watchdog": {"missed": watchdog},
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        for line in report_lines(findings, watchdog, only_events=scheduled):
            click.echo(line)
    return WATCH_UNHEALTHY if unhealthy else OK


def check(space: UserSpace, *, notify: bool, scheduled: bool) -> tuple[list[Finding], str | None]:
    config = config_or_last_valid(space)
    now = datetime.now(UTC)
    persistent = catches_up(space)
    jobs = [job for job in config.jobs if job.enabled]
    logged = runs_by_job(space)
    runs = logged[0]
    found = healths(space, [(job.id, timing_of(job, catches_up=persistent)) for job in jobs], now, logged)
    manager = systemd.connect() if any(found[j.id].health in PROBLEMS for j in jobs) else None
    state = read_watch_state(space)
    findings = []
    for job in jobs:
        finding = _finding(job, found[job.id])
        if finding.health in PROBLEMS or finding.missed_runs:
            persistent_job = job.persistent and persistent
            seen = causes(space, job.id, persistent_job, found[job.id], runs.get(job.id, []), manager)
            finding.causes = [cause.text for cause in seen]
        finding.event = _event(finding, found[job.id], state.jobs.get(job.id, Reported()))
        findings.append(finding)
    watch = config.settings.watch
    watchdog = _own_misses(state, now, watch_schedule(watch.every)) if watch and scheduled else None
    if not notify:
        return findings, watchdog
    gateways = watch.gateways if watch else []
    told = _tell(space, gateways, dict(config.settings.gateways), findings, watchdog)
    for finding in findings:
        if finding.event is None or told:
            state.jobs[finding.job_id] = Reported(_problem(finding), finding.last_missed)
        finding.notified = told and finding.event is not None and bool(gateways)
    state.jobs = {job_id: r for job_id, r in state.jobs.items() if job_id in found}
    if scheduled:
        state.scheduled_run = now
    write_watch_state(space, state)
    return findings, watchdog


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _finding(job: AnyJob, health: Health) -> Finding:
    last = health.last_missed
    return Finding(job.id, job.name, health.health, health.missed_runs, iso(last) if last else None)


def _problem(finding: Finding) -> str:
    return finding.health if finding.health in PROBLEMS else "ok"


def _event(finding: Finding, health: Health, reported: Reported) -> str | None:
    """What is new since the last report: a problem, a recovery, or misses between two checks."""
    problem = _problem(finding)
    name = finding.name
    likely = f"; likely: {'; '.join(finding.causes)}" if finding.causes else ""
    if problem != "ok" and problem != reported.problem:
        if problem == "missed":
            last = finding.last_missed
            return f"{name}: missed: {finding.missed_runs} run(s) missed, the last at {last}{likely}"
        if problem == "failing":
            return f"{name}: failing: its last {health.failed_in_a_row} runs failed{likely}"
        late = health.instants[-1]
        return f"{name}: late: its last run started {late.late_by or 0:.0f}s after {iso(late.at)}"
    if problem == "ok" and reported.problem != "ok":
        return f"{name}: recovered: it runs again (was {reported.problem})"
    new = [
        i
        for i in health.of_kind("missed")
        if reported.last_missed is None or i.at > _parsed(reported.last_missed)
    ]
    if problem == "ok" and new:
        return (
            f"{name}: missed {len(new)} run(s) since the last check, the last at "
            f"{iso(new[-1].at)}; it has run since{likely}"
        )
    return None


def _parsed(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _own_misses(state: WatchState, now: datetime, expression: str) -> str | None:
    """The watchdog's own missed runs since its last scheduled run: every time its schedule named
    since then but the latest, which this run answers."""
    if state.scheduled_run is None:
        return None
    missed = scheduled_instants(JobTiming(expression), state.scheduled_run, now)[:-1]
    if not missed:
        return None
    return (
        f"cronsync watchdog: it did not run {len(missed)} time(s) it should have since "
        f"{iso(state.scheduled_run)}, the last at {iso(missed[-1])}"
    )


def _tell(
    space: UserSpace,
    gateways: list[str],
    urls: dict[str, list[str]],
    findings: list[Finding],
    watchdog: str | None,
) -> bool:
    """Each event to the gateways; whether they were all delivered (nothing to deliver is delivered)."""
    messages = [f.event for f in findings if f.event is not None] + ([watchdog] if watchdog else [])
    if not gateways or not messages:
        return True
    from cronsync.adapters.notify import notify_gateways
    from cronsync.userspace.secrets import Secrets

    secrets = Secrets(space.path(SECRETS_FILE))
    delivered = True
    for text in messages:
        results: list[dict[str, Any]] = notify_gateways(gateways, urls, text, failed=True, secrets=secrets)
        delivered = delivered and all(result["ok"] for result in results)
        for result in results:
            if not result["ok"]:
                click.echo(f"cronsync watch: notification failed: {result['error']}", err=True)
    return delivered


def report_lines(findings: list[Finding], watchdog: str | None, *, only_events: bool) -> list[str]:
    lines = []
    for finding in findings:
        if only_events:
            if finding.event:
                lines.append(finding.event)
            continue
        line = f"{finding.job_id}: {finding.health}"
        if finding.missed_runs:
            line += f" ({finding.missed_runs} missed, the last at {finding.last_missed})"
        lines.append(line)
        lines.extend(f"    likely: {cause}" for cause in finding.causes)
    if watchdog:
        lines.append(watchdog)
    return lines
