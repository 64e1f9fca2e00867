"""`cronsync apply [--backend auto|systemd|crontab] [--json]`: install jobs.json's schedules."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

from cronsync.cli import fail, user_space
from cronsync.commands.common import BACKEND_OPTION, backend_errors
from cronsync.core.errors import InvalidInput
from cronsync.paths import UserSpace
from cronsync.sync import ApplyReport, Context, apply, choose_backend, watcher_apply

# The watcher's apply reads jobs.json once it has been left alone this long, so that a burst of
# saves is read once; a file saved without pause is read after WATCHER_SETTLE_MAX_SECONDS anyway
# (each later save starts another apply, so none is lost).
WATCHER_QUIET_SECONDS = 0.2
WATCHER_SETTLE_MAX_SECONDS = 3.0


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
                quiet_since, seen = time.monotonic(), _config_signature(space)
                _wait_until_the_path_unit_watches(context)
                _wait_until_quiet(space, quiet_since, seen)
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


def _config_signature(space: UserSpace) -> tuple[tuple[int, int, int] | None, ...]:
    """What changes when jobs.json or settings.json is saved, in place or by rename."""

    def stamp(path: Path) -> tuple[int, int, int] | None:
        try:
            info = os.stat(path)
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    return (stamp(space.jobs_file), stamp(space.settings_file), stamp(space.jobs_file.parent))


def _wait_until_quiet(space: UserSpace, quiet_since: float, seen: tuple[object, ...]) -> None:
    """Until the config files have not changed for WATCHER_QUIET_SECONDS (at most the max settle)."""
    deadline = quiet_since + WATCHER_SETTLE_MAX_SECONDS
    while (now := time.monotonic()) < deadline:
        current = _config_signature(space)
        if current != seen:
            quiet_since, seen = now, current
        elif now - quiet_since >= WATCHER_QUIET_SECONDS:
            return
        time.sleep(0.02)


def _wait_until_the_path_unit_watches(context: Context) -> None:
    """The path unit watches again only once cronsync-sync.service (which started this) has ended;
    reading jobs.json after that means every later save starts another apply."""
    from cronsync.adapters.systemd import wait_for
    from cronsync.core.render import SYNC_SERVICE_UNIT

    if context.manager is not None:
        wait_for(context.manager, [SYNC_SERVICE_UNIT], lambda s: s.active_state != "activating", timeout=30)
        time.sleep(0.2)  # systemd re-arms the path unit in a deferred event right after that


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
