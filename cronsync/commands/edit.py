"""`cronsync edit`: edit jobs.json like `crontab -e`/`visudo`: a temp copy, validated, then applied."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from cronsync import CronsyncError
from cronsync.commands.common import BACKEND_OPTION, user_space
from cronsync.config import parse_config, read_sources
from cronsync.core.errors import InvalidInput, Problem
from cronsync.userspace.files import atomic_write
from cronsync.userspace.paths import UserSpace


@click.command()
@BACKEND_OPTION
@click.option("--no-apply", is_flag=True, help="Only replace jobs.json; do not apply it.")
@click.pass_context
def command(ctx: click.Context, backend: str, no_apply: bool) -> int:
    """Open jobs.json in $VISUAL/$EDITOR; only a valid file replaces it, and is then applied."""
    space = user_space(ctx)
    original, settings = read_sources(space)
    workdir = Path(tempfile.mkdtemp(prefix="cronsync-edit-"))
    draft = workdir / "jobs.json"
    atomic_write(draft, original)  # 0600 in a 0700 folder, whatever the umask
    try:
        edited = _edit_until_valid(space, draft, original, settings)
    except (KeyboardInterrupt, click.Abort):
        if draft.read_bytes() == original:
            shutil.rmtree(workdir)
            raise CronsyncError("edit aborted; jobs.json left unchanged") from None
        raise CronsyncError(f"edit aborted; jobs.json left unchanged, your edit is kept in {draft}") from None
    if edited is None:
        shutil.rmtree(workdir)
        click.echo("no changes; jobs.json left as it was")
        return 0
    if space.jobs_file.read_bytes() != original:
        raise CronsyncError(
            f"jobs.json changed while you were editing; left unchanged, your edit is kept in {draft}"
        )
    _replace(space.jobs_file, edited)
    shutil.rmtree(workdir)
    click.echo(f"{space.jobs_file} saved")
    if no_apply:
        return 0
    from cronsync.commands.apply import command as apply_command

    code: int = ctx.invoke(apply_command, backend=backend, as_json=False, from_watcher=False)
    return code


def _edit_until_valid(space: UserSpace, draft: Path, original: bytes, settings: bytes | None) -> bytes | None:
    """The edited jobs.json once it is valid (None: left as it was); CronsyncError when the user gives up."""
    while True:
        _run_editor(draft)
        edited = draft.read_bytes()
        if edited == original:
            return None
        problems = _problems(space, edited, settings)
        if not problems:
            return edited
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        if not click.confirm("jobs.json is not valid. Edit again?", default=True, err=True):
            raise CronsyncError(f"jobs.json left unchanged; your edit is kept in {draft}")


def _editor() -> list[str]:
    chosen = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    return shlex.split(chosen)


def _run_editor(draft: Path) -> None:
    argv = [*_editor(), str(draft)]
    try:
        code = subprocess.run(argv, check=False).returncode
    except OSError as exc:
        raise CronsyncError(f"cannot start the editor {argv[0]!r}: {exc}; set $VISUAL or $EDITOR") from None
    if code != 0:
        raise CronsyncError(
            f"the editor exited with status {code}; jobs.json left unchanged (your edit: {draft})"
        )


def _problems(space: UserSpace, edited: bytes, settings: bytes | None) -> list[Problem]:
    try:
        _, problems = parse_config(space, edited, settings)
    except InvalidInput as exc:
        return exc.problems
    return problems


def _replace(jobs_file: Path, data: bytes) -> None:
    """Atomically, keeping the file's mode less any write bit for group or others; through a symlink
    (jobs.json kept in a dotfiles repository, say), so the link stays a link and its target gets the edit."""
    target = Path(os.path.realpath(jobs_file))
    atomic_write(target, data, mode=target.stat().st_mode & 0o755)
