"""`cronsync init`: create a user space from the example, never overwriting a file."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from cronsync.commands.common import user_space
from cronsync.resources import resource_dir
from cronsync.userspace.paths import UserSpace

EXAMPLE_FILES = ("config/jobs.json", "config/settings.json", "scripts/clean_tmp.py")


def create_user_space(space: UserSpace) -> list[Path]:
    """Copy the example files that are missing; return what was created."""
    created: list[Path] = []
    for folder in (space.config_dir, space.scripts_dir, space.logs_dir, space.state_dir):
        if not folder.is_dir():
            folder.mkdir(parents=True, mode=0o700)
            created.append(folder)
    example = resource_dir("example")
    for relative in EXAMPLE_FILES:
        target = space.root / relative
        if target.exists() or target.is_symlink():
            continue
        shutil.copyfile(example / relative, target)
        shutil.copymode(example / relative, target)
        created.append(target)
    return created


@click.command()
@click.pass_context
def command(ctx: click.Context) -> None:
    """Create a user space (config/, scripts/, logs/, state/) from the example."""
    space = user_space(ctx)
    created = create_user_space(space)
    if not created:
        click.echo(f"{space.root}: user space already complete, nothing changed")
        return
    for path in created:
        click.echo(f"created {path}")
    click.echo(f"user space ready at {space.root}; edit {space.jobs_file}, then run `cronsync apply`")
