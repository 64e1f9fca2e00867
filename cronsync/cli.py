"""The click command group. Commands are imported only when they are run."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any, NoReturn

import click

from cronsync import __version__
from cronsync.core.errors import InvalidInput
from cronsync.paths import UserSpace, resolve_user_dir

# command name -> module in cronsync.commands that defines `command`
COMMANDS = {
    "init": "init",
    "validate": "validate",
    "schema": "schema",
    "explain": "explain",
    "plan": "plan",
    "apply": "apply",
    "status": "status",
    "list": "status",
    "run": "run",
    "logs": "logs",
    "history": "history",
    "edit": "edit",
    "uninstall": "uninstall",
    "doctor": "doctor",
    "exec": "exec",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, module in COMMANDS.items() if _module_exists(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None or not _module_exists(module):
            return None
        command: click.Command = importlib.import_module(f"cronsync.commands.{module}").command
        return command


def _module_exists(module: str) -> bool:
    return importlib.util.find_spec(f"cronsync.commands.{module}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cronsync")
@click.option(
    "--user-dir",
    type=click.Path(file_okay=False),
    envvar="CRONSYNC_USER_DIR",
    help="The user space (default: $CRONSYNC_USER_DIR, else ~/.config/cronsync).",
)
@click.pass_context
def cli(ctx: click.Context, user_dir: str | None) -> None:
    """Compile USER/config/jobs.json into systemd user timers or crontab entries."""
    ctx.obj = UserSpace(resolve_user_dir(user_dir))


def user_space(ctx: click.Context) -> UserSpace:
    space = ctx.find_object(UserSpace)
    return space if space is not None else UserSpace(resolve_user_dir(None))


def fail(
    problems: InvalidInput | str, *, as_json: bool = False, extra: dict[str, Any] | None = None
) -> NoReturn:
    """Report invalid input (every problem) and exit 1."""
    import json

    if isinstance(problems, InvalidInput):
        payload = {"ok": False, "errors": [p.to_json() for p in problems.problems]}
        lines = [str(p) for p in problems.problems]
    else:
        payload = {"ok": False, "errors": [{"message": problems}]}
        lines = [problems]
    if as_json:
        payload.update(extra or {})
        click.echo(json.dumps(payload, indent=2))
    else:
        for line in lines:
            click.echo(f"error: {line}", err=True)
    sys.exit(1)
