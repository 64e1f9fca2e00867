"""`cronsync schema`: the JSON Schema of jobs.json (or settings.json), for editors."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--settings", is_flag=True, help="The schema of settings.json instead of jobs.json.")
def command(settings: bool) -> None:
    """Print the JSON Schema of jobs.json (works without a user space)."""
    if settings:
        from cronsync.core.settings import settings_json_schema

        schema = settings_json_schema()
    else:
        from cronsync.core.jobs import jobs_json_schema

        schema = jobs_json_schema()
    click.echo(json.dumps(schema, indent=2))
