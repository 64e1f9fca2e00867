"""Plain-English descriptions of schedules, generated from the parsed value sets, so that a description
names exactly the minutes, hours, days, months and weekdays that fire, and nothing else.

A sentence is composed field by field: the time (`_time`: minutes with hours), then the days (`_days`:
day of month and day of week under cron's AND/OR rule, with the months). Each field's values are written
by `_listing` as ordered pieces: a value, a run ("5 through 10") or, for seven values or more, a
progression ("every 7th minute from 0 through 56"). A step is only ever said as "every N minutes" where it
is real: the values run from the field's start and N divides the hour, so the gap stays N across the hour.

To describe a new form, write one function that returns its phrase (say `_last_day`: "the last day") and
pass what it returns to its field's `_listing` as one of the `forms`, listed after the values (in
`_day_list` for a day-of-month form, `_weekday_list` for a day-of-week form); a form that is a whole
schedule of its own (an interval) is one more case in `describe`, as `@reboot` is.
"""

from __future__ import annotations

from dataclasses import dataclass

from cronsync.core.schedule import (
    ALL_WEEKDAYS,
    DAY,
    DAYS_IN_MONTH,
    HOUR,
    MINUTE,
    MONTH,
    MONTH_NAMES,
    SECOND,
    Schedule,
    consecutive_runs,
    longest_progression,
)

AT_STARTUP = "At startup (once, when the scheduler starts)"
MAX_CLOCK_TIMES = 6  # up to this many times of day are written as HH:MM
MIN_PROGRESSION = 7  # fewer values with a step between them are listed one by one
MIN_RUN = 3  # fewer consecutive values are listed one by one
# Weekdays are listed Monday first (ISO order), so that Saturday and Sunday read as the weekend.
ISO_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAY_NAMES = ("Sunday", *ISO_WEEKDAYS[:-1])  # by cron's number


@dataclass(frozen=True)
class Piece:
    """Consecutive members of a field's ordered values: first, last, and the step between them."""

    first: int
    last: int
    step: int = 1


@dataclass(frozen=True)
class Noun:
    """How a field's values are called: "minute 5", "minutes 5 and 20"; names stand alone ("Monday")."""

    singular: str = ""
    plural: str = ""
    names: tuple[str, ...] = ()  # names[i] is the name of position i


SECONDS = Noun("second", "seconds")
MINUTES = Noun("minute", "minutes")
HOURS = Noun("hour", "hours")
DAYS = Noun("day", "days")
MONTHS = Noun(names=MONTH_NAMES)
WEEKDAYS = Noun(names=ISO_WEEKDAYS)
NTH = ("", "first", "second", "third", "fourth", "fifth")
WORKDAY = "weekday (Monday to Friday)"
INTERVAL_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def describe(schedule: Schedule) -> str:
    """Plain English, e.g. "At 09:00 on Monday through Friday", "Every 15 minutes"."""
    if schedule.is_reboot:
        return AT_STARTUP
    if schedule.is_every:
        return f"Every {_interval(schedule.every_seconds)}, counted from the start of the previous run"
    return _time(schedule) + _days(schedule)


def _interval(seconds: int) -> str:
    """5400 -> "90 minutes", 86400 -> "1 day", 90 -> "90 seconds" (the largest unit that divides it)."""
    size, unit = next((size, unit) for size, unit in INTERVAL_UNITS if seconds % size == 0)
    count = seconds // size
    return f"{count} {unit}" + ("s" if count != 1 else "")


# ---------------------------------------------------------------------------------------------- the time


def _time(schedule: Schedule) -> str:
    """The time of day; a seconds field (six fields) comes first: "Every 5 seconds", "At 09:00:30"."""
    seconds, minutes, hours = sorted(schedule.seconds), schedule.minutes, schedule.hours
    if seconds == [0]:
        return _minute_time(schedule)
    if len(seconds) == 1 and hours != HOUR.full() and len(minutes) * len(hours) <= MAX_CLOCK_TIMES:
        clocks = [f"{h:02d}:{m:02d}:{seconds[0]:02d}" for h in sorted(hours) for m in sorted(minutes)]
        return "At " + _join(clocks)
    every_minute = minutes == MINUTE.full()
    step = _real_step(schedule.seconds)
    if every_minute and schedule.seconds == SECOND.full():
        every = "Every second"
    elif every_minute and step:
        every = f"Every {step} seconds"
    else:  # "every 30 seconds" would say it fires in every minute
        every = f"At {_listing(seconds, SECONDS)} past the minute"
    if every_minute and hours == HOUR.full():
        return every
    rest = _minute_time(schedule)
    return f"{every}, {rest[0].lower()}{rest[1:]}"


