"""`cronsync logs <job> [-n N] [-f]`: the job's journal lines, else its lines in scheduler.log."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import click

from cronsync.commands.common import complete_job_names, load_job, user_space
from cronsync.userspace.runlog import parse_record, read_json_lines

JOURNAL_SOCKET = Path("/run/systemd/journal/socket")


@click.command()
@click.argument("job_name", metavar="JOB", shell_complete=complete_job_names)
@click.option("-n", "--lines", "count", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.pass_context
def command(ctx: click.Context, job_name: str, count: int, follow: bool) -> None:
    """Show JOB's output (journal by SyslogIdentifier=cronsync-<id>, else USER/logs/scheduler.log)."""
    space = user_space(ctx)
    _config, job = load_job(space, job_name)
    identifier = f"cronsync-{job.id}"
    if _journal_available() and (follow or _journal_has(identifier)):
        argv = ["journalctl", "--no-pager", "-q", "-o", "short-iso", "-t", identifier, "-n", str(count)]
        os.execvp("journalctl", [*argv, "-f"] if follow else argv)
    _print_log(space.log_file, job.id, count, follow)


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


def _print_log(log_file: Path, job_id: str, count: int, follow: bool) -> None:
    import json
    from collections import deque

    for entry in deque((r for r in read_json_lines(log_file) if r.get("job_id") == job_id), maxlen=count):
        click.echo(json.dumps(entry))
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
                    click.echo(json.dumps(new))
            offset = handle.tell()
