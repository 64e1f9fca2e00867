"""`cronsync status [--json]` (alias `list`): each job, its schedule, next and last run, and drift."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import click

from cronsync.apply.engine import Backend, catches_up, installed_backend, make_plan
from cronsync.commands.common import BACKEND_OPTION, JSON_OPTION, config_or_last_valid, user_space
from cronsync.config import Config
from cronsync.core.describe import describe
from cronsync.core.errors import InvalidInput
from cronsync.core.health import Health, timing_of
from cronsync.core.ids import job_id
from cronsync.core.plan import JobPlan, Plan
from cronsync.core.schedule import parse
from cronsync.exec.readiness import will_fail
from cronsync.userspace.runhealth import healths
from cronsync.userspace.runlog import last_records

INSTALLED = {"unchanged": "in-sync", "create": "missing", "update": "differs"}


@click.command()
@BACKEND_OPTION
@JSON_OPTION
@click.pass_context
def command(ctx: click.Context, backend: str, as_json: bool) -> None:
    """List jobs: id, enabled, schedule, next run, last run, and whether the installed units match."""
    space = user_space(ctx)
    chosen = installed_backend(backend, space)
    config = config_or_last_valid(space)
    plan, refused = plan_around_refusals(config, chosen)
    rows = job_rows(config, chosen, {job.job_id: job for job in plan.jobs}, refused)
    if as_json:
        payload = {"ok": True, "backend": chosen.name, "jobs": rows, "warnings": plan.warnings}
        click.echo(json.dumps(payload, indent=2))
        return
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    print_rows(chosen.name, rows)


def plan_around_refusals(config: Config, backend: Backend) -> tuple[Plan, dict[str, list[str]]]:
    """The backend's plan, and what it refuses of each job (a seconds field on crontab, say): status
    shows what is installed of the others, and each refusal as a warning, where apply would stop."""
    try:
        return make_plan(config, backend), {}
    except InvalidInput as exc:
        refused: dict[str, list[str]] = {}
        for problem in exc.problems:
            if problem.job_name is None:
                raise
            refused.setdefault(job_id(problem.job_name), []).append(problem.message)
    kept = dataclasses.replace(config, jobs=[job for job in config.jobs if job.id not in refused])
    plan = make_plan(kept, backend)
    plan.warnings.extend(
        f"{backend.name} refuses job {job.name!r}: {reason}; `cronsync apply` fails until it is changed"
        for job in config.jobs
        for reason in refused.get(job.id, [])
    )
    return plan, refused


def job_rows(
    config: Config, backend: Backend, plans: dict[str, JobPlan], refused: dict[str, list[str]] | None = None
) -> list[dict[str, Any]]:
    logged = last_records(config.space.log_file)
    installed = {job_id for job_id, plan in plans.items() if plan.action != "create"}
    facts = backend.schedule_facts(config.jobs, installed)
    failing = will_fail(config.space)
    persistent = catches_up(config.space)
    health = healths(config.space, [(job.id, timing_of(job, catches_up=persistent)) for job in config.jobs])
    rows = []
    for job in config.jobs:
        plan = plans.get(job.id)
        row: dict[str, Any] = {
            "id": job.id,
            "name": job.name,
            "enabled": job.enabled,
            "schedule": job.cron,
            "schedule_description": _describe(job.cron),
            "timezone": job.timezone,
            "description": job.description,
            "next_run": None,
            "last_run": None,
            "last_result": None,
            "last_duration_s": None,
            "installed": _installed(plan, job.id in (refused or {})),
            "changes": plan.changes if plan else [],
            "will_fail": [*(refused or {}).get(job.id, []), *failing.get(job.id, [])],
        }
        row.update(facts.get(job.id, {}))
        _fill_from_log(row, logged.get(job.id))
        row.update(health_fields(health[job.id]))
        rows.append(row)
    return rows


def _installed(plan: JobPlan | None, refused: bool) -> str:
    if refused:
        return "refused"
    return INSTALLED.get(plan.action, "differs") if plan else "missing"


@functools.lru_cache(maxsize=1024)
def _describe(cron: str | None) -> str:
    return "when the jobs in its after succeed" if cron is None else describe(parse(cron))


def _fill_from_log(row: dict[str, Any], entry: dict[str, Any] | None) -> None:
    """The last run, its result and duration, from cronsync's own log in history's words (`success`,
    `failure`, `timeout`, `skipped`): on every backend the same, and when the run started, not when a
    timer elapsed."""
    if entry is None:
        return
    status, start, duration = entry.get("status"), entry.get("start"), entry.get("duration")
    row["last_result"] = status if isinstance(status, str) else None
    row["last_run"] = start if isinstance(start, str) else None
    row["last_duration_s"] = duration if isinstance(duration, int | float) else None


def health_fields(health: Health) -> dict[str, Any]:
    """`health`, `missed_runs` and `last_missed` of a status row (README: "Health")."""
    last = health.last_missed
    return {
        "health": health.health,
        "missed_runs": health.missed_runs,
        "last_missed": last.isoformat(timespec="seconds") if last else None,
    }


def health_line(row: dict[str, Any]) -> str:
    line = f"health: {row['health']}"
    if row["missed_runs"]:
        line += f" ({row['missed_runs']} missed, the last at {row['last_missed']})"
    return line


def print_rows(backend: str, rows: list[dict[str, Any]]) -> None:
    click.echo(f"backend: {backend}")
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        click.echo(
            f"{row['id']}  ({row['name']})  {state}  {row['schedule'] or '-'}: {row['schedule_description']}"
        )
        if row["description"]:
            click.echo(f"    {row['description']}")
        last = "never"
        if row["last_run"]:
            last = f"{row['last_run']} {row['last_result'] or ''}".rstrip()
            if row["last_duration_s"] is not None:
                last += f" in {row['last_duration_s']}s"
        drift = row["installed"] + (f" ({', '.join(row['changes'])})" if row["changes"] else "")
        click.echo(f"    next: {row['next_run'] or '-'}   last: {last}   installed: {drift}")
        click.echo(f"    {health_line(row)}")
        for reason in row["will_fail"]:
            click.echo(f"    will fail: {reason}")
