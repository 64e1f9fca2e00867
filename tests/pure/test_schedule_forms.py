"""The forms beyond crontab(5) (L, LW, nW, nL, n#k, ?, seconds first, @every) and steps larger than their
range: the exact OnCalendar= lines, proven against the real systemd (systemd-analyze) and, where cronsim
reads the form, against cronsim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cronsim import CronSim

from cronsync.core.schedule import crontab_form, next_fires, on_calendar, parse
from tests.support.systemd_calendar import BASE_TIMES, compare_with_systemd, systemd_calendar

ITERATIONS = 40

# expression -> the OnCalendar= lines cronsync must emit (systemd's own normalized form).
FORM_CASES: dict[str, list[str]] = {
    # Steps larger than their range reach one value (Debian's cron: `*/61` is minute 0).
    "*/61 * * * *": ["*-*-* *:00:00"],
    "0 */24 * * *": ["*-*-* 00:00:00"],
    "14 16-23/24 * * *": ["*-*-* 16:14:00"],
    "* * */32 * *": ["*-*-01 *:*:00"],
    "* * * */13 *": ["*-01-* *:*:00"],
    "* * * * */8": ["Sun *-*-* *:*:00"],
    # `*/100,1-7` starts with '*': ANDed with Monday (the first Monday of the month).
    "1 1 */100,1-7 * MON": ["Mon *-*-01..07 01:01:00"],
    "0 0 5/40 * *": ["*-*-05 00:00:00"],
    # L: the last day of the month.
    "0 0 L * *": ["*-*~01 00:00:00"],
    "30 18 L 2 *": ["*-02~01 18:30:00"],
    # LW: the last Monday-Friday.
    "0 17 LW * *": ["Mon..Fri *-*~01 17:00:00", "Fri *-*~02,03 17:00:00"],
    # nW: the Monday-Friday nearest day n, without leaving the month.
    "0 9 15W * *": ["Fri *-*-14 09:00:00", "Mon..Fri *-*-15 09:00:00", "Mon *-*-16 09:00:00"],
    "0 9 1W * *": ["Mon..Fri *-*-01 09:00:00", "Mon *-*-02,03 09:00:00"],
    "0 9 31W * *": ["Fri *-01..07/2,08/2-29,30 09:00:00", "Mon..Fri *-01..07/2,08/2-31 09:00:00"],
    # 5L / friL: the last Friday of the month.
    "0 0 * * 5L": ["Fri *-*~01..07 00:00:00"],
    "0 0 ? * FRIL": ["Fri *-*~01..07 00:00:00"],
    "0 0 * * 0L": ["Sun *-*~01..07 00:00:00"],
    "0 0 * * 7L": ["Sun *-*~01..07 00:00:00"],
    # n#k: the k-th such weekday.
    "0 9 * * 1#2": ["Mon *-*-08..14 09:00:00"],
    "0 9 * * MON#2": ["Mon *-*-08..14 09:00:00"],
    "0 9 * * sun#5": ["Sun *-*-29..31 09:00:00"],
    # Lists mixing them.
    "0 0 1,L * *": ["*-*-01 00:00:00", "*-*~01 00:00:00"],
    "0 0 * * 1#1,5L": ["Fri *-*~01..07 00:00:00", "Mon *-*-01..07 00:00:00"],
    "0 0 * * 1-5,6L": ["Mon..Fri *-*-* 00:00:00", "Sat *-*~01..07 00:00:00"],
    "0 0 10,20,LW * *": ["*-*-10,20 00:00:00", "Mon..Fri *-*~01 00:00:00", "Fri *-*~02,03 00:00:00"],
    # Both day fields restricted: either may match (cron's OR), as cronsim reads it.
    "0 0 L * 1": ["*-*~01 00:00:00", "Mon *-*-* 00:00:00"],
    "0 0 15 * 5L": ["*-*-15 00:00:00", "Fri *-*~01..07 00:00:00"],
    # One starts with '*' (or is '?'): both must match.
    "0 0 ? * 1#1": ["Mon *-*-01..07 00:00:00"],
    "0 0 L * ?": ["*-*~01 00:00:00"],
    "0 0 */2 * 5L": ["Fri *-01/2,04/2-25..31/2 00:00:00", "Fri *-02-23..29/2 00:00:00"],
    # February's last Friday on a day of */7 (1, 8, 15, 22, 29) depends on the leap year: named years.
    "0 0 */7 * 5L": [
        "Fri *-01/2,04/2-29 00:00:00",
        "Fri 1970..2198/4,1971..2199/4,1973..2197/4,2100-02-22 00:00:00",
        "Fri 1972..2096/4,2104..2196/4-02-29 00:00:00",
    ],
    "0 0 29W * *": [
        "Fri *-01/2,04/2-28 00:00:00",
        "Mon..Fri *-01/2,04/2-29 00:00:00",
        "Mon *-01/2,04/2-30 00:00:00",
        "Fri 1972..2096/4,2104..2196/4-02-27,28 00:00:00",
        "Mon..Fri 1972..2096/4,2104..2196/4-02-29 00:00:00",
    ],
    # Six fields: seconds first.
    "*/5 * * * * *": ["*-*-* *:*:00/5"],
    "30 0 9 * * 1-5": ["Mon..Fri *-*-* 09:00:30"],
    "0,30 */15 * * * *": ["*-*-* *:00/15:00,30"],
    "*/7 * * * * *": ["*-*-* *:*:00..56/7"],
    "15 0 0 L * *": ["*-*~01 00:00:15"],
}


@pytest.mark.parametrize(("expression", "lines"), FORM_CASES.items())
def test_forms_compile_to_these_lines(expression: str, lines: list[str]) -> None:
    assert on_calendar(parse(expression)) == lines


def test_form_lines_are_in_systemds_normalized_form() -> None:
    lines = [line for lines in FORM_CASES.values() for line in lines]
    calendars = systemd_calendar(lines, BASE_TIMES[0], 1)
    assert [calendar.normalized for calendar in calendars] == lines


# Where the forms roll over: month ends in leap and common Februaries, and a year with five Sundays.
FORM_BASE_TIMES = [
    *BASE_TIMES,
    datetime(2027, 2, 20, 12, tzinfo=UTC),
    datetime(2028, 2, 20, 12, tzinfo=UTC),
    datetime(2026, 5, 28, 12, tzinfo=UTC),
]


@pytest.mark.parametrize("base", FORM_BASE_TIMES, ids=lambda base: base.strftime("%Y-%m-%d_%H:%M"))
def test_forms_fire_when_the_schedule_does_under_real_systemd(base: datetime) -> None:
    schedules = [parse(expression) for expression in FORM_CASES]
    for expression, ours, systemds in compare_with_systemd(schedules, base, ITERATIONS):
        assert ours, expression
        assert systemds == ours, expression


def test_forms_over_twenty_years_of_februaries_under_real_systemd() -> None:
    """Leap-year rules: the sparse forms, up to 40 fires each from 2023 (next_fires looks 50 years ahead)."""
    sparse = ["0 0 L 2 *", "0 0 */7 2 5L", "0 0 29W 2 *", "0 0 28W 2 *", "0 0 LW 2 *", "0 0 29 2 5#5"]
    schedules = [parse(expression) for expression in sparse]
    for expression, ours, systemds in compare_with_systemd(schedules, datetime(2023, 1, 1, tzinfo=UTC), 40):
        assert len(ours) >= 5 and systemds == ours, expression


# What cronsim reads of these forms (L, LW, nL, n#k, seconds first): next_fires must agree with it.
CRONSIM_READS = [
    "0 0 L * *",
    "0 17 LW * *",
    "0 0 * * 5L",
    "0 9 * * 1#2",
    "0 9 * * MON#2",
    "0 0 1,L * *",
    "0 0 * * 1#1,5L",
    "0 0 L * 1",
    "0 0 15 * 5L",
    "0 0 */2 * 5L",
    "0 0 */7 * 5L",
    "*/5 * * * * *",
    "30 0 9 * * 1-5",
    "*/61 * * * *",
    "14 16-23/24 * * *",
    "1 1 */100,1-7 * MON",
]


@pytest.mark.parametrize("expression", CRONSIM_READS)
def test_next_fires_agree_with_cronsim(expression: str) -> None:
    base = datetime(2023, 12, 30, 12, tzinfo=UTC)
    ours = next_fires(parse(expression), base, 200, "UTC")
    theirs = CronSim(expression, base)
    assert ours == [next(theirs) for _ in ours]


def test_every_is_a_monotonic_interval_not_a_calendar() -> None:
    schedule = parse("@every 90m")
    assert schedule.every_seconds == 5400 and on_calendar(schedule) == []
    assert parse("@every 1h30m").every_seconds == 5400 and parse("@EVERY 2d").every_seconds == 172800
    base = datetime(2024, 1, 1, tzinfo=UTC)
    assert next_fires(schedule, base, 3, "UTC") == [base + timedelta(minutes=90 * n) for n in (1, 2, 3)]


def test_a_step_that_reaches_one_value_is_noted() -> None:
    assert parse("14 16-23/24 * * *").notes == ("hour: a step of 24 in '16-23/24' reaches only 16",)
    assert parse("*/61 * * * *").notes == ("minute: a step of 61 in '*/61' reaches only 0",)
    assert parse("*/30 * * * *").notes == ()


# expression -> the crontab line's schedule (exec --guard narrows it to the real times).
CRONTAB_SUPERSETS = {
    "0 0 L * *": "0 0 28-31 * *",
    "0 17 LW * *": "0 17 26-31 * *",
    "0 9 15W * *": "0 9 13-17 * *",
    "0 9 1W * *": "0 9 1-3 * *",
    "0 0 * * 5L": "0 0 * * 5",
    "0 0 ? * FRIL": "0 0 * * 5",
    "0 9 * * mon#2": "0 9 * * 1",
    "0 0 1,L * *": "0 0 1,28-31 * *",
    "0 0 L * 1": "0 0 28-31 * 1",
    "0 0 */2 * 5L": "0 0 */2 * 5",
    "5/10 0 L * *": "5-59/10 0 28-31 * *",
}


@pytest.mark.parametrize(("expression", "superset"), CRONTAB_SUPERSETS.items())
def test_crontab_emulation_is_a_superset_in_crontab5(expression: str, superset: str) -> None:
    form = crontab_form(parse(expression))
    assert form.expression == superset and form.emulated
    base = datetime(2024, 1, 1, tzinfo=UTC)
    real = next_fires(parse(expression), base, 100, "UTC")
    candidates = set(next_fires(parse(superset), base, 3000, "UTC"))
    assert set(real) <= candidates, expression


def test_crontab_refuses_what_cron_cannot_start() -> None:
    with pytest.raises(ValueError, match="seconds field '\\*/5': cron starts entries at second 0"):
        crontab_form(parse("*/5 * * * * *"))
    with pytest.raises(ValueError, match="'@every 90m' is an interval from the last start, which cron"):
        crontab_form(parse("@every 90m"))
    assert crontab_form(parse("0 0 9 * * *")) == crontab_form(parse("0 9 * * *"))  # second 0 is exact
    assert not crontab_form(parse("0 9 * * *")).emulated


def test_a_timezone_job_fires_at_every_candidate_minute_of_the_local_zone() -> None:
    berlin_tokyo = crontab_form(parse("0 9 * * *"), "Asia/Tokyo", "Europe/Berlin")
    assert berlin_tokyo.expression == "0 * * * *" and berlin_tokyo.emulated
    assert crontab_form(parse("15 9 * * *"), "Asia/Kolkata", "Europe/Berlin").expression == "45 * * * *"
    # Lord Howe's summer time is half an hour: both shifts are candidates.
    assert crontab_form(parse("0 9 * * *"), "Australia/Lord_Howe", "UTC").expression == "0,30 * * * *"
    assert crontab_form(parse("0 9 * * *"), "Asia/Tokyo", None).expression == "0,15,30,45 * * * *"