def _minute_time(schedule: Schedule) -> str:
    minutes, hours = schedule.minutes, schedule.hours
    if hours != HOUR.full() and len(minutes) * len(hours) <= MAX_CLOCK_TIMES:
        return "At " + _join([f"{h:02d}:{m:02d}" for h in sorted(hours) for m in sorted(minutes)])
    hour_list = "" if hours == HOUR.full() else _listing(sorted(hours), HOURS)
    during = f" during {hour_list}" if hour_list else ""
    if minutes == MINUTE.full():
        return "Every minute" + during
    if step := _real_step(minutes):
        return f"Every {step} minutes" + during
    return f"At {_listing(sorted(minutes), MINUTES)} past {hour_list or 'the hour'}"


def _real_step(minutes: frozenset[int]) -> int | None:
    """N when the minutes (or seconds) are `*/N` and N divides the hour (the gap is N across the hour
    too)."""
    ordered = sorted(minutes)
    step = ordered[1] - ordered[0] if len(ordered) > 1 else 0
    cycle = MINUTE.high + 1
    if step > 1 and cycle % step == 0 and minutes == frozenset(range(MINUTE.low, cycle, step)):
        return step
    return None


# ---------------------------------------------------------------------------------------------- the days


def _days(schedule: Schedule) -> str:
    """The days and months, under cron's rule: both day fields restricted means either may match."""
    every_date = schedule.days == DAY.full() and not _day_forms(schedule)
    every_weekday = schedule.weekdays == ALL_WEEKDAYS and not _weekday_forms(schedule)
    in_months = "" if schedule.months == MONTH.full() else " in " + _listing(sorted(schedule.months), MONTHS)
    if (every_date and every_weekday) or (schedule.either_day and (every_date or every_weekday)):
        return in_months
    if every_weekday:
        return f" on {_day_list(schedule)}"
    # a day of the month that never occurs adds nothing to the OR
    if every_date or not (_dates(schedule)[0] or _day_forms(schedule)):
        return f" on {_weekday_list(schedule, 'and')}{in_months}"
    if schedule.either_day:
        return f" on {_day_list(schedule)} or on {_weekday_list(schedule, 'and')}{in_months}"
    return f" on {_day_list(schedule)}, but only if it is {_weekday_list(schedule, 'or')}"


def _day_list(schedule: Schedule) -> str:
    """ "day 1 of the month", "days 1 and 15 of January"."""
    days, months = _dates(schedule)
    of = "the month" if schedule.months == MONTH.full() else _listing(months, MONTHS)
    return f"{_listing(days, DAYS, forms=_day_forms(schedule))} of {of}"


def _day_forms(schedule: Schedule) -> tuple[str, ...]:
    """L, LW and nW, as the days they are: "the last day", "the weekday (Monday to Friday) nearest day 15"."""
    forms = ["the last day"] if schedule.last_day else []
    forms += [f"the last {WORKDAY}"] if schedule.last_workday else []
    forms += [f"the {WORKDAY} nearest day {day}" for day in sorted(schedule.nearest_workdays)]
    return tuple(forms)


def _weekday_forms(schedule: Schedule) -> tuple[str, ...]:
    """nL and n#k: "the last Friday of the month", "the second Monday of the month"."""
    iso = sorted(schedule.last_weekdays, key=lambda day: (day + 6) % 7)
    forms = [f"the last {WEEKDAY_NAMES[day]} of the month" for day in iso]
    ordered = sorted(schedule.nth_weekdays, key=lambda item: (item[1], (item[0] + 6) % 7))
    forms += [f"the {NTH[nth]} {WEEKDAY_NAMES[day]} of the month" for day, nth in ordered]
    return tuple(forms)


