"""`cronsync run <job>`: run a job now through its scheduler, with a scheduled run's environment."""

from __future__ import annotations

import os
import subprocess
import time

import click

from cronsync.adapters import crontab
from cronsync.adapters.systemd import Manager
from cronsync.cli import fail, user_space
from cronsync.commands.common import BACKEND_OPTION, backend_errors, complete_job_names, load_job
from cronsync.config import AnyJob
from cronsync.core import render
from cronsync.paths import UserSpace
from cronsync.sync import installed_backend

# What cron gives every job (crontab(5)), before the crontab's own variable lines.
CRON_BASE_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}


@click.command()
@click.argument("job_name", metavar="JOB", shell_complete=complete_job_names)
@BACKEND_OPTION
@click.option("--no-wait", is_flag=True, help="systemd: start the service and return at once.")
@click.pass_context
def command(ctx: click.Context, job_name: str, backend: str, no_wait: bool) -> None:
    """Run JOB (its name or id) now: systemd starts its service, crontab runs its entry's command."""
    space = user_space(ctx)
    with backend_errors():
        _config, job = load_job(space, job_name)
        context = installed_backend(backend)
        if context.backend == "systemd":
            assert context.manager is not None
            code = _run_systemd(space, job, context.manager, no_wait)
        else:
            code = _run_crontab(space, job)
    ctx.exit(code)


def _run_systemd(space: UserSpace, job: AnyJob, manager: Manager, no_wait: bool) -> int:
    service = render.service_name(job.id)
    before = manager.states([service], history=True)[service]
    if not before.loaded:
        fail(f"{service} is not installed ({before.load_state}); run `cronsync apply` first")
    space.request_manual_run(job.id)  # exec records the run as `manual`
    manager.start(service)
    click.echo(f"started {service}")
    if no_wait:
        return 0
    give_up_unstarted = time.monotonic() + 10
    while True:
        state = manager.states([service], history=True)[service]
        started = state.exec_start_usec != before.exec_start_usec
        if state.active_state in ("inactive", "failed") and (started or time.monotonic() > give_up_unstarted):
            break
        time.sleep(0.2)
    seconds = max(0, state.exec_exit_usec - state.exec_start_usec) / 1e6
    click.echo(f"{job.id}: {state.result} (exit {state.exit_status}) in {seconds:.1f}s")
    click.echo(f"output: cronsync logs {job.id}")
    if state.result != "success" and state.exit_status == 0:
        return 1  # the service failed without exec's status (it could not start, say)
    return state.exit_status  # exec's exit code: the job's status (see `cronsync exec`)


def _run_crontab(space: UserSpace, job: AnyJob) -> int:
    from crontab import CronTab

    from cronsync.sync import installation_target

    text = crontab.read() or ""
    if job.id not in crontab.split(text).entries():
        fail(f"{job.id} has no entry in the crontab; run `cronsync apply --backend crontab` first")
    environment = {
        "HOME": os.path.expanduser("~"),
        "LOGNAME": os.environ.get("LOGNAME", os.environ.get("USER", "")),
        **CRON_BASE_ENVIRONMENT,
        **{str(k): str(v) for k, v in CronTab(tab=crontab.split(text).user_text()).env.items()},
    }
    space.request_manual_run(job.id)  # exec records the run as `manual`
    argv = installation_target(space).command("exec", job.id)
    proc = subprocess.run(argv, env=environment, check=False)
    return proc.returncode
