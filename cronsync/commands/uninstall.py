"""`cronsync uninstall`: remove every unit and crontab entry cronsync made, and nothing else."""

from __future__ import annotations

import json

import click

from cronsync.apply.engine import apply_lock, uninstall_everywhere
from cronsync.commands.common import BACKEND_OPTION, JSON_OPTION, user_space


@click.command()
@BACKEND_OPTION
@JSON_OPTION
@click.pass_context
def command(ctx: click.Context, backend: str, as_json: bool) -> None:
    """Stop the auto-sync watcher, then remove cronsync's units (marked) and crontab entries (tagged)."""
    with apply_lock(user_space(ctx)):
        removed = uninstall_everywhere(backend, user_space(ctx))
    if as_json:
        click.echo(json.dumps({"ok": True, **removed}, indent=2))
        return
    for job_id in removed["stopped_runs"]:
        click.echo(f"stopped the running run of {job_id}")
    for unit in removed["units"]:
        click.echo(f"removed {unit}")
    for job_id in removed["crontab_entries"]:
        click.echo(f"removed crontab entry {job_id}")
    if not any(removed.values()):
        click.echo("nothing to remove: no cronsync units or crontab entries are installed")
