"""Schedules, the one module the rest of cronsync imports them from: parsing (core/cronexpr.py), OnCalendar=
lines (core/oncalendar.py), the crontab form (core/crontabform.py), matching (core/cronmatch.py), and next
fire times. Descriptions in words are in describe.py.

Pure: no subprocess, no filesystem.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsync.core.cronexpr import (
    ALL_WEEKDAYS,
    DAY,
    DAYS_IN_MONTH,
    FIELDS,
    HOUR,
    MINUTE,
    MONTH,
    MONTH_NAMES,
    NICKNAMES,
    SECOND,
    WEEKDAY,
    CronField,
    Schedule,
    ScheduleError,
    parse,
)
from cronsync.core.cronmatch import to_match, wall_times
from cronsync.core.crontabform import CrontabForm, crontab_expression, crontab_form
from cronsync.core.oncalendar import consecutive_runs, longest_progression, on_calendar

__all__ = [
    "ALL_WEEKDAYS",
    "DAY",
    "DAYS_IN_MONTH",
    "FIELDS",
    "HOUR",
    "MINUTE",
    "MONTH",
    "MONTH_NAMES",
    "NICKNAMES",
    "SECOND",
    "WEEKDAY",
    "CronField",
    "CrontabForm",
    "Schedule",
    "ScheduleError",
    "check_zone",
    "consecutive_runs",
    "crontab_escape",
    "crontab_expression",
    "crontab_form",
    "longest_progression",
    "next_fires",
    "on_calendar",
    "parse",
    "to_match",
]


def check_zone(name: str) -> None:
    """ScheduleError unless `name` is an IANA time zone this machine (or tzdata) knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{name!r} is not an IANA time zone name; e.g. 'Europe/Berlin', 'UTC'") from None


def crontab_escape(command: str) -> str:
    """Escape '%' for a crontab command (cron turns an unescaped '%' into a newline)."""
    return command.replace("%", "\\%")


# ---------------------------------------------------------------------------------------------- next fires


def next_fires(
    schedule: Schedule, start: datetime, count: int, timezone: str | None = None
) -> list[datetime]:
    """The next `count` fire times after `start`, as aware datetimes in `timezone` (None: local time).

    The schedule is evaluated on the zone's wall clock, the way systemd evaluates OnCalendar=: a wall
    time skipped by a DST change does not fire, and a repeated one fires once, at its first occurrence.
    `@every` counts from `start`, as if the job had started then.
    """
    if schedule.is_reboot or count <= 0:
        return []
    zone = ZoneInfo(timezone) if timezone else None
    aware_start = start if start.tzinfo else _localize(start, zone) or start.astimezone()
    if schedule.is_every:
        step = timedelta(seconds=schedule.every_seconds)
        local = (aware_start.astimezone(zone) if zone else aware_start.astimezone()).replace(microsecond=0)
        return [local + step * (index + 1) for index in range(count)]
    wall_start = _wall_clock(aware_start, zone)
    fires: list[datetime] = []
    for wall in wall_times(to_match(schedule), wall_start.replace(microsecond=0)):
        fire = _localize(wall, zone)
        if fire is not None and fire > aware_start:
            fires.append(fire)
            if len(fires) == count:
                break
    return fires


def _wall_clock(moment: datetime, zone: tzinfo | None) -> datetime:
    local = moment.astimezone(zone) if zone else moment.astimezone()
    return local.replace(tzinfo=None)


def _localize(wall: datetime, zone: ZoneInfo | None) -> datetime | None:
    """The instant a wall-clock time means in `zone` (first occurrence if repeated; None if skipped),
    with a fixed UTC offset."""
    aware = wall.replace(tzinfo=zone, fold=0) if zone else wall.replace(fold=0).astimezone()
    if _wall_clock(aware.astimezone(UTC), zone) != wall:
        return None
    # A fixed offset: a zoneinfo time inside a repeated hour never compares equal to another zone's time.
    return aware.astimezone(dt_timezone(aware.utcoffset() or timedelta(0)))
