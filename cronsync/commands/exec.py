"""`cronsync exec <job> [--dry-run] [--trigger timer|manual]`: run one job, as its timer does.

Timers and crontab entries never come here: `cronsync/__main__.py` hands their argv to
`cronsync.exec.main` before click loads. This click command serves `--help`, usage errors and
`cronsync --user-dir D exec` when it reaches click.
"""

from __future__ import annotations

import click

from cronsync.commands.common import user_space

EXIT_CODES_HELP = """\b
Exit codes:
  0    the job succeeded
  N    the job failed with exit code N (128+S when killed by signal S)
  124  the job timed out (its process group got SIGTERM, then SIGKILL)
  75   skipped (overlap: skip): the previous run or a process of it still runs, or the
       timer's scheduled time fell while the previous run ran
  78   the job is missing from jobs.json, invalid, or cannot start as configured
  70   a bug in cronsync (the details are in USER/logs/errors.log; the run is still logged)"""


def _trigger(value: str | None) -> str | None:
    from cronsync.exec.main import valid_trigger

    if value is not None and not valid_trigger(value):
        raise click.BadParameter(
            f"{value!r} is not one of 'timer', 'manual', 'after:<job id>', 'on_failure:<job id>'"
        )
    return value


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("job")
@click.option("--dry-run", is_flag=True, help="Show what would run (command, cwd, env names, gateways).")
@click.option(
    "--trigger",
    default=None,
    callback=lambda _ctx, _param, value: _trigger(value),
    help="Recorded in the log: timer, manual, after:<job id> or on_failure:<job id> (default: manual if "
    "`cronsync run` asked for this run, else timer; under systemd a run OnSuccess=/OnFailure= started says "
    "which job's run started it).",
)
@click.option(
    "--guard",
    is_flag=True,
    help="Run only if this minute is one of the job's times, else exit 0 doing nothing (what a crontab "
    "entry that fires more often than the schedule passes: L, W, #, a job timezone).",
)
@click.pass_context
def command(ctx: click.Context, job: str, dry_run: bool, trigger: str | None, guard: bool) -> int:
    """Run JOB (its id or name) now, as its timer or crontab entry does: lock, run, log, notify."""
    from cronsync.exec.main import main

    return main(user_space(ctx), job, trigger=trigger, dry_run=dry_run, guard=guard)
