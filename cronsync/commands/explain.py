"""`cronsync explain EXPRESSION`: the OnCalendar= lines, crontab line, description and next fire times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from cronsync.commands.common import JSON_OPTION
from cronsync.core.describe import describe
from cronsync.core.phrases import check_not_words
from cronsync.core.schedule import (
    Schedule,
    ScheduleError,
    check_zone,
    crontab_expression,
    next_fires,
    on_calendar,
    parse,
)

MAX_NEXT = 1000


@click.command()
@click.argument("expression")
@click.option("--timezone", metavar="ZONE", help="IANA time zone of the schedule (default: local time).")
@click.option(
    "--next",
    "count",
    type=click.IntRange(0, MAX_NEXT),
    default=5,
    show_default=True,
    help="How many next fire times to show.",
)
@JSON_OPTION
def command(expression: str, timezone: str | None, count: int, as_json: bool) -> None:
    """Explain a cron EXPRESSION, e.g. cronsync explain "0 9 * * 1-5" --timezone Europe/Berlin."""
    try:
        check_not_words(expression)
        schedule = parse(expression)
        _check_zone(timezone)
    except ScheduleError as exc:
        exc.json_fields["error"] = str(exc)
        raise
    explanation = explain(schedule, timezone, count, datetime.now(UTC))
    if as_json:
        click.echo(json.dumps(explanation, indent=2))
    else:
        click.echo(_as_text(explanation))


def _check_zone(timezone: str | None) -> None:
    if timezone is None:
        return
    try:
        check_zone(timezone)
    except ScheduleError as exc:
        raise ScheduleError(f"--timezone: {exc}") from None


def explain(schedule: Schedule, timezone: str | None, count: int, now: datetime) -> dict[str, Any]:
    return {
        "expression": schedule.expression,
        "timezone": timezone,
        "on_calendar": on_calendar(schedule, timezone),
        "on_startup": schedule.is_reboot,
        "crontab": crontab_expression(schedule),
        "description": describe(schedule),
        "next": [fire.isoformat() for fire in next_fires(schedule, now, count, timezone)],
    }


def _as_text(explanation: dict[str, Any]) -> str:
    zone = explanation["timezone"]
    lines = [f"{explanation['expression']}: {explanation['description']}", "", "systemd timer:"]
    if explanation["on_startup"]:
        lines.append("  OnStartupSec=  (once, each time the user's service manager starts)")
    lines += [f"  OnCalendar={line}" for line in explanation["on_calendar"]]
    lines += ["", "crontab:", f"  {explanation['crontab']} <command>"]
    if zone:
        lines.append("  (cron runs it in the system time zone: the crontab backend refuses a job timezone)")
    if explanation["next"]:
        lines += ["", f"next {len(explanation['next'])} run(s) ({zone or 'local time'}):"]
        lines += [f"  {datetime.fromisoformat(t):%a} {t}" for t in explanation["next"]]
    return "\n".join(lines)
