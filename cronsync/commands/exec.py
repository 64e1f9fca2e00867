"""`cronsync exec <job> [--dry-run] [--trigger timer|manual]`: run one job, as its timer does.

`fast_main` is called by `cronsync/__main__.py` before click is imported: this is on every run's path.
Anything it does not understand (--help, a bad option) goes to the click command for the usual
help and usage errors. The click `command` is built only when asked for (module __getattr__).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from typing import Any

EXIT_CODES_HELP = """\b
Exit codes:
  0    the job succeeded
  N    the job failed with exit code N (128+S when killed by signal S)
  124  the job timed out (its process group got SIGTERM, then SIGKILL)
  75   skipped: the previous run still runs (overlap: skip)
  78   the job is missing from jobs.json, invalid, or cannot start as configured"""


def fast_main(argv: list[str]) -> int:
    """argv: `[--user-dir DIR | --user-dir=DIR] exec <job> [--dry-run] [--trigger timer|manual]`."""
    parsed = _parse(argv)
    if parsed is None:
        return _click_main(argv)
    user_dir, job, dry_run, trigger = parsed
    _ensure_standard_fds()
    from cronsync.jobrun import execute
    from cronsync.paths import UserSpace, user_dir_path

    return execute(UserSpace(user_dir_path(user_dir)), job, trigger=trigger, dry_run=dry_run)


def _ensure_standard_fds() -> None:
    """cron or a careless caller may start us with fd 0, 1 or 2 closed; a pipe would then take that
    number and be lost to the job. Fill any gap with /dev/null (os.open returns the lowest free fd)."""
    import os

    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)


def _parse(argv: list[str]) -> tuple[str | None, str, bool, str | None] | None:
    """The arguments, or None when click should handle them (help, usage errors)."""
    rest = list(argv)
    user_dir = None
    if rest and rest[0] == "--user-dir" and len(rest) > 1:
        user_dir, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith("--user-dir="):
        user_dir, rest = rest[0].partition("=")[2], rest[1:]
    if not rest or rest[0] != "exec":
        return None
    job, dry_run, trigger = None, False, None
    args = iter(rest[1:])
    for arg in args:
        if arg == "--dry-run":
            dry_run = True
        elif arg == "--trigger" or arg.startswith("--trigger="):
            trigger = arg.partition("=")[2] if "=" in arg else next(args, "")
            if trigger not in ("timer", "manual"):
                return None
        elif arg == "--":
            job = next(args, None) if job is None else None
            if job is None or next(args, None) is not None:
                return None
        elif arg.startswith("-") or job is not None:
            return None
        else:
            job = arg
    return None if job is None else (user_dir, job, dry_run, trigger)


def _click_main(argv: list[str]) -> int:
    from cronsync.cli import cli

    try:
        cli.main(args=argv, prog_name="cronsync")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _build_command() -> Any:
    import sys

    import click

    from cronsync.cli import user_space

    @click.command(epilog=EXIT_CODES_HELP)
    @click.argument("job")
    @click.option("--dry-run", is_flag=True, help="Show what would run (command, cwd, env names, gateways).")
    @click.option(
        "--trigger",
        type=click.Choice(["timer", "manual"]),
        default=None,
        help="Recorded in the log (default: manual if `cronsync run` asked for this run, else timer).",
    )
    @click.pass_context
    def command(ctx: click.Context, job: str, dry_run: bool, trigger: str | None) -> None:
        """Run JOB (its id or name) now, as its timer or crontab entry does: lock, run, log, notify."""
        from cronsync.jobrun import execute

        sys.exit(execute(user_space(ctx), job, trigger=trigger, dry_run=dry_run))

    return command


def __getattr__(name: str) -> Any:
    if name == "command":
        return _build_command()
    raise AttributeError(name)
