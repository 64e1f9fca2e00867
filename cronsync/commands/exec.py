"""`cronsync exec <job>`: run one job now (placeholder until issue 5)."""

from __future__ import annotations


def fast_main(argv: list[str]) -> int:
    import sys

    print("cronsync exec: not implemented yet", file=sys.stderr)
    return 2


import click  # noqa: E402


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Run one job now, as a timer or crontab entry does."""
