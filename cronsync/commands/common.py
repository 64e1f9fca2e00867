"""What several commands share: the invocation (user space, JSON mode), --backend and --json, finding a job.

Commands raise; they never exit: `cronsync.cli.main` turns every error into its message and exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from cronsync import CronsyncError
from cronsync.userspace.paths import UserSpace, user_dir_path

if TYPE_CHECKING:  # the schema (pydantic) loads only where a command needs it: apply's fast path does not
    from cronsync.config import AnyJob, Config


class Invocation:
    """The click context's object: the user space of this run, and whether it prints JSON."""

    def __init__(self) -> None:
        self.space: UserSpace | None = None
        self.json_output = False


def user_space(ctx: click.Context) -> UserSpace:
    invocation = ctx.find_object(Invocation)
    if invocation is not None and invocation.space is not None:
        return invocation.space
    return UserSpace(user_dir_path(None))


def _json_mode(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    invocation = ctx.find_object(Invocation)
    if invocation is not None:
        invocation.json_output = value  # so that an error is printed as JSON too
    return value


JSON_OPTION: Callable[[Any], Any] = click.option(
    "--json", "as_json", is_flag=True, callback=_json_mode, help="Print one JSON object (see README)."
)

BACKEND_OPTION: Callable[[Any], Any] = click.option(
    "--backend",
    type=click.Choice(["auto", "systemd", "crontab"]),
    default="auto",
    show_default=True,
    help="systemd user timers, the user's crontab, or auto (systemd when a user manager answers).",
)


def complete_job_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of job names and ids from jobs.json (nothing when it cannot be read)."""
    from cronsync.config import parse_config, read_sources

    try:
        # While completing, the group callback has not run: read --user-dir from the root's params.
        space = UserSpace(user_dir_path(ctx.find_root().params.get("user_dir")))
        config, _ = parse_config(space, *read_sources(space))
    except Exception:
        return []
    names = [value for job in config.jobs for value in (job.id, job.name)]
    return [name for name in dict.fromkeys(names) if name.startswith(incomplete)]


def find_job(space: UserSpace, name_or_id: str) -> AnyJob:
    """The job named (or with the id) `name_or_id` in jobs.json; while jobs.json has errors, in its last
    valid version, with a warning: one job's error never blocks the others."""
    config = config_or_last_valid(space)
    job = config.find(name_or_id)
    if job is None:
        raise _no_such_job(space, name_or_id, [j.id for j in config.jobs])
    return job


def config_or_last_valid(space: UserSpace) -> Config:
    """jobs.json and settings.json validated; while they have errors, the last valid version (the one
    the compiled cache was made from), with a warning on stderr; InvalidInput when there is none."""
    from cronsync.config import last_valid_config, load_config
    from cronsync.core.errors import InvalidInput

    try:
        return load_config(space)
    except InvalidInput as exc:
        last = last_valid_config(space)
        if last is None:
            raise
        click.echo(
            f"warning: {space.jobs_file} has {len(exc.problems)} problem(s) (see `cronsync validate`); "
            "using its last valid version",
            err=True,
        )
        return last


def _no_such_job(space: UserSpace, name_or_id: str, known: list[str]) -> CronsyncError:
    listed = ", ".join(known) or "none"
    return CronsyncError(f"no job named or with id {name_or_id!r} in {space.jobs_file} (jobs: {listed})")


RUN_HEADER = f"{'START':<19}  {'JOB':<28}  {'TRIGGER':<7}  {'STATUS':<8}  {'DURATION':>8}  {'EXIT':>4}"


def format_row(record: dict[str, Any]) -> str:
    """One run's line; a missed instant (history) shows when it was scheduled and `-` for the rest."""
    missed = record.get("status") == "missed"
    start = str(record.get("scheduled" if missed else "start", ""))[:19].replace("T", " ")
    duration = record.get("duration")
    shown = f"{duration:.1f}s" if isinstance(duration, int | float) else "-" if missed else "?"
    code = record.get("exit_code", "-" if missed else "")
    return (
        f"{start:<19}  {record.get('job_id', '')!s:<28}  {record.get('trigger', '')!s:<7}  "
        f"{record.get('status', '')!s:<8}  {shown:>8}  {code!s:>4}"
    )
