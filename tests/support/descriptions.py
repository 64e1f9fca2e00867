"""Read a schedule's description back into what it says fires, so tests hold the describer to the parsed
value sets: the times of day, and which (month, day of month, weekday) combinations of a leap year fire.
A description that leaves out a value that fires, or names one that does not (including a day of the month
that none of its months has), reads back as a different schedule or fails to read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cronsync.core.schedule import DAYS_IN_MONTH, HOUR, MINUTE, MONTH, MONTH_NAMES, Schedule

WEEKDAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
ISO_ORDER = (1, 2, 3, 4, 5, 6, 0)  # the order descriptions list weekdays in, Monday first
PROGRESSION = re.compile(r"every (\d+)(?:st|nd|rd|th) (\w+) from (\w+) through (\w+)")
CLOCK = re.compile(r"(\d\d):(\d\d)")
CONNECTORS = re.compile(r"^(?:\s|,|and\b)+|(?:\s|,|\band)+$")
DAY_SIDE = re.compile(r"(?:days? |every \d+\w\w day )")
# (month, day of month, weekday): every combination a calendar has, in some year.
CALENDAR = tuple(
    (month, day, weekday)
    for month in range(1, 13)
    for day in range(1, DAYS_IN_MONTH[month] + 1)
    for weekday in range(7)
)
Dates = frozenset[tuple[int, int, int]]


@dataclass(frozen=True)
class Reading:
    """What fires: the times of day, and the (month, day of month, weekday) combinations."""

    times: frozenset[tuple[int, int]]
    dates: Dates
    at_startup: bool = False


AT_STARTUP = Reading(frozenset(), frozenset(), at_startup=True)


def expected_reading(schedule: Schedule) -> Reading:
    """What `schedule` fires on, by cron's rule (both day fields restricted: either may match)."""
    if schedule.is_reboot:
        return AT_STARTUP
    times = frozenset((hour, minute) for hour in schedule.hours for minute in schedule.minutes)

    def fires(month: int, day: int, weekday: int) -> bool:
        on_date, on_weekday = day in schedule.days, weekday in schedule.weekdays
        either = on_date or on_weekday if schedule.either_day else on_date and on_weekday
        return month in schedule.months and either

    return Reading(times, _dates(fires))


def read(description: str) -> Reading:
    """What a description written by cronsync.core.describe says fires (AssertionError if unreadable)."""
    if description.startswith("At startup"):
        return AT_STARTUP
    time_text, joiner, day_text = re.split(r"( on | in |$)", description, maxsplit=1)
    return Reading(_read_time(time_text), _read_dates(joiner, day_text))


def _dates(fires: Callable[[int, int, int], bool]) -> Dates:
    return frozenset(date for date in CALENDAR if fires(*date))


def _read_time(text: str) -> frozenset[tuple[int, int]]:
    if text.startswith("At ") and CLOCK.match(text, 3):
        clocks = [(int(h), int(m)) for h, m in CLOCK.findall(text)]
        assert text == "At " + _join([f"{h:02d}:{m:02d}" for h, m in clocks]), text
        return frozenset(clocks)
    if match := re.fullmatch(r"Every (minute|(\d+) minutes)(?: during (.+))?", text):
        step = int(match.group(2) or 1)
        assert 60 % step == 0, f"every {step} minutes is not what fires: the gap across the hour differs"
        minutes = frozenset(range(0, 60, step))
        hours = _numbers(match.group(3), "hour") if match.group(3) else HOUR.full()
    else:
        match = re.fullmatch(r"At (.+) past (the hour|.+)", text)
        assert match, f"no time in {text!r}"
        minutes = _numbers(match.group(1), "minute")
        hours = HOUR.full() if match.group(2) == "the hour" else _numbers(match.group(2), "hour")
    assert MINUTE.full() >= minutes and HOUR.full() >= hours, text
    return frozenset((hour, minute) for hour in hours for minute in minutes)


def _read_dates(joiner: str, text: str) -> Dates:
    if joiner == " in ":
        months = _months(text)
        return _dates(lambda month, _day, _weekday: month in months)
    if joiner != " on ":
        assert not text, text
        return frozenset(CALENDAR)
    if " or on " in text:
        date_side, weekday_side = text.split(" or on ")
        on_date, on_weekday = _date_side(date_side), _weekday_side(weekday_side)
        return _dates(lambda *date: on_date(*date) or on_weekday(*date))
    if ", but only if it is " in text:
        date_side, weekday_names = text.split(", but only if it is ")
        on_date, weekdays = _date_side(date_side), _weekdays(weekday_names)
        return _dates(lambda *date: on_date(*date) and date[2] in weekdays)
    return _dates(_date_side(text) if DAY_SIDE.match(text) else _weekday_side(text))


def _date_side(text: str) -> Callable[[int, int, int], bool]:
    """ "days 1 and 15 of January and July": every day named occurs in one of the months named, and every
    month named has one of the days."""
    listing, of = text.split(" of ", 1)
    days = _numbers(listing, "day")
    months = MONTH.full() if of == "the month" else _months(of)
    if of != "the month":
        assert all(min(days) <= DAYS_IN_MONTH[month] for month in months), f"a month never fires: {text!r}"
        assert max(days) <= max(DAYS_IN_MONTH[month] for month in months), f"a day never occurs: {text!r}"
    assert max(days) <= 31, text
    return lambda month, day, _weekday: month in months and day in days


def _weekday_side(text: str) -> Callable[[int, int, int], bool]:
    """ "Monday through Friday in January"."""
    names, _, in_months = text.partition(" in ")
    weekdays = _weekdays(names)
    months = _months(in_months) if in_months else MONTH.full()
    return lambda month, _day, weekday: month in months and weekday in weekdays


def _numbers(text: str, noun: str) -> frozenset[int]:
    """Values of "minutes 0 through 2 and every 2nd minute from 4 through 16" (noun: "minute")."""
    values: set[int] = set()
    for step, unit, first, last in PROGRESSION.findall(text):
        assert unit == noun and (int(last) - int(first)) % int(step) == 0, text
        values.update(range(int(first), int(last) + 1, int(step)))
    plain = CONNECTORS.sub("", PROGRESSION.sub("", text))
    if plain:
        match = re.fullmatch(rf"{noun}(s?) (.+)", plain)
        assert match, f"no {noun}s in {text!r}"
        listed: set[int] = set()
        for item in re.split(r", | and | or ", match.group(2)):
            first, _, last = item.partition(" through ")
            listed.update(range(int(first), int(last or first) + 1))
        assert (len(listed) > 1) == bool(match.group(1)), f"{noun} or {noun}s: {text!r}"
        values |= listed
    return frozenset(values)


def _months(text: str) -> frozenset[int]:
    return frozenset(_named(text, MONTH_NAMES, tuple(range(1, 13))))


def _weekdays(text: str) -> frozenset[int]:
    return frozenset(_named(text, WEEKDAY_NAMES, ISO_ORDER))


def _named(text: str, names: tuple[str, ...], order: tuple[int, ...]) -> list[int]:
    """Values of "Monday, Wednesday and Friday through Sunday" (ranges in `order`)."""
    values = []
    for item in re.split(r", | and | or ", text):
        first, _, last = item.partition(" through ")
        start, end = order.index(names.index(first)), order.index(names.index(last or first))
        assert start <= end, text
        values += order[start : end + 1]
    return values


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
