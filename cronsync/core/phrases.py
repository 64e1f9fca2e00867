"""Schedules written in words ("every 15 minutes on weekdays"), for the error that says how cron writes them.

Only for messages: cronsync schedules cron syntax, and this reads the few phrases people type instead of it
(every N minutes or hours, hourly, daily, weekly, monthly, at HH:MM, on weekdays, weekends or named days).
"""

from __future__ import annotations

import re

from cronsync.core.describe import describe
from cronsync.core.schedule import ScheduleError, parse

_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_EVERY = re.compile(r"\bevery\s+(\d+)\s+(minute|min|hour)s?\b")
_EVERY_ONE = re.compile(r"\b(?:every|each)\s+(minute|hour|day|week|month)\b")
_AT = re.compile(r"\bat\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b")
_NICKNAMES = {"hourly": "hour", "daily": "day", "nightly": "day", "weekly": "week", "monthly": "month"}
_VOCABULARY = {"every", "each", "at", "on", "and", "the", "am", "pm", "to", "through", "only"}
_VOCABULARY |= {"minute", "minutes", "min", "mins", "hour", "hours", "day", "days", "week", "weeks"}
_VOCABULARY |= {
    "month",
    "months",
    "weekday",
    "weekdays",
    "workday",
    "workdays",
    "weekend",
    "weekends",
    *_NICKNAMES,
}
_VOCABULARY |= {spelled for name in _DAYS for spelled in (name, f"{name}s")}


def check_not_words(text: str) -> None:
    """ScheduleError when a schedule is written in words: that cron syntax is expected, and how cron
    writes it (with what that means) when it is one of the phrases read here."""
    if not is_words(text):
        return
    message = "cron syntax is expected: five fields (minute hour day-of-month month day-of-week), not words"
    meant = cron_for(text)
    if meant is None:
        raise ScheduleError(
            f"{message}; e.g. '*/15 * * * *' is every 15 minutes, '0 9 * * 1-5' 09:00 on weekdays"
        )
    raise ScheduleError(f"{message}; {text!r} is written {meant!r} ({describe(parse(meant))})")


def is_words(text: str) -> bool:
    """Whether a would-be cron expression is written in words (a word of four letters or more that is no
    month or day name: those are cron syntax)."""
    names = {name[:3] for name in _DAYS} | {name for name in _DAYS}
    months = {"january", "february", "march", "april", "june", "july", "august", "september"}
    months |= {"october", "november", "december"}
    if text.strip().startswith("@"):
        return False  # a nickname (@daily, @reboot): cron syntax
    words = re.findall(r"[a-z]+", text.lower())
    return any(len(word) >= 4 and word not in names | months for word in words)


def cron_for(text: str) -> str | None:
    """The cron expression a phrase means, or None when it holds a word not read here (so that the
    expression shown is never a guess)."""
    phrase = " ".join(
        text.lower().replace(",", " ").replace("noon", "12:00").replace("midnight", "0:00").split()
    )
    if any(word not in _VOCABULARY for word in re.findall(r"[a-z]+", phrase)):
        return None
    minute, hour, day_of_month, weekday = "0", "*", "*", "*"
    unit = _unit(phrase)
    if (_EVERY.search(phrase) and _AT.search(phrase)) or (unit == "month" and _weekdays(phrase)):
        return None  # "every 15 minutes at 9", "every month on mondays": no one reading is sure
    if match := _EVERY.search(phrase):
        count = int(match.group(1))
        if match.group(2).startswith("min"):
            minute = f"*/{count}" if count > 1 else "*"
        else:
            hour = f"*/{count}" if count > 1 else "*"
    elif unit is not None:
        minute, hour, weekday, day_of_month = _one(unit)
    elif not _AT.search(phrase):
        return None
    if match := _AT.search(phrase):
        at_hour, at_minute = _clock(match)
        if at_hour is None:
            return None
        minute, hour = str(at_minute), str(at_hour)
    weekday = _weekdays(phrase) or weekday
    return f"{minute} {hour} {day_of_month} * {weekday}"


def _unit(phrase: str) -> str | None:
    """The unit of "every minute|hour|day|week|month" or of hourly, daily, weekly, monthly."""
    if match := _EVERY_ONE.search(phrase):
        return match.group(1)
    return next((unit for word, unit in _NICKNAMES.items() if re.search(rf"\b{word}\b", phrase)), None)


def _one(unit: str) -> tuple[str, str, str, str]:
    """minute, hour, weekday, day of month of "every <unit>"."""
    return {
        "minute": ("*", "*", "*", "*"),
        "hour": ("0", "*", "*", "*"),
        "day": ("0", "0", "*", "*"),
        "week": ("0", "0", "0", "*"),
        "month": ("0", "0", "*", "1"),
    }[unit]


def _clock(match: re.Match[str]) -> tuple[int | None, int]:
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3) == "pm" and hour < 12:
        hour += 12
    elif match.group(3) == "am" and hour == 12:
        hour = 0
    return (hour if hour < 24 and minute < 60 else None), minute


def _weekdays(phrase: str) -> str | None:
    if re.search(r"\bweekdays?\b|\bworkdays?\b|\bmonday (?:to|through|-) friday\b", phrase):
        return "1-5"
    if re.search(r"\bweekends?\b", phrase):
        return "0,6"
    days = [str(number) for number, name in enumerate(_DAYS) if re.search(rf"\b{name}s?\b", phrase)]
    return ",".join(days) or None
