"""`cronsync plan [--backend auto|systemd|crontab] [--diff] [--json]`: what apply would change."""

from __future__ import annotations

import json

import click

from cronsync.apply.engine import choose_backend, make_plan
from cronsync.commands.common import BACKEND_OPTION, JSON_OPTION, user_space
from cronsync.config import load_config
from cronsync.core.plan import Plan


@click.command()
@BACKEND_OPTION
@click.option("--diff", "show_diff", is_flag=True, help="Show each file's or entry's diff.")
@JSON_OPTION
@click.pass_context
def command(ctx: click.Context, backend: str, show_diff: bool, as_json: bool) -> None:
    """Show per job what apply would create, update or delete. Writes nothing."""
    space = user_space(ctx)
    plan = make_plan(load_config(space), choose_backend(backend, space))
    if as_json:
        click.echo(json.dumps(plan.to_json(show_diff), indent=2))
        return
    print_plan(plan, show_diff)


def print_plan(plan: Plan, show_diff: bool) -> None:
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"backend: {plan.backend}")
    width = max((len(job.job_id) for job in plan.jobs), default=0)
    for job in plan.jobs:
        label = job.job_id if job.name is None else f"{job.job_id:<{width}}  ({job.name})"
        extra = f": {', '.join(job.changes)}" if job.changes and job.action == "update" else ""
        disabled = "  [disabled]" if job.enabled is False else ""
        click.echo(f"  {job.action:<9}  {label}{disabled}{extra}")
        if show_diff and job.diff:
            click.echo(job.diff.rstrip("\n"))
    counts = {
        a: sum(1 for j in plan.jobs if j.action == a) for a in ("create", "update", "delete", "unchanged")
    }
    click.echo(", ".join(f"{n} to {a}" if a != "unchanged" else f"{n} unchanged" for a, n in counts.items()))
