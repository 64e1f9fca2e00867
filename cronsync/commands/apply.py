"""`cronsync apply [--backend auto|systemd|crontab] [--json]`: install jobs.json's schedules."""

from __future__ import annotations

import json

import click

from cronsync.apply.report import ApplyReport, JobReport
from cronsync.commands.common import BACKEND_OPTION, JSON_OPTION, user_space
from cronsync.core.errors import InvalidInput


@click.command()
@BACKEND_OPTION
@JSON_OPTION
@click.option("--from-watcher", is_flag=True, hidden=True, help="Run for cronsync-sync.service.")
@click.pass_context
def command(ctx: click.Context, backend: str, as_json: bool, from_watcher: bool) -> int:
    """Install, update and remove timers (or crontab entries) to match jobs.json."""
    space = user_space(ctx)
    if from_watcher:
        from cronsync.apply.watcher import watcher_apply

        try:
            report = watcher_apply(space)
        except InvalidInput:
            click.echo("jobs.json was saved with errors; nothing was changed", err=True)
            raise
        if report is None:
            return 0
    else:
        from cronsync.apply.engine import apply, choose_backend

        report = apply(space, choose_backend(backend, space))[1]
    from cronsync.apply.provision import provision

    provisioned = provision(space) if report.ok else None
    if provisioned is not None:
        report.healthchecks, warnings = provisioned
        report.warnings.extend(warnings)
    if report.ok:
        from cronsync.apply.fleetstate import write_heartbeat

        warning = write_heartbeat(space)
        if warning is not None:
            report.warnings.append(warning)
    from cronsync.exec.readiness import will_fail

    for job_id, reasons in will_fail(space).items():
        report.warnings.extend(f"{job_id} will fail: {reason}" for reason in reasons)
    _print_report(report, as_json)
    return 0 if report.ok else 1


DONE = {"create": "created", "update": "updated", "delete": "removed", "unchanged": "unchanged"}


def _outcome(job: JobReport) -> str:
    """What happened to the job, once: `created`, `updated`, `removed`, `unchanged`, or FAILED."""
    return DONE[job.action] if job.ok else "FAILED"


def _what_next(job: JobReport) -> str:
    """When it runs next, or why it does not (a disabled job, a timer that did not come up)."""
    next_run = job.to_json()["next_run"]
    if not job.ok or job.detail not in ("ok", "removed"):
        return job.detail
    return f"next run {next_run}" if next_run else ""


def _print_report(report: ApplyReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"backend: {report.backend}")
    width = max((len(job.job_id) for job in report.jobs), default=0)
    for job in report.jobs:
        click.echo(f"  {_outcome(job):<9}  {job.job_id:<{width}}  {_what_next(job)}".rstrip())
    if not report.changed:
        click.echo("no changes")
    elif report.reloaded:
        click.echo(
            f"wrote {len(report.files_written)}, deleted {len(report.files_deleted)} file(s); reloaded"
        )
