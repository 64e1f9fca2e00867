"""`cronsync apply [--backend auto|systemd|crontab] [--json]`: install jobs.json's schedules."""

from __future__ import annotations

import json
import time

import click

from cronsync.cli import fail, user_space
from cronsync.commands.common import BACKEND_OPTION, backend_errors
from cronsync.config import read_sources
from cronsync.core.errors import InvalidInput
from cronsync.sync import ApplyReport, Context, apply, choose_backend

# The watcher waits this long so that a burst of saves is read once, then re-applies while the file
# keeps changing: a save that lands after apply read jobs.json does not start the service again.
WATCHER_SETTLE_SECONDS = 1.0
WATCHER_MAX_ROUNDS = 10


@click.command()
@BACKEND_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (see README).")
@click.option("--from-watcher", is_flag=True, hidden=True, help="Run by cronsync-sync.service.")
@click.pass_context
def command(ctx: click.Context, backend: str, as_json: bool, from_watcher: bool) -> None:
    """Install, update and remove timers (or crontab entries) to match jobs.json."""
    space = user_space(ctx)
    with backend_errors(as_json):
        context = choose_backend(backend)
        if from_watcher:
            time.sleep(WATCHER_SETTLE_SECONDS)
        for _ in range(WATCHER_MAX_ROUNDS if from_watcher else 1):
            report, applied = _apply_once(ctx, context, as_json)
            _print_report(report, as_json)
            if not report.ok:
                ctx.exit(1)
            if not from_watcher or read_sources(space)[0] == applied:
                break


def _apply_once(ctx: click.Context, context: Context, as_json: bool) -> tuple[ApplyReport, bytes]:
    try:
        _, report, applied = apply(user_space(ctx), context)
    except InvalidInput as exc:
        fail(exc, as_json=as_json)
    return report, applied


def _print_report(report: ApplyReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
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
