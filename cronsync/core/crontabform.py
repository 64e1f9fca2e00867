"""A Schedule as the schedule part of a crontab line: exact where crontab(5) can say it, else a superset
that `cronsync exec --guard` narrows to the job's own times (the forms cron lacks, and a job `timezone`,
since Debian's cron has no CRON_TZ).

Pure (time zone data is read through zoneinfo, as `check_zone` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cronsync.core.cronexpr import DAY, FIELDS, WEEKDAY, CronField, Schedule, ScheduleError

QUARTER_HOURS = frozenset({0, 15, 30, 45})  # every UTC offset in use is a multiple of 15 minutes
_SAMPLED_YEARS = range(1990, 2051)


@dataclass(frozen=True)
class CrontabForm:
    expression: str  # the schedule part of the line
    emulated: bool  # the line fires more often; exec runs the job only at its own times


def crontab_form(
    schedule: Schedule, timezone: str | None = None, local_zone: str | None = None
) -> CrontabForm:
    """How the crontab backend schedules this; ScheduleError when cron cannot start it at the right times.

    `timezone` is the job's zone when it is not the machine's (None otherwise); `local_zone` the
    machine's (None when unknown).
    """
    if schedule.is_every:
        raise ScheduleError(
            f"{schedule.expression.strip()!r} is an interval from the last start, which cron cannot say "
            "(cron starts entries at wall-clock minutes); use the systemd backend, or a cron expression "
            "such as '*/30 * * * *'"
        )
    if schedule.seconds != frozenset({0}):
        raise ScheduleError(
            f"seconds field {schedule.seconds_field!r}: cron starts entries at second 0 of a minute, so the "
            "crontab backend can run only a seconds field of '0'; use the systemd backend"
        )
    if schedule.is_reboot:
        return CrontabForm("@reboot", emulated=False)
    if timezone:
        return CrontabForm(_every_candidate_minute(schedule, timezone, local_zone), emulated=True)
    if schedule.special_days:
        fields = [_explicit_steps(spec, field) for spec, field in zip(FIELDS, schedule.fields, strict=True)]
        fields[2] = ",".join(_superset_day(term) for term in schedule.fields[2].split(","))
        fields[4] = ",".join(_superset_weekday(term) for term in schedule.fields[4].split(","))
        return CrontabForm(" ".join(fields), emulated=True)
    return CrontabForm(crontab_expression(schedule), emulated=False)


def crontab_expression(schedule: Schedule) -> str:
    """The schedule part of a crontab line for a schedule crontab(5) can say, in a form every cron reads
    the same way."""
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


def _superset_day(term: str) -> str:
    """A crontab(5) term matching every day the term can mean (the guard picks the right one)."""
    if term == "l":
        return "28-31"
    if term == "lw":
        return "26-31"
    if term.endswith("w"):
        day = int(term[:-1])
        return f"{max(DAY.low, day - 2)}-{min(DAY.high, day + 2)}"
    return _explicit_steps(DAY, term)


def _superset_weekday(term: str) -> str:
    """`5L`, `fri#2` -> the weekday itself (the guard picks the right week)."""
    if "#" in term or term.endswith("l"):
        weekday = term.partition("#")[0].removesuffix("l")
        return str(WEEKDAY.names.index(weekday) if weekday in WEEKDAY.names else int(weekday) % 7)
    return _explicit_steps(WEEKDAY, term)


def _every_candidate_minute(schedule: Schedule, timezone: str, local_zone: str | None) -> str:
    """Every local minute that can be one of the job's minutes in its zone: every hour of every day, at
    the job's minutes shifted by each difference of the two zones' offsets (modulo an hour)."""
    shifts = _minute_shifts(timezone, local_zone) if local_zone else QUARTER_HOURS
    minutes = sorted({(minute + shift) % 60 for minute in schedule.minutes for shift in shifts})
    minute_field = "*" if len(minutes) == 60 else ",".join(str(minute) for minute in minutes)
    return f"{minute_field} * * * *"


@cache
def _minute_shifts(zone: str, local_zone: str) -> frozenset[int]:
    """How far the local minute is from the job's: (local offset - the zone's offset) modulo an hour, for
    every offset either has had from 1990 to 2050 (each pair, so a change of rules in one stays covered)."""
    return frozenset(
        (ours - theirs) % 60 for theirs in _offset_minutes(zone) for ours in _offset_minutes(local_zone)
    )


@cache
def _offset_minutes(name: str) -> frozenset[int]:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(name)
    offsets = set()
    for year in _SAMPLED_YEARS:
        for month in range(1, 13):
            for day in (1, 15):
                offset = datetime(year, month, day, tzinfo=UTC).astimezone(zone).utcoffset()
                offsets.add(int(offset.total_seconds()) // 60 if offset is not None else 0)
    return frozenset(offsets)
