"""Schedules, the one module the rest of cronsync imports them from: parsing (core/cronexpr.py), OnCalendar=
lines (core/oncalendar.py), the crontab form (core/crontabform.py), matching (core/cronmatch.py), next
fire times and descriptions.

Pure: no subprocess, no filesystem. cron-descriptor is imported only where needed so that validating
jobs.json stays cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsync.core.cronexpr import (
    DAY,
    FIELDS,
    HOUR,
    MINUTE,
    MONTH,
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
from cronsync.core.oncalendar import longest_progression as _longest_progression
from cronsync.core.oncalendar import on_calendar

__all__ = [
    "DAY",
    "FIELDS",
    "HOUR",
    "MINUTE",
    "MONTH",
    "NICKNAMES",
    "SECOND",
    "WEEKDAY",
    "CronField",
    "CrontabForm",
    "Schedule",
    "ScheduleError",
    "check_zone",
    "crontab_escape",
    "crontab_expression",
    "crontab_form",
    "describe",
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
        local = aware_start.astimezone(zone) if zone else aware_start.astimezone()
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


# ---------------------------------------------------------------------------------------------- description


def describe(schedule: Schedule) -> str:
    """Plain English, e.g. "At 09:00, Monday through Friday"."""
    if schedule.is_reboot:
        return "At startup (once, when the scheduler starts)"
    from cron_descriptor import CasingTypeEnum, ExpressionDescriptor, FormatError, Options

    options = Options(CasingTypeEnum.Sentence, use_24hour_time_format=True, locale_code="en_US")
    fields = _plain_fields(schedule)
    try:
        descriptor = ExpressionDescriptor(" ".join(fields), options)
        if fields[2] == "*" or fields[4] == "*":
            return str(descriptor.get_description())
        # cron-descriptor reads two restricted day fields as OR; cron ANDs them when one starts with '*'.
        only_weekday = ExpressionDescriptor(" ".join([*fields[:2], "*", *fields[3:]]), options)
        weekdays = str(only_weekday.get_day_of_week_description()).removeprefix(", ").removeprefix("only on ")
        joiner = ", or on " if schedule.either_day else ", but only if it is "
        text = (
            f"{descriptor.get_time_of_day_description()}{descriptor.get_day_of_month_description()}"
            f"{joiner}{weekdays}{descriptor.get_month_description()}"
        )
    except (FormatError, ValueError, IndexError):
        minute, hour, day, month, weekday = fields
        return f"At minute {minute} of hour {hour}, on day {day} of month {month}, weekday {weekday}"
    return text[:1].upper() + text[1:]


_DESCRIBED_WEEKDAY = CronField(WEEKDAY.name, 0, 6, WEEKDAY.allowed)


def _plain_fields(schedule: Schedule) -> list[str]:
    """The schedule's sets as simple cron fields that cron-descriptor reads reliably."""
    specs = (MINUTE, HOUR, DAY, MONTH, _DESCRIBED_WEEKDAY)
    sets = (schedule.minutes, schedule.hours, schedule.days, schedule.months, schedule.weekdays)
    fields = [_plain_field(values, spec) for values, spec in zip(sets, specs, strict=True)]
    if schedule.either_day and "*" in (fields[2], fields[4]):
        fields[2] = fields[4] = "*"  # one day field matches every day, so cron's OR does too
    return fields


def _plain_field(values: frozenset[int], spec: CronField) -> str:
    if values == spec.full():
        return "*"
    for step in range(2, spec.high):
        if len(values) > 1 and values == frozenset(range(spec.low, spec.high + 1, step)):
            return f"*/{step}"
    items = []
    remaining = sorted(values)
    while remaining:
        progression = _longest_progression(remaining)
        if len(progression) < 3:
            progression = remaining[:1]
            items.append(str(remaining[0]))
        else:
            step = progression[1] - progression[0]
            items.append(f"{progression[0]}-{progression[-1]}" + (f"/{step}" if step > 1 else ""))
        remaining = [value for value in remaining if value not in progression]
    return ",".join(items)
