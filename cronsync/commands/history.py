"""`cronsync history [<job>] [-n N] [--json]`: the last runs from USER/logs/scheduler.log."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import click

from cronsync.commands.common import user_space
from cronsync.core.ids import job_id
from cronsync.userspace.runlog import read_json_lines


def matches(record: dict[str, Any], wanted: str) -> bool:
    return wanted in (record.get("job_id"), record.get("job_name")) or record.get("job_id") == job_id(wanted)


def format_row(record: dict[str, Any]) -> str:
    start = str(record.get("start", ""))[:19].replace("T", " ")
    duration = record.get("duration")
    shown = f"{duration:.1f}s" if isinstance(duration, int | float) else "?"
    code = record.get("exit_code", "")
    return (
        f"{start:<19}  {record.get('job_id', '')!s:<28}  {record.get('trigger', '')!s:<7}  "
        f"{record.get('status', '')!s:<8}  {shown:>8}  {code!s:>4}"
    )


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
        click.echo(json.dumps(last, indent=2, ensure_ascii=False, allow_nan=False))
        return
    if not last:
        where = f" of {job!r}" if job else ""
        click.echo(f"no runs{where} in {space.log_file}")
        return
    click.echo(f"{'START':<19}  {'JOB':<28}  {'TRIGGER':<7}  {'STATUS':<8}  {'DURATION':>8}  {'EXIT':>4}")
    for record in last:
        click.echo(format_row(record))
