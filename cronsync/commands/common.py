"""Pieces several commands share: the --backend option and turning machine errors into exit 1."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from cronsync.adapters.crontab import CrontabError
from cronsync.adapters.systemd import SystemdError
from cronsync.cli import fail
from cronsync.core.errors import InvalidInput
from cronsync.paths import UserSpace
from cronsync.sync import BackendUnavailable, InstallError

if TYPE_CHECKING:  # the schema (pydantic) loads only where a command needs it: apply's fast path does not
    from cronsync.config import AnyJob, Config

BACKEND_OPTION: Callable[[Any], Any] = click.option(
    "--backend",
    type=click.Choice(["auto", "systemd", "crontab"]),
    default="auto",
    show_default=True,
    help="systemd user timers, the user's crontab, or auto (systemd when a user manager answers).",
)


@contextlib.contextmanager
def backend_errors(as_json: bool = False) -> Iterator[None]:
    """A scheduler that refuses or is missing: a clear message and exit 1, never a traceback."""
    try:
        yield
    except (BackendUnavailable, SystemdError, CrontabError, InstallError) as exc:
        fail(str(exc), as_json=as_json)
    except InvalidInput as exc:  # e.g. an unsafe state file met under the apply lock
        fail(exc, as_json=as_json)


def complete_job_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of job names and ids from jobs.json (nothing when it cannot be read)."""
    from cronsync.config import parse_config, read_sources
    from cronsync.paths import UserSpace, resolve_user_dir

    try:
        # While completing, the group callback has not run: read --user-dir from the root's params.
        space = UserSpace(resolve_user_dir(ctx.find_root().params.get("user_dir")))
        config, _ = parse_config(space, *read_sources(space))
    except Exception:
        return []
    names = [value for job in config.jobs for value in (job.id, job.name)]
    return [name for name in dict.fromkeys(names) if name.startswith(incomplete)]


def load_job(space: UserSpace, name_or_id: str) -> tuple[Config, AnyJob]:
    """The valid config and the job named (or with the id) `name_or_id`; else every problem and exit 1."""
    from cronsync.config import load_config

    try:
        config = load_config(space)
    except InvalidInput as exc:
        fail(exc)
    job = config.find(name_or_id)
    if job is None:
        known = ", ".join(j.id for j in config.jobs) or "none"
        fail(f"no job named or with id {name_or_id!r} in {space.jobs_file} (jobs: {known})")
    return config, job
