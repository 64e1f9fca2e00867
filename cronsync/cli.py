"""The click command group, and the one place where an error becomes the CLI's exit code and message.

Commands live one a module in `cronsync.commands`; `COMMANDS` names each with its one-line summary,
so `cronsync --help` imports none of them (nor pydantic). A command module is imported only when its
command runs (or its own --help is asked for).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from cronsync import INVALID, OK, CronsyncError, __version__
from cronsync.commands.common import Invocation
from cronsync.userspace.paths import UserSpace, user_dir_path

# command -> (module in cronsync.commands that defines `command`, summary for `cronsync --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "Create a user space (config/, scripts/, logs/, state/) from the example."),
    "validate": ("validate", "Check jobs.json and settings.json; exit 1 listing every problem."),
    "schema": ("schema", "Print the JSON Schema of jobs.json (works without a user space)."),
    "explain": ("explain", "Explain a cron EXPRESSION: its timer lines, crontab line and next runs."),
    "plan": ("plan", "Show per job what apply would create, update or delete. Writes nothing."),
    "apply": ("apply", "Install, update and remove timers (or crontab entries) to match jobs.json."),
    "status": ("status", "List jobs: schedule, next run, last run, and whether the installed units match."),
    "list": ("status", "Alias of status."),
    "run": ("run", "Run JOB now through its scheduler, as a scheduled run."),
    "logs": ("logs", "Show JOB's output (the journal, else USER/logs/scheduler.log)."),
    "history": ("history", "The last runs (of JOB): start, trigger, status, duration, exit code."),
    "edit": ("edit", "Open jobs.json in $VISUAL/$EDITOR; only a valid file replaces it, then applied."),
    "uninstall": ("uninstall", "Remove cronsync's units and crontab entries, and nothing else."),
    "watch": ("watch", "Check every job for missed, late and failing runs; tell the watch gateways once."),
    "doctor": ("doctor", "Check the machine for what jobs need to run, each finding with its fix."),
    "fleet": ("fleet", "The machines sharing this jobs.json through etcd: `fleet status`."),
    "exec": ("exec", "Run JOB now, as its timer or crontab entry does: lock, run, log, notify."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command: click.Command = importlib.import_module(f"cronsync.commands.{COMMANDS[cmd_name][0]}").command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The summaries from COMMANDS, without importing a command module."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in sorted(COMMANDS.items())])


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
    invocation = ctx.ensure_object(Invocation)
    invocation.space = UserSpace(user_dir_path(user_dir))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error ends here: a CronsyncError is printed (as JSON for --json commands) and
    exits with its code, a usage error with click's, anything else is reported as a bug."""
    args = sys.argv[1:] if argv is None else argv
    invocation = Invocation()
    try:
        result = cli.main(args=args, prog_name="cronsync", standalone_mode=False, obj=invocation)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as usage:
        usage.show()
        return usage.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return INVALID
    except CronsyncError as error:
        _report(error, invocation.json_output)
        return error.exit_code
    except Exception as bug:
        from cronsync.userspace.bugreport import report_bug

        space = invocation.space or UserSpace(user_dir_path(None))
        return report_bug(bug, space.root_str, "cronsync")
    return result if isinstance(result, int) else OK


def _report(error: CronsyncError, as_json: bool) -> None:
    import json

    from cronsync.core.errors import InvalidInput

    if isinstance(error, InvalidInput):
        errors: list[dict[str, Any]] = [p.to_json() for p in error.problems]
        lines = [str(p) for p in error.problems]
    else:
        errors, lines = [{"message": str(error)}], [str(error)]
    if as_json:
        click.echo(json.dumps({"ok": False, "errors": errors, **error.json_fields}, indent=2))
    else:
        for line in lines:
            click.echo(f"error: {line}", err=True)