def _dates(schedule: Schedule) -> tuple[list[int], list[int]]:
    """The days of the month that occur in one of the months, and the months one of them occurs in:
    `30 1,2` is day 30 of January only, as February has no day 30."""
    if not schedule.days:  # only L, LW or nW
        return [], sorted(schedule.months)
    months = [month for month in sorted(schedule.months) if min(schedule.days) <= DAYS_IN_MONTH[month]]
    longest = max((DAYS_IN_MONTH[month] for month in months), default=0)
    return [day for day in sorted(schedule.days) if day <= longest], months


def _weekday_list(schedule: Schedule, last_joiner: str) -> str:
    positions = sorted((day + 6) % 7 for day in schedule.weekdays)  # cron's 0 = Sunday -> ISO's 6
    return _listing(positions, WEEKDAYS, last_joiner, _weekday_forms(schedule))


# ---------------------------------------------------------------------------------------------- listings


def _listing(ordered: list[int], noun: Noun, last_joiner: str = "and", forms: tuple[str, ...] = ()) -> str:
    """Ordered values as words, then the phrases of other forms: "minutes 5, 20 and 35", "hours 9 through
    17", "every 2nd day from 1 through 31", "Monday, Wednesday and Friday"."""
    pieces = _pieces(ordered)
    plain = [piece for piece in pieces if piece.step == 1]
    parts = [] if not plain else [_plain(plain, noun, last_joiner)]
    parts += [_progression(piece, noun) for piece in pieces if piece.step > 1]
    return _join([*parts, *forms], last_joiner)


def _pieces(ordered: list[int]) -> list[Piece]:
    """The shorter of two ways to write the values, in order: runs first, or the progressions first."""
    runs_first = _runs_first(ordered)
    progressions_first = _progressions_first(ordered)
    shorter = runs_first if len(runs_first) <= len(progressions_first) else progressions_first
    return sorted(shorter, key=lambda piece: piece.first)


def _runs_first(ordered: list[int]) -> list[Piece]:
    """Runs of MIN_RUN or more consecutive values, then progressions among the values left."""
    runs = consecutive_runs(ordered)
    left = [value for run in runs if len(run) < MIN_RUN for value in run]
    return [Piece(run[0], run[-1]) for run in runs if len(run) >= MIN_RUN] + _progressions_first(left)


def _progressions_first(ordered: list[int]) -> list[Piece]:
    """From the first value on: a run of MIN_RUN or more, else a progression of MIN_PROGRESSION or more
    (the longest), else the value alone."""
    pieces = []
    remaining = ordered
    while remaining:
        taken = _run(remaining)
        if len(taken) >= MIN_RUN:
            pieces.append(Piece(taken[0], taken[-1]))
        elif len(progression := longest_progression(remaining)) >= MIN_PROGRESSION:
            taken = progression
            pieces.append(Piece(taken[0], taken[-1], taken[1] - taken[0]))
        else:
            taken = remaining[:1]
            pieces.append(Piece(taken[0], taken[0]))
        taken_values = set(taken)
        remaining = [value for value in remaining if value not in taken_values]
    return pieces


def _run(ordered: list[int]) -> list[int]:
    """The consecutive values `ordered` starts with."""
    length = next((i for i, value in enumerate(ordered) if value != ordered[0] + i), len(ordered))
    return ordered[:length]


def _plain(pieces: list[Piece], noun: Noun, last_joiner: str) -> str:
    items = [
        _name(piece.first, noun)
        if piece.first == piece.last
        else f"{_name(piece.first, noun)} through {_name(piece.last, noun)}"
        for piece in pieces
    ]
    if noun.names:
        return _join(items, last_joiner)
    single = len(pieces) == 1 and pieces[0].first == pieces[0].last
    return f"{noun.singular if single else noun.plural} {_join(items, last_joiner)}"


def _progression(piece: Piece, noun: Noun) -> str:
    return (
        f"every {_ordinal(piece.step)} {noun.singular} "
        f"from {_name(piece.first, noun)} through {_name(piece.last, noun)}"
    )


def _name(value: int, noun: Noun) -> str:
    return noun.names[value] if noun.names else str(value)


def _ordinal(number: int) -> str:
    suffix = "th" if 11 <= number % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _join(items: list[str], last_joiner: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last_joiner} {items[-1]}"
