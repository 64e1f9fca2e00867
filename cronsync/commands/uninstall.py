"""`cronsync uninstall`: remove every unit and crontab entry cronsync made, and nothing else."""

from __future__ import annotations

import json

import click

from cronsync.adapters import crontab, systemd
from cronsync.cli import fail, user_space
from cronsync.commands.common import BACKEND_OPTION, backend_errors
from cronsync.core import render
from cronsync.paths import systemd_user_unit_dir
from cronsync.sync import (
    JobPlan,
    Plan,
    apply_lock,
    apply_systemd,
    crontab_has_block,
    managed_unit_files,
    unit_job_id,
)


@click.command()
@BACKEND_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (see README).")
@click.pass_context
def command(ctx: click.Context, backend: str, as_json: bool) -> None:
    """Stop the auto-sync watcher, then remove cronsync's units (marked) and crontab entries (tagged)."""
    removed: dict[str, list[str]] = {"units": [], "crontab_entries": []}
    with backend_errors(as_json), apply_lock(user_space(ctx)):
        if backend in ("auto", "systemd"):
            removed["units"] = _uninstall_units(required=backend == "systemd")
        if backend == "crontab" or (backend == "auto" and crontab_has_block()):
            removed["crontab_entries"] = _uninstall_crontab()
    if as_json:
        click.echo(json.dumps({"ok": True, **removed}, indent=2))
        return
    for unit in removed["units"]:
        click.echo(f"removed {unit}")
    for job_id in removed["crontab_entries"]:
        click.echo(f"removed crontab entry {job_id}")
    if not any(removed.values()):
        click.echo("nothing to remove: no cronsync units or crontab entries are installed")


def _uninstall_units(required: bool) -> list[str]:
    unit_dir = systemd_user_unit_dir()
    files = managed_unit_files(unit_dir)
    if not files:
        return []
    manager = systemd.connect()
    if manager is None:
        fail("cronsync units are installed but no systemd user manager answers; run `cronsync doctor`")
    # The watcher goes first: a save during uninstall must not re-install what is being removed.
    for unit in (render.SYNC_PATH_UNIT, render.SYNC_SERVICE_UNIT):
        if unit in files:
            manager.stop(unit)
    ids = sorted({unit_job_id(name) for name in files})
    plan = Plan("systemd", [JobPlan(i, None, "delete", None) for i in ids], deletes=sorted(files))
    report = apply_systemd(plan, manager, unit_dir)
    return report.files_deleted


def _uninstall_crontab() -> list[str]:
    current = crontab.read()
    if current is None:
        return []
    cut = crontab.split(current)
    ids = list(cut.entries())
    if not cut.managed_lines and cut.user_text() == current:
        return []
    remaining = cut.user_text()
    if remaining:
        crontab.write(remaining)
    else:
        crontab.remove()
    return ids
