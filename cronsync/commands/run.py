"""`cronsync run <job>`: run a job now through its scheduler, with a scheduled run's environment.

While the job already runs, a run asked for is what `overlap` says: skipped (nothing is started, so no
run request is left for a later timer run to take as its own), or queued: started when the current run
ends (with --no-wait, by a `cronsync run` left waiting in the background).
"""

from __future__ import annotations

import subprocess

import click

from cronsync import JOB_SKIPPED
from cronsync.apply.engine import installed_backend
from cronsync.apply.target import installation_target
from cronsync.commands.common import BACKEND_OPTION, complete_job_names, find_job, user_space
from cronsync.exec.overlap import wait_until_idle
from cronsync.userspace.paths import UserSpace, job_is_running


@click.command()
@click.argument("job_name", metavar="JOB", shell_complete=complete_job_names)
@BACKEND_OPTION
@click.option("--no-wait", is_flag=True, help="systemd: start the service and return at once.")
@click.pass_context
def command(ctx: click.Context, job_name: str, backend: str, no_wait: bool) -> int:
    """Run JOB (its name or id) now: systemd starts its service, crontab runs its entry's command.
    While JOB runs, the run is skipped or queued, as its `overlap` says."""
    space = user_space(ctx)
    job = find_job(space, job_name)
    scheduler = installed_backend(backend, space)
    if job_is_running(space, job.id):
        skipped_or_queued = _already_running(space, job.id, job.overlap, backend, no_wait)
        if skipped_or_queued is not None:
            return skipped_or_queued
    return scheduler.run_now(space, job.id, wait=not no_wait)


def _waits(overlap: str) -> str:
    """A run asked for by hand waits for the running one; only a scheduled run replaces it."""
    return "replace (only a scheduled run replaces it)" if overlap == "replace" else overlap


def _already_running(space: UserSpace, job_id: str, overlap: str, backend: str, no_wait: bool) -> int | None:
    """Say what becomes of this run; its exit code, or None once the current run has ended (queue)."""
    if overlap == "skip":
        click.echo(f"{job_id} is already running; overlap: skip, so this run is skipped (nothing started)")
        return JOB_SKIPPED
    if no_wait:
        subprocess.Popen(
            installation_target(space).command("run", job_id, "--backend", backend),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # it outlives this command: it waits, then starts the run
        )
        waits = _waits(overlap)
        click.echo(f"{job_id} is already running; overlap: {waits}, so this run starts when it ends")
        return 0
    click.echo(f"{job_id} is already running; overlap: {_waits(overlap)}: waiting for it to end")
    wait_until_idle(space, job_id)
    return None
