"""`cronsync logs <job> [-n N] [-f]`: the job's journal lines, else its lines in scheduler.log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import click

from cronsync.commands.common import RUN_HEADER, complete_job_names, find_job, format_row, user_space
from cronsync.userspace.runlog import parse_record, read_json_lines

JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
EXCERPT_LINES = 5  # of a run's output (or cronsync's error), under its line


@click.command()
@click.argument("job_name", metavar="JOB", shell_complete=complete_job_names)
@click.option("-n", "--lines", "count", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option(
    "--json", "as_json", is_flag=True, help="Without a journal: the scheduler.log records, one a line."
)
@click.pass_context
def command(ctx: click.Context, job_name: str, count: int, follow: bool, as_json: bool) -> None:
    """Show JOB's output (journal by SyslogIdentifier=cronsync-<id>, else USER/logs/scheduler.log)."""
    space = user_space(ctx)
    job = find_job(space, job_name)
    identifier = f"cronsync-{job.id}"
    if not as_json and _journal_available() and (follow or _journal_has(identifier)):
        argv = ["journalctl", "--no-pager", "-q", "-o", "short-iso", "-t", identifier, "-n", str(count)]
        os.execvp("journalctl", [*argv, "-f"] if follow else argv)
    _print_log(space.log_file, job.id, count, follow, as_json)


def _journal_available() -> bool:
    return shutil.which("journalctl") is not None and JOURNAL_SOCKET.exists()


def _journal_has(identifier: str) -> bool:
    proc = subprocess.run(
        ["journalctl", "--no-pager", "-q", "-t", identifier, "-n", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _show(record: dict[str, Any], as_json: bool) -> None:
    """One run: its record as JSON, or history's columns and the start of its output."""
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    click.echo(format_row(record))
    excerpt = record.get("error") or record.get("excerpt") or ""
    for line in str(excerpt).strip().splitlines()[:EXCERPT_LINES]:
        click.echo(f"    {line}")


def _print_log(log_file: Path, job_id: str, count: int, follow: bool, as_json: bool) -> None:
    from collections import deque

    last = deque((r for r in read_json_lines(log_file) if r.get("job_id") == job_id), maxlen=count)
    if last and not as_json:
        click.echo(RUN_HEADER)
    for entry in last:
        _show(entry, as_json)
    if not follow:
        return
    offset = log_file.stat().st_size if log_file.exists() else 0
    while True:  # until Ctrl-C
        time.sleep(0.5)
        if not log_file.exists():
            continue
        size = log_file.stat().st_size
        if size < offset:  # rotated
            offset = 0
        with log_file.open("rb") as handle:
            handle.seek(offset)
            for line in handle:
                new = parse_record(line)
                if new is not None and new.get("job_id") == job_id:
                    _show(new, as_json)
            offset = handle.tell()
