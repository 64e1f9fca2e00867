"""Cron expressions: parsing and validation (placeholder; the full compiler lands with issue 3).

`on_calendar` and `crontab_expression` are naive stand-ins with the compiler's interface so that the
sync engine runs; they handle plain five-field expressions with `*`, numbers, lists, ranges and steps.
"""

from __future__ import annotations

from dataclasses import dataclass


class ScheduleError(ValueError):
    """A cron expression cronsync refuses, with a message naming the field and the bad part."""


@dataclass(frozen=True)
class Schedule:
    expression: str

    @property
    def is_reboot(self) -> bool:
        return self.expression.strip() == "@reboot"


_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def parse(expression: str) -> Schedule:
    from datetime import datetime

    import cronsim

    if expression.strip() == "@reboot":
        return Schedule("@reboot")
    try:
        cronsim.CronSim(_NICKNAMES.get(expression, expression), datetime(2000, 1, 1))
    except cronsim.CronSimError as exc:
        raise ScheduleError(str(exc)) from None
    return Schedule(expression)


def _field(value: str) -> str:
    return value.replace("*/", "0/") if value.startswith("*/") else value


def _weekdays(value: str) -> str:
    if value == "*":
        return ""
    parts = []
    for item in value.split(","):
        if "-" in item:
            low, high = item.split("-", 1)
            parts.append(f"{_DAYS[int(low)]}..{_DAYS[int(high)]}")
        else:
            parts.append(_DAYS[int(item)])
    return ",".join(parts) + " "


def on_calendar(schedule: Schedule, timezone: str | None = None) -> list[str]:
    """OnCalendar= values for the schedule ([] for @reboot)."""
    if schedule.is_reboot:
        return []
    minute, hour, day, month, weekday = _NICKNAMES.get(schedule.expression, schedule.expression).split()
    spec = f"{_weekdays(weekday)}*-{_field(month)}-{_field(day)} {_field(hour)}:{_field(minute)}:00"
    return [f"{spec} {timezone}" if timezone else spec]


def crontab_expression(schedule: Schedule) -> str:
    """The schedule as a crontab(5) time field."""
    return schedule.expression
