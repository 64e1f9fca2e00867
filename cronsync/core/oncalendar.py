"""A Schedule as systemd OnCalendar= lines whose union fires exactly when the schedule does.

Pure. The lines are in systemd's normalized form; each is proven against `systemd-analyze calendar` by the
tests (tests/pure/test_schedule.py, tests/pure/test_schedule_forms.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any

from cronsync.core.cronexpr import (
    ALL_WEEKDAYS,
    DAY,
    DAYS_IN_MONTH,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    CronField,
    Schedule,
    possible_days,
)
from cronsync.core.cronmatch import ALL_DAYS, day_matches, to_match

SYSTEMD_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# systemd cannot tell a leap year's February from a common year's other than by naming the years (its
# calendar ends in 2199); these are used only when a schedule's February days depend on it.
LEAP_YEARS = "1972..2096/4,2104..2196/4"
COMMON_YEARS = "1970..2198/4,1971..2199/4,1973..2197/4,2100"
MAX_RELATIVE_DAY = 28  # systemd's `~n` (n-th day from the month's end) takes 1-28

Pattern = frozenset[tuple[int, frozenset[int]]]  # (day, the weekdays on which it fires), 0 = Sunday


def on_calendar(schedule: Schedule, timezone: str | None = None) -> list[str]:
    """The OnCalendar= expressions whose union fires exactly when cron would ([] for @reboot, @every)."""
    if schedule.is_reboot or schedule.is_every:
        return []
    time = (
        f"{_numbers(schedule.hours, HOUR, cycle=24)}:{_numbers(schedule.minutes, MINUTE, cycle=60)}:"
        f"{_numbers(schedule.seconds, SECOND, cycle=60)}"
    )
    suffix = f" {timezone}" if timezone else ""
    if schedule.special_days:
        return [f"{date} {time}{suffix}" for date in _special_dates(schedule)]
    return [f"{date} {time}{suffix}" for date in _plain_dates(schedule)]


def _plain_dates(schedule: Schedule) -> list[str]:
    months = _numbers(schedule.months, MONTH, cycle=12)
    full_days = schedule.days == DAY.full()
    full_weekdays = schedule.weekdays == ALL_WEEKDAYS
    if schedule.either_day and (full_days or full_weekdays):
        return [f"*-{months}-*"]  # one side matches every day, so the OR does too
    days = "*" if full_days else _numbers(possible_days(schedule.days, schedule.months), DAY, cycle=None)
    weekdays = "" if full_weekdays else _weekdays(schedule.weekdays) + " "
    if not schedule.either_day:
        return [f"{weekdays}*-{months}-{days}"]
    # systemd ANDs the parts of one expression; cron's OR needs one line per day field.
    dates = [f"{weekdays}*-{months}-*"]
    if possible_days(schedule.days, schedule.months):
        dates.insert(0, f"*-{months}-{days}")
    return dates


# --- L, W, nL and # ------------------------------------------------------------------------------------


def _special_dates(schedule: Schedule) -> list[str]:
    """One or more dates per part of the day fields (cron's rule is an OR of parts, or an AND of pairs)."""
    match = to_match(schedule)
    dates: list[str] = []
    for component in _components(match):
        for date in _component_dates(component, sorted(schedule.months)):
            if date not in dates:
                dates.append(date)
    return dates


_NO_DAYS = {
    "days": 0,
    "last_day": False,
    "last_workday": False,
    "nearest_workdays": 0,
    "weekdays": 0,
    "last_weekdays": 0,
    "nth_weekdays": 0,
}


def _components(match: dict[str, Any]) -> list[dict[str, Any]]:
    """The day fields as matches of one day-of-month part AND one day-of-week part, whose union is them."""
    month_parts: list[dict[str, Any]] = [{"days": match["days"]}] if match["days"] else []
    month_parts += [{key: True} for key in ("last_day", "last_workday") if match[key]]
    month_parts += [{"nearest_workdays": bit} for bit in _bits(match["nearest_workdays"])]
    week_parts: list[dict[str, Any]] = [{"weekdays": match["weekdays"]}] if match["weekdays"] else []
    week_parts += [{"last_weekdays": bit} for bit in _bits(match["last_weekdays"])]
    week_parts += [{"nth_weekdays": bit} for bit in _bits(match["nth_weekdays"])]
    if match["all_of"]:
        pairs = list(product(month_parts, week_parts))
    else:
        every_day, every_weekday = {"days": _mask_of(ALL_DAYS)}, {"weekdays": _mask_of(ALL_WEEKDAYS)}
        pairs = [(part, every_weekday) for part in month_parts] + [(every_day, part) for part in week_parts]
    return [{**match, **_NO_DAYS, **month, **week, "all_of": True} for month, week in pairs]


def _bits(mask: int) -> list[int]:
    return [1 << bit for bit in range(mask.bit_length()) if mask >> bit & 1]


def _mask_of(values: frozenset[int]) -> int:
    return sum(1 << value for value in values)


def _component_dates(component: dict[str, Any], months: list[int]) -> list[str]:
    """The dates of one component: days counted from the month's start or (`~`) from its end, whichever
    says it in fewer lines; February by leap and common years only when neither can."""
    by_start = [_month_dates(component, month, relative=False) for month in months]
    by_end = [_month_dates(component, month, relative=True) for month in months]
    candidates = []
    for preferred in (by_start, by_end):
        other = by_end if preferred is by_start else by_start
        choice = [
            mine or theirs or _by_year(component) for mine, theirs in zip(preferred, other, strict=True)
        ]
        candidates.append(_dates(choice, months))
    return min(candidates, key=len)


Groups = list[tuple[str, str, Pattern, int]]  # (years, '-' or '~', pattern, the month's length)


def _month_dates(component: dict[str, Any], month: int, relative: bool) -> Groups | None:
    """The month's pattern counted one way, or None when that way cannot say it for every year."""
    lengths = (28, 29) if month == 2 else (DAYS_IN_MONTH[month],)
    patterns = [_pattern(component, length, relative) for length in lengths]
    if relative and any(day > MAX_RELATIVE_DAY for pattern in patterns for day, _ in pattern):
        return None
    separator = "~" if relative else "-"
    if len(patterns) == 2:
        common, leap = patterns
        if (leap if relative else _restricted(leap, 28)) != common:
            return None
    return [("*", separator, patterns[-1], lengths[-1])]


def _by_year(component: dict[str, Any]) -> Groups:
    return [
        (COMMON_YEARS, "-", _pattern(component, 28, False), 28),
        (LEAP_YEARS, "-", _pattern(component, 29, False), 29),
    ]


def _pattern(component: dict[str, Any], length: int, relative: bool) -> Pattern:
    items = []
    for day in range(1, length + 1):
        weekdays = frozenset(w for w in range(7) if day_matches(component, day, length, w))
        if weekdays:
            items.append((length + 1 - day if relative else day, weekdays))
    return frozenset(items)


def _restricted(pattern: Pattern, length: int) -> Pattern:
    return frozenset(item for item in pattern if item[0] <= length)


@dataclass
class _Group:
    """Months that one set of lines serves: a day a month lacks never fires in it, so months of different
    lengths share lines when they agree on the days they have."""

    years: str
    separator: str
    pattern: Pattern
    lengths: list[int]
    months: list[int]

    def fits(self, years: str, separator: str, pattern: Pattern, length: int) -> bool:
        if (years, separator) != (self.years, self.separator):
            return False
        if separator == "~":
            return pattern == self.pattern
        merged = self.pattern | pattern
        return all(
            _restricted(merged, size) == _restricted(self.pattern, size) for size in self.lengths
        ) and (_restricted(merged, length) == pattern)


def _dates(choice: list[Groups], months: list[int]) -> list[str]:
    groups: list[_Group] = []
    for month, month_groups in zip(months, choice, strict=True):
        for years, separator, pattern, length in month_groups:
            group = next((g for g in groups if g.fits(years, separator, pattern, length)), None)
            if group is None:
                groups.append(_Group(years, separator, pattern, [length], [month]))
            else:
                group.pattern |= pattern
                group.lengths.append(length)
                group.months.append(month)
    return [date for group in groups for date in _group_dates(group)]


def _group_dates(group: _Group) -> list[str]:
    month_text = _numbers(frozenset(group.months), MONTH, cycle=12)
    by_weekdays: dict[frozenset[int], list[int]] = {}
    for day, weekdays in sorted(group.pattern):
        by_weekdays.setdefault(weekdays, []).append(day)
    dates = []
    for weekdays, days in sorted(by_weekdays.items(), key=lambda item: item[1]):
        prefix = "" if weekdays == ALL_WEEKDAYS else _weekdays(weekdays) + " "
        day_text = _numbers(frozenset(days), DAY, cycle=None)
        dates.append(f"{prefix}{group.years}-{month_text}{group.separator}{day_text}")
    return dates


# --- systemd's notation --------------------------------------------------------------------------------


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
