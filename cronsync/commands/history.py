"""`cronsync history [<job>] [-n N] [--json]`: the last runs from USER/logs/scheduler.log."""

from __future__ import annotations

import contextlib
import json
from collections import deque
from typing import Any

import click

from cronsync.commands.common import RUN_HEADER, find_job, format_row, user_space
from cronsync.core.errors import InvalidInput
from cronsync.core.ids import job_id
from cronsync.userspace.paths import UserSpace
from cronsync.userspace.runlog import read_json_lines


def matches(record: dict[str, Any], wanted: str) -> bool:
    return wanted in (record.get("job_id"), record.get("job_name")) or record.get("job_id") == job_id(wanted)


def _check_known(space: UserSpace, job: str) -> None:
    """CronsyncError unless jobs.json (or its last valid version) has the job; with neither to tell it by,
    a job without runs is no error."""
    with contextlib.suppress(InvalidInput):
        find_job(space, job)


@click.command()
@click.argument("job", required=False)
@click.option("-n", "count", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the log records as a JSON array.")
@click.pass_context
def command(ctx: click.Context, job: str | None, count: int, as_json: bool) -> None:
    """The last runs (of JOB, an id or name, if given): start, trigger, status, duration, exit code."""
    space = user_space(ctx)
    records = (r for r in read_json_lines(space.log_file) if job is None or matches(r, job))
    last = list(deque(records, maxlen=count))
    if job is not None and not last:
        _check_known(space, job)  # an unknown job is an error, as for run and logs
    if as_json:
        click.echo(json.dumps(last, indent=2, ensure_ascii=False, allow_nan=False))
        return
    if not last:
        where = f" of {job!r}" if job else ""
        click.echo(f"no runs{where} in {space.log_file}")
        return
    click.echo(RUN_HEADER)
    for record in last:
        click.echo(format_row(record))
