"""`cronsync run <job>`: run a job now through its scheduler, with a scheduled run's environment."""

from __future__ import annotations

import click

from cronsync.apply.engine import installed_backend
from cronsync.commands.common import BACKEND_OPTION, complete_job_names, find_job, user_space


@click.command()
@click.argument("job_name", metavar="JOB", shell_complete=complete_job_names)
@BACKEND_OPTION
@click.option("--no-wait", is_flag=True, help="systemd: start the service and return at once.")
@click.pass_context
def command(ctx: click.Context, job_name: str, backend: str, no_wait: bool) -> int:
    """Run JOB (its name or id) now: systemd starts its service, crontab runs its entry's command."""
    space = user_space(ctx)
    job = find_job(space, job_name)
    return installed_backend(backend, space).run_now(space, job.id, wait=not no_wait)
