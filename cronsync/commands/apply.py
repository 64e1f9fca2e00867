"""`cronsync apply [--backend auto|systemd|crontab] [--json]`: install jobs.json's schedules."""

from __future__ import annotations

import json
import time

import click

from cronsync.cli import fail, user_space
from cronsync.commands.common import BACKEND_OPTION, backend_errors
from cronsync.core.errors import InvalidInput
from cronsync.sync import ApplyReport, apply, choose_backend, watcher_apply

# The watcher's apply waits this long so that a burst of saves is read once, and so that it reads
# jobs.json only after cronsync-sync.service (which started it) has ended and the path unit watches again.
WATCHER_SETTLE_SECONDS = 1.0


@click.command()
@BACKEND_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (see README).")
@click.option("--from-watcher", is_flag=True, hidden=True, help="Run for cronsync-sync.service.")
@click.pass_context
def command(ctx: click.Context, backend: str, as_json: bool, from_watcher: bool) -> None:
    """Install, update and remove timers (or crontab entries) to match jobs.json."""
    space = user_space(ctx)
    with backend_errors(as_json):
        context = choose_backend(backend)
        try:
            if from_watcher:
                time.sleep(WATCHER_SETTLE_SECONDS)
                report = watcher_apply(space, context)
                if report is None:
                    return
            else:
                report = apply(space, context)[1]
        except InvalidInput as exc:
            if from_watcher:
                click.echo("jobs.json was saved with errors; nothing was changed", err=True)
            fail(exc, as_json=as_json)
        _print_report(report, as_json)
        ctx.exit(0 if report.ok else 1)


def _print_report(report: ApplyReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"backend: {report.backend}")
    width = max((len(job.job_id) for job in report.jobs), default=0)
    for job in report.jobs:
        next_run = job.to_json()["next_run"]
        when = f"  next run {next_run}" if next_run else ""
        mark = "ok" if job.ok else "FAILED"
        click.echo(f"  {job.action:<9}  {job.job_id:<{width}}  {mark}: {job.detail}{when}")
    if not report.changed:
        click.echo("no changes")
    elif report.reloaded:
        click.echo(
            f"wrote {len(report.files_written)}, deleted {len(report.files_deleted)} file(s); reloaded"
        )
