"""`cronsync fleet status [--json]`: the fleet's hosts (last seen, which jobs.json each applied) and its
jobs (hosts, run_on, the last claimed runs of a run_on "one" job, the next slot), read from etcd."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from cronsync.adapters.etcd import EtcdError
from cronsync.apply.fleetstate import Fleet, configured_fleet, unreachable
from cronsync.commands.common import JSON_OPTION, config_or_last_valid, user_space
from cronsync.config import AnyJob, Config
from cronsync.core.fleet import slot_name
from cronsync.core.fleetview import LAST_RUNS, host_rows, last_runs
from cronsync.core.schedule import next_fires, parse


@click.group()
def command() -> None:
    """Several machines sharing one jobs.json through etcd (settings.json "fleet")."""


@command.command("status")
@JSON_OPTION
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The fleet's hosts and jobs: who applied which jobs.json, who ran each run_on "one" time."""
    space = user_space(ctx)
    config = config_or_last_valid(space)
    settings = config.settings.fleet
    fleet = configured_fleet(space, settings.model_dump(mode="json") if settings is not None else None)
    try:
        payload = fleet_status(fleet, config)
    except EtcdError as exc:
        raise unreachable(exc) from None
    finally:
        fleet.client.close()
    if as_json:
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        print_status(fleet, payload)


def fleet_status(fleet: Fleet, config: Config) -> dict[str, Any]:
    hosts = host_rows(fleet.heartbeats(), fleet.jobs_digest)
    everyone = sorted([*config.jobs, *config.elsewhere], key=lambda job: job.id)
    jobs = [_job_row(fleet, job) for job in everyone]
    return {"ok": True, "hosts": hosts, "jobs": jobs}


def _job_row(fleet: Fleet, job: AnyJob) -> dict[str, Any]:
    # twice as many as shown: a value that is no claim (written by hand, say) is left out
    runs = last_runs(fleet.claimed_runs(job.id, 2 * LAST_RUNS)) if job.run_on == "one" else []
    return {
        "id": job.id,
        "name": job.name,
        "hosts": job.hosts,
        "run_on": job.run_on,
        "last_runs": runs,
        "next_run": next_slot(job),
    }


def next_slot(job: AnyJob) -> str | None:
    """The job's next scheduled time, as its slot is named (UTC); None for a disabled or @reboot job, or
    one without a schedule of its own."""
    if not job.enabled or job.cron is None:  # no cron: it runs after other jobs, at no time of its own
        return None
    fires = next_fires(parse(job.cron), datetime.now(UTC), 1, job.timezone)
    return slot_name(int(fires[0].timestamp())) if fires else None


def print_status(fleet: Fleet, payload: dict[str, Any]) -> None:
    click.echo(f"fleet: etcd {fleet.endpoints}, prefix {fleet.prefix}; this host: {fleet.host}")
    hosts = payload["hosts"]
    if not hosts:
        click.echo("hosts: none has applied yet (each writes its heartbeat on `cronsync apply`)")
    else:
        click.echo("hosts:")
    width = max((len(row["host"]) for row in hosts), default=0)
    for row in hosts:
        digest = (row["config_digest"] or "?")[:12]
        state = "current" if row["current"] else "DIFFERENT jobs.json: runs can be doubled or lost"
        mine = "  (this host)" if row["host"] == fleet.host else ""
        click.echo(f"  {row['host']:<{width}}  last seen {row['last_seen'] or '?'}  {digest}  {state}{mine}")
    stale = [row["host"] for row in hosts if not row["current"]]
    if stale:
        click.echo(f"warning: {', '.join(stale)} applied another jobs.json; ship the same one and apply")
    click.echo("jobs:")
    for job in payload["jobs"]:
        where = ", ".join(job["hosts"]) if job["hosts"] is not None else "every host"
        click.echo(f"  {job['id']}  ({job['name']})  run_on {job['run_on']}  on {where}")
        click.echo(f"      next: {job['next_run'] or '-'}")
        for run in job["last_runs"]:
            click.echo(f"      {run['slot']}  {run['host'] or '?'}  {run['status'] or '?'}")
        if job["run_on"] == "one" and not job["last_runs"]:
            click.echo("      no claimed runs yet")
