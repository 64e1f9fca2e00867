"""`cronsync validate [--json]`: check jobs.json and settings.json, reporting every problem — including
what the backend this space uses (or, before it is installed, either backend) would refuse."""

from __future__ import annotations

import json

import click

from cronsync.apply.engine import backend_problems
from cronsync.commands.common import JSON_OPTION, user_space
from cronsync.config import Config, load_config
from cronsync.core.errors import InvalidInput


@click.command()
@JSON_OPTION
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """Check jobs.json and settings.json; exit 1 listing every problem."""
    space = user_space(ctx)
    try:
        config = load_config(space)
        warnings = _backend_check(config)
    except InvalidInput as exc:
        exc.json_fields["jobs_file"] = str(space.jobs_file)
        raise
    if as_json:
        jobs = [
            {"index": i, "id": job.id, "name": job.name, "action": job.action}
            for i, job in enumerate(config.jobs)
        ]
        report = {
            "ok": True,
            "jobs_file": str(space.jobs_file),
            "jobs": jobs,
            "errors": [],
            "warnings": warnings,
        }
        click.echo(json.dumps(report, indent=2))
        return
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{space.jobs_file}: {len(config.jobs)} job(s), all valid")


def _backend_check(config: Config) -> list[str]:
    """InvalidInput with what every backend that could install config would refuse (the one it is
    installed on, once it is); warnings for what only one of two would."""
    by_backend = backend_problems(config)
    first, *others = by_backend.values()
    refused_by_all = [problem for problem in first if all(problem in rest for rest in others)]
    if refused_by_all:
        raise InvalidInput(refused_by_all)
    return [
        f"{problem} (only with --backend {name}; the other backend can run it)"
        for name, problems in by_backend.items()
        for problem in problems
    ]
