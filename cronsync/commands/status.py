"""`cronsync status [--json]` (alias `list`): each job, its schedule, next and last run, and drift."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

import click

from cronsync.cli import fail, user_space
from cronsync.commands.common import BACKEND_OPTION, backend_errors
from cronsync.config import AnyJob, Config, load_config
from cronsync.core import render
from cronsync.core.errors import InvalidInput
from cronsync.core.schedule import describe, next_fires, parse
from cronsync.runlog import read_json_lines
from cronsync.sync import Context, JobPlan, installed_backend, make_plan

INSTALLED = {"unchanged": "in-sync", "create": "missing", "update": "differs"}


@click.command()
@BACKEND_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (see README).")
@click.pass_context
def command(ctx: click.Context, backend: str, as_json: bool) -> None:
    """List jobs: id, enabled, schedule, next run, last run, and whether the installed units match."""
    space = user_space(ctx)
    with backend_errors(as_json):
        context = installed_backend(backend)
        try:
            config = load_config(space)
            plan = make_plan(config, context)
        except InvalidInput as exc:
            fail(exc, as_json=as_json)
        rows = job_rows(config, context, {job.job_id: job for job in plan.jobs})
    if as_json:
        click.echo(json.dumps({"ok": True, "backend": context.backend, "jobs": rows}, indent=2))
    else:
        print_rows(context.backend, rows)


def _iso(usec: int) -> str | None:
    return datetime.fromtimestamp(usec / 1e6, UTC).isoformat(timespec="seconds") if usec > 0 else None


def job_rows(config: Config, context: Context, plans: dict[str, JobPlan]) -> list[dict[str, Any]]:
    states = {}
    if context.backend == "systemd" and context.manager is not None:
        names = [n for job in config.jobs for n in (render.timer_name(job.id), render.service_name(job.id))]
        states = context.manager.states(names, history=True)  # one connection, every unit
    logged: dict[
        object, dict[str, Any]
    ] = {}  # each job's last record, from one read of the log (not one per job)
    for record in read_json_lines(config.space.log_file):
        logged[record.get("job_id")] = record
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
            "installed": INSTALLED.get(plan.action, "differs") if plan else "missing",
            "changes": plan.changes if plan else [],
        }
        if states:
            timer, service = states[render.timer_name(job.id)], states[render.service_name(job.id)]
            row["next_run"] = _iso(timer.next_elapse_usec)
            row["last_run"] = _iso(timer.last_trigger_usec or service.exec_start_usec)
            if service.exec_start_usec:
                row["last_result"] = service.result or None
                if service.exec_exit_usec >= service.exec_start_usec:
                    row["last_duration_s"] = round(
                        (service.exec_exit_usec - service.exec_start_usec) / 1e6, 3
                    )
        elif job.enabled and row["installed"] != "missing":
            row["next_run"] = _next_cron_run(job)
        _fill_from_log(row, logged.get(job.id))
        rows.append(row)
    return rows


@functools.lru_cache(maxsize=1024)
def _describe(cron: str) -> str:
    return describe(parse(cron))


def _next_cron_run(job: AnyJob) -> str | None:
    """Cron runs entries in the machine's local time."""
    fires = next_fires(parse(job.cron), datetime.now().astimezone(), 1)
    return fires[0].isoformat(timespec="seconds") if fires else None


def _fill_from_log(row: dict[str, Any], entry: dict[str, Any] | None) -> None:
    """Where the manager knows no last run (crontab, or a cleared journal), exec's log does."""
    if entry is None:
        return
    row["last_result"] = row["last_result"] or entry.get("status")
    row["last_run"] = row["last_run"] or entry.get("start")
    if row["last_duration_s"] is None:
        duration = entry.get("duration")
        row["last_duration_s"] = duration if isinstance(duration, int | float) else None


def print_rows(backend: str, rows: list[dict[str, Any]]) -> None:
    click.echo(f"backend: {backend}")
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        click.echo(f"{row['id']}  ({row['name']})  {state}  {row['schedule']}: {row['schedule_description']}")
        if row["description"]:
            click.echo(f"    {row['description']}")
        last = "never"
        if row["last_run"]:
            last = f"{row['last_run']} {row['last_result'] or ''}".rstrip()
            if row["last_duration_s"] is not None:
                last += f" in {row['last_duration_s']}s"
        drift = row["installed"] + (f" ({', '.join(row['changes'])})" if row["changes"] else "")
        click.echo(f"    next: {row['next_run'] or '-'}   last: {last}   installed: {drift}")
