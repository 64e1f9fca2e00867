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
    crontab_form,
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
    from cronsync.adapters.crontab import local_timezone

    explanation = explain(schedule, timezone, count, datetime.now(UTC), local_timezone())
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


def explain(
    schedule: Schedule, timezone: str | None, count: int, now: datetime, local_zone: str | None = None
) -> dict[str, Any]:
    crontab, emulated, refused = _crontab(schedule, timezone, local_zone)
    return {
        "expression": schedule.expression,
        "timezone": timezone,
        "on_calendar": on_calendar(schedule, timezone),
        "on_startup": schedule.is_reboot,
        "crontab": crontab,
        "description": describe(schedule),
        "next": [fire.isoformat() for fire in next_fires(schedule, now, count, timezone)],
        "on_active_sec": f"{schedule.every_seconds}s" if schedule.is_every else None,
        "crontab_emulated": emulated,
        "crontab_refused": refused,
        "notes": list(schedule.notes),
    }


def _crontab(
    schedule: Schedule, timezone: str | None, local_zone: str | None
) -> tuple[str | None, bool, str | None]:
    """The crontab line's schedule, whether `exec --guard` narrows it, and why the backend refuses it."""
    from cronsync.apply.crontab import same_zone

    foreign = timezone if timezone and not (local_zone and same_zone(timezone, local_zone)) else None
    try:
        form = crontab_form(schedule, foreign, local_zone)
    except ScheduleError as exc:
        return None, False, str(exc)
    return form.expression, form.emulated, None


def _as_text(explanation: dict[str, Any]) -> str:
    zone = explanation["timezone"]
    lines = [f"{explanation['expression']}: {explanation['description']}", "", "systemd timer:"]
    if explanation["on_startup"]:
        lines.append("  OnStartupSec=  (once, each time the user's service manager starts)")
    lines += [f"  OnCalendar={line}" for line in explanation["on_calendar"]]
    if explanation["on_active_sec"]:
        lines += [f"  {key}={explanation['on_active_sec']}" for key in ("OnActiveSec", "OnUnitActiveSec")]
        lines.append("  (the first run one interval after the timer starts, then one after each run's start)")
    lines += ["", "crontab:"]
    if explanation["crontab"] is None:
        lines.append(f"  refused: {explanation['crontab_refused']}")
    elif explanation["crontab_emulated"]:
        lines.append(f"  {explanation['crontab']} <command> --guard")
        lines.append("  (emulated: cron starts it at these times, and it runs only at the schedule's own")
        lines.append(f"  times{' in ' + zone if zone else ''}; the others do nothing)")
    else:
        lines.append(f"  {explanation['crontab']} <command>")
    lines += [f"note: {note}" for note in explanation["notes"]]
    if explanation["next"]:
        lines += ["", f"next {len(explanation['next'])} run(s) ({zone or 'local time'}):"]
        lines += [f"  {datetime.fromisoformat(t):%a} {t}" for t in explanation["next"]]
    return "\n".join(lines)
