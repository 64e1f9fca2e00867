"""`cronsync init`: create a user space from the example, never overwriting a file."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cronsync.commands.common import user_space
from cronsync.resources import resource_dir
from cronsync.userspace.files import make_dirs, write_new
from cronsync.userspace.paths import UserSpace

EXAMPLE_FILES = ("config/jobs.json", "config/settings.json", "scripts/clean_tmp.py")


def create_user_space(space: UserSpace) -> list[Path]:
    """Copy the example files that are missing; return what was created. Modes are set here, never
    copied or left to the umask: folders 0700, files 0600 (0700 for an executable script)."""
    created: list[Path] = []
    for folder in (space.config_dir, space.scripts_dir, space.logs_dir, space.state_dir):
        created.extend(Path(made) for made in make_dirs(folder))
    example = resource_dir("example")
    for relative in EXAMPLE_FILES:
        source, target = example / relative, space.root / relative
        if target.exists() or target.is_symlink():
            continue
        mode = 0o700 if os.access(source, os.X_OK) else 0o600
        if write_new(target, source.read_bytes(), mode):
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
