"""`cronsync history [<job>] [-n N] [--json]`: the last runs from USER/logs/scheduler.log."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import click

from cronsync.commands.common import RUN_HEADER, format_row, user_space
from cronsync.core.ids import job_id
from cronsync.userspace.runlog import read_json_lines


def matches(record: dict[str, Any], wanted: str) -> bool:
    return wanted in (record.get("job_id"), record.get("job_name")) or record.get("job_id") == job_id(wanted)


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
    if as_json:
        click.echo(json.dumps(last, indent=2, ensure_ascii=False))
        return
    if not last:
        where = f" of {job!r}" if job else ""
        click.echo(f"no runs{where} in {space.log_file}")
        return
    click.echo(RUN_HEADER)
    for record in last:
        click.echo(format_row(record))
