"""Cron expressions to a Schedule: crontab(5) as Debian's cron reads it, and the forms systemd can say but
cron cannot (`L`, `LW`, `nW`, `5L`, `1#2`, `?`, a seconds field first, `@every 90m`).

Pure, and cheap to import (validating jobs.json imports it): no cronsim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache

from cronsync import CronsyncError
from cronsync.core.cronmatch import never_fires, to_match


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


SECOND = CronField("second", 0, 59, "0-59")
MINUTE = CronField("minute", 0, 59, "0-59")
HOUR = CronField("hour", 0, 23, "0-23")
DAY = CronField("day-of-month", 1, 31, "1-31, L, LW, nW (e.g. 15W) or ?")
MONTH_ABBREVIATIONS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH = CronField("month", 1, 12, "1-12 or jan-dec", MONTH_ABBREVIATIONS)
WEEKDAY = CronField(
    "day-of-week",
    0,
    7,
    "0-7 or sun-sat (0 and 7 are Sunday), nL (last, e.g. 5L or friL), n#k (k-th, e.g. 1#2 or mon#2) or ?",
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
EVERY = "@every"
MAX_EVERY_SECONDS = 366 * 86400
_EVERY_PART = re.compile(r"(\d{1,9})([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
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


@dataclass(frozen=True)
class Schedule:
    """A parsed cron expression. Weekdays are 0-6 with 0 = Sunday (cron's 7 is folded into 0).

    `days` and `weekdays` hold the plain values; the forms beyond crontab(5) are held beside them.
    """

    expression: str
    is_reboot: bool = False
    nickname: str | None = None
    fields: tuple[str, ...] = ()  # the five cron fields, lower-cased, nicknames expanded, '?' as '*'
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    day_of_month_star: bool = True  # the field starts with '*' or '?' (cron's rule for AND vs OR)
    day_of_week_star: bool = True
    seconds: frozenset[int] = frozenset({0})
    seconds_field: str | None = None  # the six-field form's first field
    last_day: bool = False  # L
    last_workday: bool = False  # LW: the last Monday-Friday of the month
    nearest_workdays: frozenset[int] = frozenset()  # nW: the Monday-Friday nearest day n, in the month
    last_weekdays: frozenset[int] = frozenset()  # 5L: the last Friday of the month
    nth_weekdays: frozenset[tuple[int, int]] = frozenset()  # 1#2: (weekday, n), the n-th Monday
    every_seconds: int = 0  # @every: an interval from the last start
    notes: tuple[str, ...] = ()  # steps that reach one value only, say

    @property
    def either_day(self) -> bool:
        """cron's day rule: both day fields restricted (neither starts with '*') means either may match."""
        return not self.day_of_month_star and not self.day_of_week_star

    @property
    def special_days(self) -> bool:
        """Whether a day field uses a form crontab(5) does not have (L, W, nL, #)."""
        return bool(
            self.last_day
            or self.last_workday
            or self.nearest_workdays
            or self.last_weekdays
            or self.nth_weekdays
        )

    @property
    def is_every(self) -> bool:
        return self.every_seconds > 0


# ---------------------------------------------------------------------------------------------- parsing


@cache  # pure, and a Schedule is immutable: 1,000 jobs share a handful of expressions
def parse(expression: str) -> Schedule:
    """Parse a schedule; raise ScheduleError naming the field, the bad part and what is allowed."""
    text = expression.strip()
    if not text:
        raise ScheduleError(
            "empty cron expression; write five fields 'minute hour day-of-month month day-of-week' "
            "(e.g. '0 9 * * 1-5') or a nickname (@daily, @hourly, ...)"
        )
    if text.startswith("@"):
        return _parse_nickname(expression, text)
    fields = text.split()
    seconds_field = None
    if len(fields) == len(FIELDS) + 1:
        _check_not_a_year(fields)
        seconds_field, fields = fields[0], fields[1:]
    if len(fields) != len(FIELDS):
        raise ScheduleError(_field_count_message(len(fields) + (seconds_field is not None)))
    notes: list[str] = []
    seconds = _parse_field(SECOND, seconds_field, notes) if seconds_field is not None else frozenset({0})
    minutes = _parse_field(MINUTE, fields[0], notes)
    hours = _parse_field(HOUR, fields[1], notes)
    months = _parse_field(MONTH, fields[3], notes)
    days, last_day, last_workday, nearest_workdays = _parse_day_field(fields[2], notes)
    weekdays, last_weekdays, nth_weekdays = _parse_weekday_field(fields[4], notes)
    plain = [field.lower() if field != "?" else "*" for field in fields]
    schedule = Schedule(
        expression=expression,
        fields=tuple(plain),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(day % 7 for day in weekdays),
        day_of_month_star=plain[2].startswith("*"),
        day_of_week_star=plain[4].startswith("*"),
        seconds=seconds,
        seconds_field=seconds_field.lower() if seconds_field is not None else None,
        notes=tuple(notes),
        last_day=last_day,
        last_workday=last_workday,
        nearest_workdays=nearest_workdays,
        last_weekdays=last_weekdays,
        nth_weekdays=nth_weekdays,
    )
    if _never_fires(schedule):
        raise ScheduleError(_never_fires_message(schedule))
    return schedule


def _parse_nickname(expression: str, text: str) -> Schedule:
    nickname = text.lower()
    if nickname == REBOOT:
        return Schedule(expression=expression, is_reboot=True, nickname=REBOOT)
    word, _, interval = nickname.partition(" ")
    if word == EVERY:
        return Schedule(expression=expression, nickname=EVERY, every_seconds=_parse_every(interval.strip()))
    if nickname not in NICKNAMES:
        allowed = ", ".join([*NICKNAMES, REBOOT, "@every <interval>"])
        raise ScheduleError(f"{text!r} is not a cron nickname; allowed: {allowed}")
    parsed = parse(NICKNAMES[nickname])
    return replace(parsed, expression=expression, nickname=nickname)


def _parse_every(interval: str) -> int:
    """'90m', '1h30m', '45s', '2d' -> seconds."""
    parts = _EVERY_PART.findall(interval)
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if not parts or "".join(n + u for n, u in parts) != interval or not 1 <= seconds <= MAX_EVERY_SECONDS:
        raise ScheduleError(
            f"@every: {interval!r} is not an interval; write whole numbers with units d, h, m, s, "
            "from 1s to 366d (e.g. '@every 90m', '@every 1h30m')"
        )
    return seconds


def _check_not_a_year(fields: list[str]) -> None:
    last = fields[-1]
    if _is_number(last) and len(last) == 4:
        raise ScheduleError(
            "six fields are read with seconds first (second minute hour day-of-month month day-of-week, "
            f"e.g. '*/5 * * * * *'); {last!r} looks like a year, and a year field is not supported"
        )


def _field_count_message(count: int) -> str:
    message = (
        f"a cron expression has five fields (minute hour day-of-month month day-of-week), not {count}; "
        "e.g. '0 9 * * 1-5', or six with seconds first ('*/5 * * * * *')"
    )
    if count > len(FIELDS) + 1:
        message += "; a year field is not supported"
    return message


def _parse_field(spec: CronField, field: str, notes: list[str]) -> frozenset[int]:
    values: set[int] = set()
    for term in _terms(spec, field):
        values.update(_parse_term(spec, term, notes))
    return frozenset(values)


def _terms(spec: CronField, field: str) -> list[str]:
    terms = field.split(",")
    if "" in terms:
        raise ScheduleError(f"{spec.name} field: empty item in list {field!r}; allowed {SYNTAX}")
    return terms


def _parse_term(spec: CronField, term: str, notes: list[str]) -> range:
    base, slash, step_text = term.partition("/")
    step = _parse_step(spec, term, step_text) if slash else 1
    if base == "*":
        values = range(spec.low, spec.high + 1, step)
    else:
        values = _parse_range(spec, term, base, step, slash)
    if step > 1 and len(values) == 1:
        notes.append(f"{spec.name}: a step of {step} in {term!r} reaches only {values[0]}")
    return values


def _parse_range(spec: CronField, term: str, base: str, step: int, slash: str) -> range:
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
    # Debian's cron takes any step of 1 or more and sets the values it reaches (`*/61` is minute 0).
    if not _is_number(step_text) or int(step_text) < 1:
        raise ScheduleError(
            f"{spec.name} field: step {step_text!r} in {term!r} is not allowed; a step is a whole number "
            "of 1 or more"
        )
    return int(step_text)


def _parse_value(spec: CronField, token: str, term: str) -> int:
    if _is_number(token):
        if not spec.low <= int(token) <= spec.high:
            raise ScheduleError(f"{spec.name} field: {token} is out of range; allowed {spec.allowed}")
        return int(token)
    if token.lower() in spec.names:
        return spec.names.index(token.lower()) + spec.low
    raise ScheduleError(f"{spec.name} field: {_unsupported(spec, token, term)}; allowed {spec.allowed}")


def _is_number(text: str) -> bool:
    """ASCII digits only (str.isdigit accepts '²' and other scripts' digits, which cron does not)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _unsupported(spec: CronField, token: str, term: str) -> str:
    lowered = term.lower()
    if "?" in term:
        return f"{term!r}: '?' stands alone, as the whole day-of-month or day-of-week field"
    if spec in (DAY, WEEKDAY) or not any(ch in lowered for ch in "lw#"):
        return f"{term!r} is missing a value" if not token else f"{token!r} in {term!r} is not a valid value"
    return f"{term!r}: 'L', 'W' and '#' belong in the day-of-month or day-of-week field"


# --- the day fields -----------------------------------------------------------------------------------


def _parse_day_field(field: str, notes: list[str]) -> tuple[frozenset[int], bool, bool, frozenset[int]]:
    """The plain days, L, LW, and the days of nW."""
    if field == "?":
        return DAY.full(), False, False, frozenset()
    days: set[int] = set()
    last_day = last_workday = False
    nearest: set[int] = set()
    for term in _terms(DAY, field):
        lowered = term.lower()
        if lowered == "l":
            last_day = True
        elif lowered == "lw":
            last_workday = True
        elif lowered.endswith("w") and _is_number(lowered[:-1]):
            nearest.add(_parse_value(DAY, lowered[:-1], term))
        elif "l" in lowered or "w" in lowered or "#" in lowered:
            raise ScheduleError(
                f"day-of-month field: {term!r} is not a form cronsync reads; 'L' is the last day, 'LW' the "
                "last weekday (Monday-Friday) and 'nW' the weekday nearest day n (e.g. 15W), each alone "
                f"in a list item (allowed {DAY.allowed})"
            )
        else:
            days.update(_parse_term(DAY, term, notes))
    return frozenset(days), last_day, last_workday, frozenset(nearest)


def _parse_weekday_field(
    field: str, notes: list[str]
) -> tuple[frozenset[int], frozenset[int], frozenset[tuple[int, int]]]:
    """The plain weekdays, those of nL, and the (weekday, n) of n#k."""
    if field == "?":
        return ALL_WEEKDAYS, frozenset(), frozenset()
    weekdays: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for term in _terms(WEEKDAY, field):
        lowered = term.lower()
        if "#" in lowered:
            nth.add(_parse_nth(term))
        elif lowered.endswith("l"):
            if lowered == "l":
                raise ScheduleError(
                    "day-of-week field: 'L' alone is ambiguous (Quartz reads it as Saturday); write the "
                    "weekday before it: '5L' or 'friL' is the last Friday of the month"
                )
            last.add(_parse_value(WEEKDAY, lowered[:-1], term) % 7)
        else:
            weekdays.update(_parse_term(WEEKDAY, term, notes))
    return frozenset(weekdays), frozenset(last), frozenset(nth)


def _parse_nth(term: str) -> tuple[int, int]:
    weekday_text, _, nth_text = term.partition("#")
    weekday = _parse_value(WEEKDAY, weekday_text, term) % 7
    if not _is_number(nth_text) or not 1 <= int(nth_text) <= 5:
        raise ScheduleError(
            f"day-of-week field: {term!r}: #n must be 1-5 (the n-th such weekday of the month, e.g. "
            "'mon#2' is the second Monday)"
        )
    return weekday, int(nth_text)


def _never_fires_message(schedule: Schedule) -> str:
    months = ", ".join(MONTH_NAMES[month] for month in sorted(schedule.months))
    if schedule.special_days or schedule.fields[2] == "*":
        return (
            f"the day fields {schedule.fields[2]!r} and {schedule.fields[4]!r} never match a day in "
            f"{months}, so this schedule would never run"
        )
    days = ",".join(str(day) for day in sorted(schedule.days))
    return (
        f"day-of-month field: day {days} never occurs in {months}, so this schedule would never run; "
        "pick days that exist in those months (February has at most 29)"
    )


def _never_fires(schedule: Schedule) -> bool:
    if schedule.special_days:
        return never_fires(to_match(schedule))
    # A plain day and month fall on every weekday in some year, February 29 included.
    return not schedule.either_day and not possible_days(schedule.days, schedule.months)


def possible_days(days: frozenset[int], months: frozenset[int]) -> frozenset[int]:
    """The days of the month that exist in at least one of the months."""
    longest = max(DAYS_IN_MONTH[month] for month in months)
    return frozenset(day for day in days if day <= longest)
