"""The crontab backend's emulation: cron's fires of the superset entry, replayed through exec's guard over
years of instants, are exactly the systemd timer's instants (whose model, next_fires, is proven against
systemd-analyze in test_schedule.py and test_schedule_forms.py), DST changes included."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from cronsync.core.schedule import crontab_form, next_fires, parse, to_match
from cronsync.exec.guard import fires_at

START = datetime(2023, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
LATE = 7  # cron starts an entry at second 0; exec may begin a few seconds into the minute

# (expression, the job's timezone or None, the machine's zone)
CASES = [
    ("0 0 L * *", None, "Europe/Berlin"),
    ("30 2 L * *", None, "Europe/Berlin"),  # 2024-03-31 is the last day and 02:30 does not exist
    ("0 17 LW * *", None, "America/New_York"),
    ("0 9 15W * *", None, "Europe/Berlin"),
    ("0 9 1W,31W * *", None, "Europe/Berlin"),
    ("30 2 * * 0L", None, "Europe/Berlin"),  # the last Sunday: both DST changes in Europe
    ("0 9 * * mon#2,5L", None, "Europe/Berlin"),
    ("0 1-3 * * sun#1", None, "America/New_York"),  # US DST changes on the 2nd and 1st Sunday
    ("0 0 L * 1", None, "Europe/Berlin"),
    ("0 9 * * *", "Asia/Tokyo", "Europe/Berlin"),
    ("30 2 * * *", "Europe/Berlin", "UTC"),  # the job's own zone skips and repeats 02:30
    ("30 * * * *", "Europe/Berlin", "America/New_York"),
    ("15 9 * * 1-5", "Asia/Kolkata", "America/St_Johns"),
    ("0 0 L * *", "Australia/Lord_Howe", "UTC"),  # a half-hour DST
    ("*/20 1-3 * * *", "Europe/Berlin", "America/New_York"),
    ("0 12 * * 5L", "Pacific/Kiritimati", "Pacific/Pago_Pago"),  # 25 hours apart
    ("@daily", "America/St_Johns", "Asia/Kathmandu"),
]


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.undo()
    time.tzset()


def _cron_fires(expression: str, zone: str) -> list[datetime]:
    """What Debian's cron does with the entry, as cronsim models it (its DST rules included)."""
    fires = []
    for fire in CronSim(expression, START.astimezone(ZoneInfo(zone))):
        if fire >= END:
            return fires
        fires.append(fire)
    return fires


@pytest.mark.parametrize(("expression", "timezone", "machine"), CASES)
def test_cron_through_the_guard_fires_exactly_when_the_timer_does(
    expression: str, timezone: str | None, machine: str, monkeypatch: pytest.MonkeyPatch, local_zone: None
) -> None:
    monkeypatch.setenv("TZ", machine)
    time.tzset()
    schedule = parse(expression)
    form = crontab_form(schedule, timezone, machine)
    assert form.emulated
    guard = to_match(schedule, timezone)
    cron = _cron_fires(form.expression, machine)
    ran = [fire.astimezone(UTC) for fire in cron if fires_at(guard, fire.timestamp() + LATE)]
    timer = [
        fire.astimezone(UTC)
        for fire in next_fires(schedule, START, 100_000, timezone or machine)
        if fire < END
    ]
    assert timer, expression
    assert ran == timer, (expression, sorted(set(ran) ^ set(timer))[:5])


def test_the_guard_reads_the_minute_it_started_in() -> None:
    guard = to_match(parse("0 9 L * *"), "Europe/Berlin")
    nine = datetime(2024, 2, 29, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    assert fires_at(guard, nine) and fires_at(guard, nine + 59)
    assert not fires_at(guard, nine + 60) and not fires_at(guard, nine - 1)
    assert not fires_at(guard, nine - 86400)  # the 28th: not the last day of a leap February
