"""`cronsync apply [--backend auto|systemd|crontab] [--json]`: install jobs.json's schedules."""

from __future__ import annotations

import json
import os
import sys
import time

import click

from cronsync.cli import fail, user_space
from cronsync.commands.common import BACKEND_OPTION, backend_errors
from cronsync.config import read_sources
from cronsync.core.errors import InvalidInput
from cronsync.paths import UserSpace
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
            code = _watch_rounds(space, context)
            # Exit at once: a save landing after the last check and before the exit would be missed.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        try:
            _, report, _ = apply(space, context)
        except InvalidInput as exc:
            fail(exc, as_json=as_json)
        _print_report(report, as_json)
        ctx.exit(0 if report.ok else 1)


def _watch_rounds(space: UserSpace, context: Context) -> int:
    """Apply until jobs.json stops changing: saves during an apply do not start the service again."""
    time.sleep(WATCHER_SETTLE_SECONDS)
    code = 0
    for _ in range(WATCHER_MAX_ROUNDS):
        seen = _jobs_bytes(space)
        try:
            _, report, _ = apply(space, context)
            _print_report(report, as_json=False)
            code = 0 if report.ok else 1
        except InvalidInput as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            click.echo("nothing was changed; fix jobs.json and save again", err=True)
            code = 1
        if _jobs_bytes(space) == seen:
            break
    return code


def _jobs_bytes(space: UserSpace) -> bytes | None:
    try:
        return read_sources(space)[0]
    except InvalidInput:
        return None  # no jobs.json (mid-rename, or deleted): apply reports it


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
