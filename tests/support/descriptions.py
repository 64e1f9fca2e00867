"""Read a schedule's description back into the values it says fire, so tests can hold the describer to
the parsed value sets: a description that names a value that does not fire, or leaves out one that does,
reads back as a different schedule."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cronsync.core.schedule import ALL_WEEKDAYS, DAY, HOUR, MINUTE, MONTH, MONTH_NAMES, Schedule

WEEKDAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
ISO_ORDER = (1, 2, 3, 4, 5, 6, 0)  # the order descriptions list weekdays in, Monday first
PROGRESSION = re.compile(r"every (\d+)(?:st|nd|rd|th) (\w+) from (\w+) through (\w+)")
CLOCK = re.compile(r"(\d\d):(\d\d)")
DAY_SIDE = re.compile(r"(days? |every \d+\w\w day )")
CONNECTORS = re.compile(r"^(?:\s|,|and\b)+|(?:\s|,|\band)+$")


@dataclass(frozen=True)
class Reading:
    """What a description says: the times of day, the days under cron's rule ("and"/"or"), the months."""

    times: frozenset[tuple[int, int]]
    days: frozenset[int]
    weekdays: frozenset[int]
    rule: str
    months: frozenset[int]
    at_startup: bool = False


def expected_reading(schedule: Schedule) -> Reading:
    """The reading a right description of `schedule` has (a day side matching every day said as nothing)."""
    if schedule.is_reboot:
        return Reading(frozenset(), frozenset(), frozenset(), "and", frozenset(), at_startup=True)
    times = frozenset((hour, minute) for hour in schedule.hours for minute in schedule.minutes)
    days, weekdays = schedule.days, schedule.weekdays
    every_day = days == DAY.full() or weekdays == ALL_WEEKDAYS
    if schedule.either_day and every_day:
        days, weekdays = DAY.full(), ALL_WEEKDAYS
    rule = "or" if schedule.either_day and not every_day else "and"
    return Reading(times, days, weekdays, rule, schedule.months)


def read(description: str) -> Reading:
    """The reading of a description written by cronsync.core.describe (AssertionError if it cannot)."""
    if description.startswith("At startup"):
        return Reading(frozenset(), frozenset(), frozenset(), "and", frozenset(), at_startup=True)
    time_text, _, day_text = re.split(r"( on | in |$)", description, maxsplit=1)
    times = _read_time(time_text)
    days, weekdays, rule, months = _read_days(_, day_text)
    return Reading(times, days, weekdays, rule, months)


def _read_time(text: str) -> frozenset[tuple[int, int]]:
    if text.startswith("At ") and CLOCK.match(text, 3):
        clocks = [(int(h), int(m)) for h, m in CLOCK.findall(text)]
        assert text == "At " + _join([f"{h:02d}:{m:02d}" for h, m in clocks]), text
        return frozenset(clocks)
    if match := re.fullmatch(r"Every (minute|(\d+) minutes)(?: during (.+))?", text):
        step = int(match.group(2) or 1)
        minutes = frozenset(range(0, 60, step))
        hours = _numbers(match.group(3), "hour") if match.group(3) else HOUR.full()
    else:
        match = re.fullmatch(r"At (.+) past (the hour|.+)", text)
        assert match, f"no time in {text!r}"
        minutes = _numbers(match.group(1), "minute")
        hours = HOUR.full() if match.group(2) == "the hour" else _numbers(match.group(2), "hour")
    assert MINUTE.full() >= minutes and HOUR.full() >= hours, text
    return frozenset((hour, minute) for hour in hours for minute in minutes)


def _read_days(joiner: str, text: str) -> tuple[frozenset[int], frozenset[int], str, frozenset[int]]:
    days, weekdays, months = DAY.full(), ALL_WEEKDAYS, MONTH.full()
    if joiner == " in ":
        return days, weekdays, "and", _months(text)
    if joiner != " on ":
        assert not text, text
        return days, weekdays, "and", months
    rule = "or" if " or on " in text else "and"
    day_side, weekday_side = _sides(text)
    if day_side:
        listing, of = day_side.split(" of ", 1)
        days = _numbers(listing, "day")
        months = MONTH.full() if of == "the month" else _months(of)
    if weekday_side:
        names, _, in_months = weekday_side.partition(" in ")
        weekdays = _weekdays(names)
        if in_months:
            assert not day_side or _months(in_months) == months, text
            months = _months(in_months)
    return days, weekdays, rule, months


def _sides(text: str) -> tuple[str, str]:
    """The day-of-month and the day-of-week part of what follows " on "."""
    for separator in (" or on ", ", but only if it is "):
        if separator in text:
            day_side, weekday_side = text.split(separator)
            return day_side, weekday_side
    return (text, "") if DAY_SIDE.match(text) else ("", text)


def _numbers(text: str, noun: str) -> frozenset[int]:
    """Values of "minutes 0 through 2 and every 2nd minute from 4 through 16" (noun: "minute")."""
    values: set[int] = set()
    for step, unit, first, last in PROGRESSION.findall(text):
        assert unit == noun, text
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
