"""Whether a wall-clock time is one of a schedule's times, from a Match: the schedule as plain JSON data
(bit masks), which `state/compiled.json` carries for `cronsync exec --guard` (exec/guard.py).

`cronsync exec` imports this on its hot path (a crontab entry that fires more often than the job's
schedule): it imports nothing at module level, and datetime only inside the functions that need it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds on exec's path: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime
    from typing import Any

    from cronsync.core.cronexpr import Schedule

    Match = dict[str, Any]

ALL_DAYS = frozenset(range(1, 32))
HORIZON_DAYS = 50 * 366  # how far next fire times are looked for (Feb 29 on a Monday: 28 years)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def to_match(schedule: Schedule, zone: str | None = None) -> Match:
    """The schedule as JSON data: sets as bit masks, cron's day rule as `all_of`."""
    return {
        "zone": zone,
        "seconds": _mask(schedule.seconds),
        "minutes": _mask(schedule.minutes),
        "hours": _mask(schedule.hours),
        "days": _mask(schedule.days),
        "months": _mask(schedule.months),
        "weekdays": _mask(schedule.weekdays),
        "last_day": schedule.last_day,
        "last_workday": schedule.last_workday,
        "nearest_workdays": _mask(schedule.nearest_workdays),
        "last_weekdays": _mask(schedule.last_weekdays),
        "nth_weekdays": _mask(frozenset(weekday * 8 + nth for weekday, nth in schedule.nth_weekdays)),
        "all_of": not schedule.either_day,
    }


def _mask(values: frozenset[int]) -> int:
    mask = 0
    for value in values:
        mask |= 1 << value
    return mask


def days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month]


def day_matches(match: Match, day: int, length: int, weekday: int) -> bool:
    """Whether the day fields match `day` of a month of `length` days; `weekday` is day's (0 = Sunday).
    cron's rule: both fields must match unless both are restricted (`all_of` false)."""
    in_month = _day_of_month_matches(match, day, length, weekday)
    if match["all_of"]:
        return in_month and _day_of_week_matches(match, day, length, weekday)
    return in_month or _day_of_week_matches(match, day, length, weekday)


def _day_of_month_matches(match: Match, day: int, length: int, weekday: int) -> bool:
    if match["days"] >> day & 1 or (match["last_day"] and day == length):
        return True
    last_weekday = (weekday + length - day) % 7
    if match["last_workday"] and day >= length - 2 and day == _nearest_workday(length, last_weekday, length):
        return True
    nearest = match["nearest_workdays"]
    if nearest:
        for target in range(max(1, day - 2), min(length, day + 2) + 1):
            if nearest >> target & 1 and day == _nearest_workday(
                target, (weekday + target - day) % 7, length
            ):
                return True
    return False


def _nearest_workday(day: int, weekday: int, length: int) -> int:
    """The Monday-Friday nearest `day` (whose weekday is given, 0 = Sunday) without leaving the month."""
    if weekday == 6:  # Saturday: the Friday before, or the Monday after the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 0:  # Sunday: the Monday after, or the Friday before the last day
        return day + 1 if day < length else day - 2
    return day


def _day_of_week_matches(match: Match, day: int, length: int, weekday: int) -> bool:
    if match["weekdays"] >> weekday & 1:
        return True
    if match["last_weekdays"] >> weekday & 1 and day + 7 > length:
        return True
    return bool(match["nth_weekdays"] >> (weekday * 8 + (day + 6) // 7) & 1)


def never_fires(match: Match) -> bool:
    """Whether no day of any year matches (every month length and weekday of the 1st is tried)."""
    for month in range(1, 13):
        if not match["months"] >> month & 1:
            continue
        for length in (28, 29) if month == 2 else (_DAYS_IN_MONTH[month],):
            for first in range(7):
                if any(
                    day_matches(match, day, length, (first + day - 1) % 7) for day in range(1, length + 1)
                ):
                    return False
    return True


def wall_matches(match: Match, wall: datetime) -> bool:
    """Whether this wall-clock time (its second included) is one of the schedule's."""
    weekday = (wall.weekday() + 1) % 7
    return matches(match, wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second, weekday)


def matches(
    match: Match, year: int, month: int, day: int, hour: int, minute: int, second: int, weekday: int
) -> bool:
    if not (
        match["seconds"] >> second & 1
        and match["minutes"] >> minute & 1
        and match["hours"] >> hour & 1
        and match["months"] >> month & 1
    ):
        return False
    return day_matches(match, day, days_in_month(year, month), weekday)


def wall_times(match: Match, after: datetime) -> Iterator[datetime]:
    """The schedule's wall-clock times (naive) after the naive `after`, in order, for 50 years."""
    from datetime import datetime, timedelta

    seconds, minutes, hours = (_values(match[key], 60) for key in ("seconds", "minutes", "hours"))
    day = after.date()
    for _ in range(HORIZON_DAYS):
        if match["months"] >> day.month & 1 and day_matches(
            match, day.day, days_in_month(day.year, day.month), (day.weekday() + 1) % 7
        ):
            for hour in hours if day != after.date() else [h for h in hours if h >= after.hour]:
                for minute in minutes:
                    for second in seconds:
                        wall = datetime(day.year, day.month, day.day, hour, minute, second)
                        if wall > after:
                            yield wall
        day += timedelta(days=1)


def _values(mask: int, size: int) -> list[int]:
    return [value for value in range(size) if mask >> value & 1]
