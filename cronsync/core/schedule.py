"""Cron expressions (Vixie/Debian crontab(5) syntax): parse, compile to systemd OnCalendar=, next fires.

Pure: no subprocess, no filesystem. cronsim is imported only where needed so that validating jobs.json stays
cheap. Descriptions in words are in describe.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsync import CronsyncError


class ScheduleError(CronsyncError, ValueError):
    """A cron expression cronsync refuses; the message names the field, the bad part and what is allowed."""


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    allowed: str
    names: tuple[str, ...] = ()  # names[i] stands for the value low + i

    def full(self) -> frozenset[int]:
        return frozenset(range(self.low, self.high + 1))


MINUTE = CronField("minute", 0, 59, "0-59")
HOUR = CronField("hour", 0, 23, "0-23")
DAY = CronField("day-of-month", 1, 31, "1-31")
MONTH_ABBREVIATIONS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH = CronField("month", 1, 12, "1-12 or jan-dec", MONTH_ABBREVIATIONS)
WEEKDAY = CronField(
    "day-of-week",
    0,
    7,
    "0-7 or sun-sat (0 and 7 are Sunday)",
    ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
)
FIELDS = (MINUTE, HOUR, DAY, MONTH, WEEKDAY)
ALL_WEEKDAYS = frozenset(range(7))
SYNTAX = "*, ranges a-b, steps */n, a-b/n or a/n, and comma lists"

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
REBOOT = "@reboot"
# Longest month per month number; February counts 29 because a schedule for Feb 29 does fire (leap years).
DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
MONTH_NAMES = tuple(
    [
        "-",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
)
SYSTEMD_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_QUARTZ = re.compile(r"^(\d*l|\d+w|lw|w|l-\d+)$")


@dataclass(frozen=True)
class Schedule:
    """A parsed cron expression. Weekdays are 0-6 with 0 = Sunday (cron's 7 is folded into 0)."""

    expression: str
    is_reboot: bool = False
    nickname: str | None = None
    fields: tuple[str, ...] = ()  # the five cron fields, lower-cased, nicknames expanded
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    day_of_month_star: bool = True  # the field starts with '*' (cron's rule for AND vs OR)
    day_of_week_star: bool = True

    @property
    def either_day(self) -> bool:
        """cron's day rule: both day fields restricted (neither starts with '*') means either may match."""
        return not self.day_of_month_star and not self.day_of_week_star


# ---------------------------------------------------------------------------------------------- parsing


@cache  # pure, and a Schedule is immutable: 1,000 jobs share a handful of expressions
def parse(expression: str) -> Schedule:
    """Parse a crontab(5) schedule; raise ScheduleError naming the field, the bad part and what is allowed."""
    text = expression.strip()
    if not text:
        raise ScheduleError(
            "empty cron expression; write five fields 'minute hour day-of-month month day-of-week' "
            "(e.g. '0 9 * * 1-5') or a nickname (@daily, @hourly, ...)"
        )
    if text.startswith("@"):
        return _parse_nickname(expression, text)
    fields = text.split()
    if len(fields) != len(FIELDS):
        raise ScheduleError(_field_count_message(len(fields)))
    minutes, hours, days, months, weekdays = (
        _parse_field(spec, field) for spec, field in zip(FIELDS, fields, strict=True)
    )
    schedule = Schedule(
        expression=expression,
        fields=tuple(field.lower() for field in fields),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(day % 7 for day in weekdays),
        day_of_month_star=fields[2].startswith("*"),
        day_of_week_star=fields[4].startswith("*"),
    )
    if not schedule.either_day and not _possible_days(schedule.days, schedule.months):
        raise ScheduleError(_never_fires_message(schedule))
    return schedule


def _parse_nickname(expression: str, text: str) -> Schedule:
    nickname = text.lower()
    if nickname == REBOOT:
        return Schedule(expression=expression, is_reboot=True, nickname=REBOOT)
    if nickname not in NICKNAMES:
        allowed = ", ".join([*NICKNAMES, REBOOT])
        raise ScheduleError(f"{text!r} is not a cron nickname; allowed: {allowed}")
    parsed = parse(NICKNAMES[nickname])
    return replace(parsed, expression=expression, nickname=nickname)


def _field_count_message(count: int) -> str:
    message = (
        f"a cron expression has five fields (minute hour day-of-month month day-of-week), not {count}; "
        "e.g. '0 9 * * 1-5'"
    )
    if count > len(FIELDS):
        message += "; seconds and year fields are not cron syntax and are not supported"
    return message


def _parse_field(spec: CronField, field: str) -> frozenset[int]:
    values: set[int] = set()
    for term in field.split(","):
        if not term:
            raise ScheduleError(f"{spec.name} field: empty item in list {field!r}; allowed {SYNTAX}")
        values.update(_parse_term(spec, term))
    return frozenset(values)


def _parse_term(spec: CronField, term: str) -> range:
    base, slash, step_text = term.partition("/")
    step = _parse_step(spec, term, step_text) if slash else 1
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    start_text, dash, end_text = base.partition("-")
    start = _parse_value(spec, start_text, term)
    if not dash:
        # A single value with a step (`5/10`) runs to the field's maximum, as cronie and cronsim read it.
        return range(start, spec.high + 1 if slash else start + 1, step)
    end = _parse_value(spec, end_text, term)
    if end < start:
        wrapped = (
            f"{start_text}-7"
            if spec is WEEKDAY and end == 0
            else f"{start_text}-{spec.high},{spec.low}-{end_text}"
        )
        raise ScheduleError(
            f"{spec.name} field: range {base!r} is inverted (cron ranges do not wrap around); "
            f"write {wrapped!r} or swap the ends (allowed {spec.allowed})"
        )
    return range(start, end + 1, step)


def _parse_step(spec: CronField, term: str, step_text: str) -> int:
    if not _is_number(step_text) or not 1 <= int(step_text) <= spec.high:
        raise ScheduleError(
            f"{spec.name} field: step {step_text!r} in {term!r} is not allowed; a step is a whole number "
            f"1-{spec.high}"
        )
    return int(step_text)


def _parse_value(spec: CronField, token: str, term: str) -> int:
    if _is_number(token):
        if not spec.low <= int(token) <= spec.high:
            raise ScheduleError(f"{spec.name} field: {token} is out of range; allowed {spec.allowed}")
        return int(token)
    if token.lower() in spec.names:
        return spec.names.index(token.lower()) + spec.low
    raise ScheduleError(
        f"{spec.name} field: {_unsupported(token, term)}; allowed {spec.allowed} and {SYNTAX}"
    )


def _is_number(text: str) -> bool:
    """ASCII digits only (str.isdigit accepts '²' and other scripts' digits, which cron does not)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _unsupported(token: str, term: str) -> str:
    if "#" in term:
        return f"{term!r} uses '#' (nth weekday of the month), which cron does not support"
    if "?" in term:
        return f"{term!r}: '?' is Quartz syntax, not cron; write '*'"
    if _QUARTZ.match(token.lower()):
        return (
            f"{term!r} uses 'L'/'W' (last day / nearest weekday, Quartz syntax), which cron does not support"
        )
    if not token:
        return f"{term!r} is missing a value"
    return f"{token!r} in {term!r} is not a valid value"


def _possible_days(days: frozenset[int], months: frozenset[int]) -> frozenset[int]:
    """The days of the month that exist in at least one of the months."""
    longest = max(DAYS_IN_MONTH[month] for month in months)
    return frozenset(day for day in days if day <= longest)


def _never_fires_message(schedule: Schedule) -> str:
    days = ",".join(str(day) for day in sorted(schedule.days))
    months = ", ".join(MONTH_NAMES[month] for month in sorted(schedule.months))
    return (
        f"day-of-month field: day {days} never occurs in {months}, so this schedule would never run; "
        "pick days that exist in those months (February has at most 29)"
    )


# ---------------------------------------------------------------------------------------------- systemd


def check_zone(name: str) -> None:
    """ScheduleError unless `name` is an IANA time zone this machine (or tzdata) knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{name!r} is not an IANA time zone name; e.g. 'Europe/Berlin', 'UTC'") from None


def on_calendar(schedule: Schedule, timezone: str | None = None) -> list[str]:
    """The OnCalendar= expressions whose union fires exactly when cron would ([] for @reboot)."""
    if schedule.is_reboot:
        return []
    time = f"{_numbers(schedule.hours, HOUR, cycle=24)}:{_numbers(schedule.minutes, MINUTE, cycle=60)}:00"
    months = _numbers(schedule.months, MONTH, cycle=12)
    suffix = f" {timezone}" if timezone else ""
    full_days = schedule.days == DAY.full()
    full_weekdays = schedule.weekdays == ALL_WEEKDAYS
    if schedule.either_day and (full_days or full_weekdays):
        return [f"*-{months}-* {time}{suffix}"]  # one side matches every day, so the OR does too
    days = "*" if full_days else _numbers(_possible_days(schedule.days, schedule.months), DAY, cycle=None)
    weekdays = "" if full_weekdays else _weekdays(schedule.weekdays) + " "
    if not schedule.either_day:
        return [f"{weekdays}*-{months}-{days} {time}{suffix}"]
    # systemd ANDs the parts of one expression; cron's OR needs one line per day field.
    lines = [f"{weekdays}*-{months}-* {time}{suffix}"]
    if _possible_days(schedule.days, schedule.months):
        lines.insert(0, f"*-{months}-{days} {time}{suffix}")
    return lines


def _numbers(values: frozenset[int], spec: CronField, cycle: int | None) -> str:
    """systemd's normalized notation for a set of values: '*', ranges 'a..b', repetitions, lists."""
    if values == spec.full():
        return "*"
    items = []
    remaining = sorted(values)
    while remaining:
        progression = longest_progression(remaining)
        if len(progression) >= 3:
            items.append(_progression(progression, spec, cycle, lowest=min(values)))
        else:
            progression = remaining[:1]
            items.append(f"{remaining[0]:02d}")
        remaining = [value for value in remaining if value not in progression]
    return ",".join(items)


def longest_progression(ordered: list[int]) -> list[int]:
    """The longest arithmetic progression in `ordered` that starts at its first value."""
    present = set(ordered)
    best = ordered[:1]
    for second in ordered[1:]:
        step = second - ordered[0]
        candidate = list(range(ordered[0], ordered[-1] + 1, step))
        candidate = candidate[
            : next((i for i, v in enumerate(candidate) if v not in present), len(candidate))
        ]
        if len(candidate) > len(best):
            best = candidate
    return best


def _progression(ordered: list[int], spec: CronField, cycle: int | None, lowest: int) -> str:
    first, last, step = ordered[0], ordered[-1], ordered[1] - ordered[0]
    if step == 1:
        return f"{first:02d}..{last:02d}"
    # systemd 252 steps an open repetition 'a/N' past the field's end and carries the excess into the next
    # day/month/year without resetting it (issues #22665, #40260): after 23:56, `*:00/7` next fires at 00:07.
    # The excess is `first % step` when N divides the field's cycle; that is harmless only if no value of the
    # field is smaller. A closed repetition 'a..b/N' never steps past its end, so it is always right.
    if cycle is not None and cycle % step == 0 and last + step > spec.high and first % step <= lowest:
        return f"{first:02d}/{step}"
    return f"{first:02d}..{last:02d}/{step}"


def consecutive_runs(ordered: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for value in ordered:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return runs


def _weekdays(weekdays: frozenset[int]) -> str:
    """systemd weekday notation: Mon..Sun order, runs of three or more as ranges."""
    indexes = sorted((day + 6) % 7 for day in weekdays)  # cron 0=Sunday -> systemd 0=Monday
    parts = []
    for run in consecutive_runs(indexes):
        names = [SYSTEMD_WEEKDAYS[i] for i in run]
        parts.append(f"{names[0]}..{names[-1]}" if len(run) >= 3 else ",".join(names))
    return ",".join(parts)


# ---------------------------------------------------------------------------------------------- crontab


def crontab_expression(schedule: Schedule) -> str:
    """The schedule part of a crontab line, in a form every cron reads the same way."""
    if schedule.nickname:
        return schedule.nickname
    return " ".join(_explicit_steps(spec, field) for spec, field in zip(FIELDS, schedule.fields, strict=True))


def _explicit_steps(spec: CronField, field: str) -> str:
    """Rewrite `a/n` as `a-max/n`: Debian's cron refuses a step after a single value."""
    terms = []
    for term in field.split(","):
        base, slash, step = term.partition("/")
        if slash and base != "*" and "-" not in base:
            term = f"{base}-{spec.high}/{step}"
        terms.append(term)
    return ",".join(terms)


def crontab_escape(command: str) -> str:
    """Escape '%' for a crontab command (cron turns an unescaped '%' into a newline)."""
    return command.replace("%", "\\%")


# ---------------------------------------------------------------------------------------------- next fires


def next_fires(
    schedule: Schedule, start: datetime, count: int, timezone: str | None = None
) -> list[datetime]:
    """The next `count` fire times after `start`, as aware datetimes in `timezone` (None: local time).

    The schedule is evaluated on the zone's wall clock (cronsim follows cron's day rule), the way systemd
    evaluates OnCalendar=: a wall time skipped by a DST change does not fire, and a repeated one fires once,
    at its first occurrence.
    """
    if schedule.is_reboot or count <= 0:
        return []
    from cronsim import CronSim

    zone = ZoneInfo(timezone) if timezone else None
    aware_start = start if start.tzinfo else _localize(start, zone) or start.astimezone()
    wall_start = _wall_clock(aware_start, zone)
    fires: list[datetime] = []
    for wall in CronSim(" ".join(_reference_fields(schedule)), wall_start):
        fire = _localize(wall, zone)
        if fire is not None and fire > aware_start:
            fires.append(fire)
            if len(fires) == count:
                break
    return fires


def _reference_fields(schedule: Schedule) -> tuple[str, ...]:
    """The user's own fields for the reference evaluator, with nicknames expanded (cronsim does not read
    them) and `a-a/n` written `a` (cronsim 2.x reads a one-value range with a step as `a/n`, i.e. a to max).
    """
    if schedule.nickname:
        return tuple(NICKNAMES[schedule.nickname].split())
    return tuple(
        ",".join(_reference_term(spec, term) for term in field.split(","))
        for spec, field in zip(FIELDS, schedule.fields, strict=True)
    )


def _reference_term(spec: CronField, term: str) -> str:
    base, slash, _ = term.partition("/")
    start, dash, end = base.partition("-")
    if slash and dash and _parse_value(spec, start, term) == _parse_value(spec, end, term):
        return start
    return term


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
