"""`cronsync validate [--json]`: check jobs.json and settings.json, reporting every problem."""

from __future__ import annotations

import json

import click

from cronsync.commands.common import JSON_OPTION, user_space
from cronsync.config import load_config
from cronsync.core.errors import InvalidInput


@click.command()
@JSON_OPTION
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """Check jobs.json and settings.json; exit 1 listing every problem."""
    space = user_space(ctx)
    try:
        config = load_config(space)
    except InvalidInput as exc:
        exc.json_fields["jobs_file"] = str(space.jobs_file)
        raise
    if as_json:
        jobs = [
            {"index": i, "id": job.id, "name": job.name, "action": job.action}
            for i, job in enumerate(config.jobs)
        ]
        click.echo(
            json.dumps({"ok": True, "jobs_file": str(space.jobs_file), "jobs": jobs, "errors": []}, indent=2)
        )
    else:
        click.echo(f"{space.jobs_file}: {len(config.jobs)} job(s), all valid")
