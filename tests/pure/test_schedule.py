"""The cron -> OnCalendar compiler, checked against the real systemd (systemd-analyze) and cronsim."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cronsync.config import load_config
from cronsync.core.describe import describe
from cronsync.core.errors import InvalidInput
from cronsync.core.schedule import (
    ScheduleError,
    crontab_escape,
    crontab_expression,
    next_fires,
    on_calendar,
    parse,
)
from cronsync.userspace.paths import UserSpace
from tests.support.systemd_calendar import (
    BASE_TIMES,
    compare_with_systemd,
    systemd_calendar,
    union_of_elapses,
    verify_units,
)

ITERATIONS = 40

# expression -> the OnCalendar= lines cronsync must emit (systemd's own normalized form).
HARD_CASES: dict[str, list[str]] = {
    "0 9 * * 1-5": ["Mon..Fri *-*-* 09:00:00"],
    # A well-known converter emits one `Fri *-4-3` line; cron fires on April 3rd OR any Friday in April.
    "1 2 3 4 5": ["*-04-03 02:01:00", "Fri *-04-* 02:01:00"],
    "@weekly": ["Sun *-*-* 00:00:00"],  # Sunday, not Monday
    "@yearly": ["*-01-01 00:00:00"],
    "@annually": ["*-01-01 00:00:00"],
    "@monthly": ["*-*-01 00:00:00"],
    "@daily": ["*-*-* 00:00:00"],
    "@midnight": ["*-*-* 00:00:00"],
    "@hourly": ["*-*-* *:00:00"],
    "* * * * *": ["*-*-* *:*:00"],
    "*/15 * * * *": ["*-*-* *:00/15:00"],
    # 7 does not divide 60: systemd 252 would skip 00:00 after 23:56 with an open `00/7`.
    "*/7 * * * *": ["*-*-* *:00..56/7:00"],
    "1/7 * * * *": ["*-*-* *:01..57/7:00"],
    "*/25 * * * *": ["*-*-* *:00..50/25:00"],
    "5/10 * * * *": ["*-*-* *:05/10:00"],
    "0 */5 * * *": ["*-*-* 00..20/5:00:00"],
    "0 */6 * * *": ["*-*-* 00/6:00:00"],
    # Found by hypothesis: an open `01/3` would carry 22+3 into 01:00 of the next day and skip its 00:00.
    "* 0,1/3 * * *": ["*-*-* 00,01..22/3:*:00"],
    "0 12/4 * * *": ["*-*-* 12/4:00:00"],  # 20+4 carries to 00, below the smallest hour: open is right
    "*/5 */5 * * *": ["*-*-* 00..20/5:00/5:00"],
    "0 9-17 * * *": ["*-*-* 09..17:00:00"],
    "0-10/2,30-40/5 * * * *": ["*-*-* *:00..10/2,30..40/5:00"],
    "0 0 */2 * *": ["*-*-01..31/2 00:00:00"],
    "0 0 */7 * *": ["*-*-01..29/7 00:00:00"],
    # `*/2` starts with '*': cron ANDs the day fields (odd days that are Mondays).
    "0 0 */2 * mon": ["Mon *-*-01..31/2 00:00:00"],
    "0 12 */10 * 1-5": ["Mon..Fri *-*-01..31/10 12:00:00"],
    # Both restricted: the 1st and 15th, or any weekday.
    "0 0 1,15 * mon-fri": ["*-*-01,15 00:00:00", "Mon..Fri *-*-* 00:00:00"],
    # Not "the first Monday": days 1-7 or any Monday.
    "0 12 1-7 * 1": ["*-*-01..07 12:00:00", "Mon *-*-* 12:00:00"],
    "0 0 29 2 *": ["*-02-29 00:00:00"],
    "0 0 29 2 1": ["*-02-29 00:00:00", "Mon *-02-* 00:00:00"],
    "0 0 30,31 2,4 *": ["*-02,04-30 00:00:00"],  # Feb 30/31 and Apr 31 do not exist
    "0 0 31 2 mon": ["Mon *-02-* 00:00:00"],  # the day-of-month side can never match
    "0 0 1 * 0-7": ["*-*-* 00:00:00"],  # OR with every weekday is every day
    "0 0 * * 7": ["Sun *-*-* 00:00:00"],
    "0 0 * * 0": ["Sun *-*-* 00:00:00"],
    "0 0 * * 5-7": ["Fri..Sun *-*-* 00:00:00"],
    "0 0 * * SAT,sun": ["Sat,Sun *-*-* 00:00:00"],
    "0 0 * * */2": ["Tue,Thu,Sat,Sun *-*-* 00:00:00"],
    "0 0 * * mon/2": ["Mon,Wed,Fri,Sun *-*-* 00:00:00"],
    "30 4 1 jan-MAR,Dec *": ["*-01..03,12-01 04:30:00"],
    "0 0 * */3 *": ["*-01/3-* 00:00:00"],
    "0 0 1 */5 *": ["*-01..11/5-01 00:00:00"],
    "59 23 31 12 *": ["*-12-31 23:59:00"],
    "0,1,2,3,10,20,30 * * * *": ["*-*-* *:00..03,10..30/10:00"],
}


@pytest.mark.parametrize(("expression", "lines"), HARD_CASES.items())
def test_hard_cases_compile_to_these_lines(expression: str, lines: list[str]) -> None:
    assert on_calendar(parse(expression)) == lines


def test_hard_cases_are_in_systemds_normalized_form() -> None:
    lines = [line for lines in HARD_CASES.values() for line in lines]
    calendars = systemd_calendar(lines, BASE_TIMES[0], 1)
    assert [calendar.normalized for calendar in calendars] == lines


@pytest.mark.parametrize("base", BASE_TIMES, ids=lambda base: base.strftime("%Y-%m-%d_%H:%M"))
def test_hard_cases_fire_when_cron_fires_under_real_systemd(base: datetime) -> None:
    schedules = [parse(expression) for expression in HARD_CASES]
    for expression, cron_fires, systemd_fires in compare_with_systemd(schedules, base, ITERATIONS):
        assert cron_fires, expression
        assert systemd_fires == cron_fires, expression


def test_time_zone_becomes_the_suffix_of_every_line() -> None:
    assert on_calendar(parse("0 9 * * 1-5"), "Europe/Berlin") == ["Mon..Fri *-*-* 09:00:00 Europe/Berlin"]
    assert on_calendar(parse("1 2 3 4 5"), "Asia/Tokyo") == [
        "*-04-03 02:01:00 Asia/Tokyo",
        "Fri *-04-* 02:01:00 Asia/Tokyo",
    ]


@pytest.mark.parametrize("base", BASE_TIMES[:3], ids=lambda base: base.strftime("%Y-%m-%d_%H:%M"))
def test_time_zone_lines_fire_when_cron_fires_in_that_zone(base: datetime) -> None:
    schedules = [
        parse(expression) for expression in ("0 9 * * 1-5", "1 2 3 4 5", "*/7 * * * *", "0 */5 * * *")
    ]
    for zone in ("Europe/Berlin", "Asia/Kolkata", "America/St_Johns"):
        for expression, cron_fires, systemd_fires in compare_with_systemd(schedules, base, 30, zone):
            assert cron_fires and systemd_fires == cron_fires, (zone, expression)


def test_open_repetitions_are_wrong_on_this_systemd_which_is_why_cronsync_avoids_them() -> None:
    """systemd 252 skips the first value after a rollover when the step does not divide the range."""
    version = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True, check=True)
    if not version.stdout.startswith("systemd 252"):
        pytest.skip(f"pins systemd 252's behaviour; this is {version.stdout.splitlines()[0]}")
    open_minutes, closed_minutes = systemd_calendar(
        ["*-*-* *:00/7:00", "*-*-* *:00..56/7:00"], datetime(2024, 1, 1, 23, 56, tzinfo=UTC), 1
    )
    assert open_minutes.elapses == [datetime(2024, 1, 2, 0, 7, tzinfo=UTC)]  # cron: 00:00
    assert closed_minutes.elapses == [datetime(2024, 1, 2, 0, 0, tzinfo=UTC)]
    open_hours, closed_hours = systemd_calendar(
        ["*-*-* 00/5:00:00", "*-*-* 00..20/5:00:00"], datetime(2024, 1, 31, 21, 0, tzinfo=UTC), 1
    )
    assert open_hours.elapses == [datetime(2024, 2, 1, 5, 0, tzinfo=UTC)]  # cron: 00:00
    assert closed_hours.elapses == [datetime(2024, 2, 1, 0, 0, tzinfo=UTC)]


# expression -> the error message (the user sees it as the `cron` field's error in jobs.json).
REFUSED: dict[str, str] = {
    "": "empty cron expression; write five fields 'minute hour day-of-month month day-of-week' "
    "(e.g. '0 9 * * 1-5') or a nickname (@daily, @hourly, ...)",
    "* * *": "a cron expression has five fields (minute hour day-of-month month day-of-week), not 3; "
    "e.g. '0 9 * * 1-5'",
    "0 0 9 * * 1 2025": "a cron expression has five fields (minute hour day-of-month month day-of-week), "
    "not 7; e.g. '0 9 * * 1-5', or six with seconds first ('*/5 * * * * *'); a year field is not supported",
    "0 9 * * 1 2025": "six fields are read with seconds first (second minute hour day-of-month month "
    "day-of-week, e.g. '*/5 * * * * *'); '2025' looks like a year, and a year field is not supported",
    "60 0 9 * * 1": "second field: 60 is out of range; allowed 0-59",
    "60 * * * *": "minute field: 60 is out of range; allowed 0-59",
    "* 24 * * *": "hour field: 24 is out of range; allowed 0-23",
    "* * 32 * *": "day-of-month field: 32 is out of range; allowed 1-31",
    "* * 0 * *": "day-of-month field: 0 is out of range; allowed 1-31",
    "* * * 13 *": "month field: 13 is out of range; allowed 1-12 or jan-dec",
    "* * * * 8": "day-of-week field: 8 is out of range; allowed 0-7 or sun-sat (0 and 7 are Sunday)",
    "*/0 * * * *": "minute field: step '0' in '*/0' is not allowed; a step is a whole number of 1 or more",
    "0 0-23/0 * * *": "hour field: step '0' in '0-23/0' is not allowed; a step is a whole number of 1",
    "5-1 * * * *": "minute field: range '5-1' is inverted (cron ranges do not wrap around); "
    "write '5-59,0-1' or swap the ends (allowed 0-59)",
    "* * * * fri-mon": "day-of-week field: range 'fri-mon' is inverted",
    "* * * * mon-sun": "write 'mon-7'",
    "* * * * 5#6": "day-of-week field: '5#6': #n must be 1-5 (the n-th such weekday of the month, e.g. "
    "'mon#2' is the second Monday)",
    "* * * * 5#0": "#n must be 1-5",
    "* * * * 8#1": "day-of-week field: 8 is out of range; allowed 0-7 or sun-sat",
    "* * * * funday#1": "day-of-week field: 'funday' in 'funday#1' is not a valid value",
    "* * * * L": "day-of-week field: 'L' alone is ambiguous (Quartz reads it as Saturday); write the weekday "
    "before it: '5L' or 'friL' is the last Friday of the month",
    "* * * * 8L": "day-of-week field: 8 is out of range",
    "* * L-3 * *": "day-of-month field: 'L-3' is not a form cronsync reads; 'L' is the last day, 'LW' the "
    "last weekday (Monday-Friday) and 'nW' the weekday nearest day n (e.g. 15W)",
    "* * L/2 * *": "day-of-month field: 'L/2' is not a form cronsync reads",
    "* * 32W * *": "day-of-month field: 32 is out of range; allowed 1-31, L, LW, nW (e.g. 15W) or ?",
    "* * 0W * *": "day-of-month field: 0 is out of range",
    "L * * * *": "minute field: 'L': 'L', 'W' and '#' belong in the day-of-month or day-of-week field",
    "* * ?,1 * *": "day-of-month field: '?': '?' stands alone, as the whole day-of-month or day-of-week",
    "? * * * *": "minute field: '?': '?' stands alone",
    "0 0 31W 2 *": "the day fields '31w' and '*' never match a day in February, so this schedule would never",
    "0 0 * 2 5#6": "#n must be 1-5",
    "@every": "@every: '' is not an interval; write whole numbers with units d, h, m, s, from 1s to 366d",
    "@every 90": "@every: '90' is not an interval",
    "@every 0m": "@every: '0m' is not an interval",
    "@every 1y": "@every: '1y' is not an interval",
    "@every 367d": "@every: '367d' is not an interval",
    "@every 1.5h": "@every: '1.5h' is not an interval",
    "1,,2 * * * *": "minute field: empty item in list '1,,2'",
    "1, * * * *": "minute field: empty item in list '1,'",
    "-5 * * * *": "minute field: '-5' is missing a value",
    "5- * * * *": "minute field: '5-' is missing a value",
    "mon * * * *": "minute field: 'mon' in 'mon' is not a valid value; allowed 0-59",
    "* * * jan-foo *": "month field: 'foo' in 'jan-foo' is not a valid value; allowed 1-12 or jan-dec",
    "* * * * monday": "day-of-week field: 'monday' in 'monday' is not a valid value",
    "* * * * */x": "day-of-week field: step 'x' in '*/x' is not allowed; a step is a whole number of 1",
    "0 0 30 2 *": "day-of-month field: day 30 never occurs in February, so this schedule would never run",
    "0 0 31 4,6,9,11 *": "day 31 never occurs in April, June, September, November",
    "0 0 30,31 feb *": "day 30,31 never occurs in February",
    "0 0 31 */2 *": "",  # months 1,3,5,7,9,11 include 31-day months: accepted (see below)
    "@fortnightly": "'@fortnightly' is not a cron nickname; allowed: @yearly, @annually, @monthly, "
    "@weekly, @daily, @midnight, @hourly, @reboot, @every <interval>",
    "% * * * *": "minute field: '%' in '%' is not a valid value",
    "\u0661 * * * *": "minute field: '\u0661' in '\u0661' is not a valid value",  # an Arabic-Indic digit
    "*/\u00b2 * * * *": "minute field: step '\u00b2' in '*/\u00b2' is not allowed",
    "1234567890123 * * * *": "minute field: '1234567890123' in '1234567890123' is not a valid value",
    "0060 * * * *": "minute field: 0060 is out of range; allowed 0-59",
}


@pytest.mark.parametrize(("expression", "message"), [(e, m) for e, m in REFUSED.items() if m])
def test_refused_inputs_name_the_field_the_bad_part_and_what_is_allowed(
    expression: str, message: str
) -> None:
    with pytest.raises(ScheduleError) as info:
        parse(expression)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "expression",
    ["0 0 31 */2 *", "0 0 29 2 *", "0 0 30 2 mon", "0 0 */30 2 *", "0 0 31 2,3 *", "0 0 * * 0-7", "@reboot"],
)
def test_schedules_that_can_fire_are_accepted(expression: str) -> None:
    schedule = parse(expression)
    fires = next_fires(schedule, datetime(2023, 1, 1, tzinfo=UTC), 3, "UTC")
    assert schedule.is_reboot or len(fires) == 3


def test_each_expression_is_parsed_once_and_a_refused_one_is_refused_every_time() -> None:
    assert parse("17 3 * * 2") is parse("17 3 * * 2")  # 1,000 jobs share a few expressions
    for _ in range(2):
        with pytest.raises(ScheduleError):
            parse("61 * * * *")


def test_feb_29_fires_only_in_leap_years() -> None:
    fires = next_fires(parse("0 0 29 2 *"), datetime(2023, 1, 1, tzinfo=UTC), 3, "UTC")
    assert [fire.year for fire in fires] == [2024, 2028, 2032]


def test_jobs_json_reports_the_schedule_error_on_the_cron_field(user_dir: Path) -> None:
    job = {
        "name": "Bad",
        "cron": "0 0 31 4 *",
        "action": "script",
        "payload": {"path": "scripts/clean_tmp.py"},
    }
    (user_dir / "config" / "jobs.json").write_text(json.dumps([job]))
    with pytest.raises(InvalidInput) as info:
        load_config(UserSpace(user_dir))
    (problem,) = info.value.problems
    assert problem.field == "cron" and problem.job_name == "Bad"
    assert problem.message.startswith("day-of-month field: day 31 never occurs in April")


def test_reboot_has_no_calendar_and_stays_reboot_in_crontab() -> None:
    schedule = parse("@reboot")
    assert schedule.is_reboot and on_calendar(schedule, "Europe/Berlin") == []
    assert crontab_expression(schedule) == "@reboot"
    assert next_fires(schedule, datetime(2024, 1, 1, tzinfo=UTC), 5) == []
    assert describe(schedule).startswith("At startup")


@pytest.mark.parametrize(
    ("expression", "crontab"),
    [
        ("0 9 * * 1-5", "0 9 * * 1-5"),
        ("  0   9 *\t* MON-FRI ", "0 9 * * mon-fri"),
        ("5/10 * * * *", "5-59/10 * * * *"),  # Debian's cron refuses a step after a single value
        ("0 0 */2 * mon/2", "0 0 */2 * mon-7/2"),
        ("1,20/20 3/12 * * *", "1,20-59/20 3-23/12 * * *"),
        ("@daily", "@daily"),
        ("@WEEKLY", "@weekly"),
    ],
)
def test_crontab_expression_is_the_same_schedule_in_a_form_every_cron_reads(
    expression: str, crontab: str
) -> None:
    assert crontab_expression(parse(expression)) == crontab
    base = datetime(2024, 2, 27, 12, tzinfo=UTC)
    assert next_fires(parse(crontab), base, 50, "UTC") == next_fires(parse(expression), base, 50, "UTC")


def test_crontab_escape_protects_percent_signs() -> None:
    assert crontab_escape("date +%Y-%m-%d") == "date +\\%Y-\\%m-\\%d"


def test_next_fires_are_aware_times_in_the_requested_zone() -> None:
    fires = next_fires(parse("0 9 * * 1-5"), datetime(2024, 1, 5, 12, tzinfo=UTC), 2, "Europe/Berlin")
    assert [fire.isoformat() for fire in fires] == ["2024-01-08T09:00:00+01:00", "2024-01-09T09:00:00+01:00"]


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify --user` of one unit file."""
    return verify_units(unit)


def test_generated_timer_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    units = tmp_path / "units"
    units.mkdir()
    (units / "cronsync-verify.service").write_text(
        "[Unit]\nDescription=cronsync verify\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n"
    )
    lines = [line for e in HARD_CASES for line in on_calendar(parse(e), "Europe/Berlin")]
    timer = "[Unit]\nDescription=cronsync verify\n\n[Timer]\n"
    timer += "".join(f"OnCalendar={line}\n" for line in lines)
    timer += "Persistent=true\n\n[Install]\nWantedBy=timers.target\n"
    (units / "cronsync-verify.timer").write_text(timer)
    result = verify(units / "cronsync-verify.timer")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # The check has teeth: a line systemd cannot parse is reported.
    (units / "cronsync-verify.timer").write_text(timer.replace(lines[0], "*-*-* 0 9 * * 1-5"))
    broken = verify(units / "cronsync-verify.timer")
    assert "Failed to parse calendar specification" in broken.stderr


# --- DST: what systemd does with a local time that is skipped or repeated ---------------------------------


def _berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Berlin"))


def test_dst_skipped_local_time_does_not_fire_that_day() -> None:
    """Europe/Berlin jumps 02:00 -> 03:00 on 2024-03-31: 02:30 does not exist and systemd skips the run."""
    schedule = parse("30 2 * * *")
    base = datetime(2024, 3, 29, 12, tzinfo=UTC)
    (calendar,) = systemd_calendar(on_calendar(schedule, "Europe/Berlin"), base, 3)
    expected = [_berlin("2024-03-30T02:30"), _berlin("2024-04-01T02:30"), _berlin("2024-04-02T02:30")]
    assert calendar.elapses == expected
    assert next_fires(schedule, base, 3, "Europe/Berlin") == expected
    # Debian's cron (as cronsim models it) would instead run it at 03:00 on the 31st.
    from cronsim import CronSim

    cron_run = next(CronSim("30 2 * * *", datetime(2024, 3, 31, 1, tzinfo=ZoneInfo("Europe/Berlin"))))
    assert cron_run.isoformat() == "2024-03-31T03:00:00+02:00"


def test_dst_repeated_local_time_fires_once_at_its_first_occurrence() -> None:
    """Europe/Berlin goes back 03:00 -> 02:00 on 2024-10-27: 02:30 happens twice; systemd fires once."""
    daily, hourly = parse("30 2 * * *"), parse("30 * * * *")
    base = datetime(2024, 10, 26, 23, 0, tzinfo=UTC)  # 01:00 summer time
    calendars = systemd_calendar(
        on_calendar(daily, "Europe/Berlin") + on_calendar(hourly, "Europe/Berlin"), base, 3
    )
    assert [e.isoformat() for e in calendars[0].elapses[:1]] == ["2024-10-27T00:30:00+00:00"]  # 02:30 CEST
    # The hourly job runs at 01:30 and 02:30 summer time, then 03:30 winter time: the second 02:30 is skipped.
    hourly_expected = ["2024-10-26T23:30:00+00:00", "2024-10-27T00:30:00+00:00", "2024-10-27T02:30:00+00:00"]
    assert [e.isoformat() for e in calendars[1].elapses] == hourly_expected
    assert next_fires(daily, base, 1, "Europe/Berlin")[0].isoformat() == "2024-10-27T02:30:00+02:00"
    mine = [fire.astimezone(UTC).isoformat() for fire in next_fires(hourly, base, 3, "Europe/Berlin")]
    assert mine == hourly_expected


DST_CHANGES = {
    "Europe/Berlin": [datetime(2024, 3, 30, 22, tzinfo=UTC), datetime(2024, 10, 26, 22, tzinfo=UTC)],
    "America/New_York": [datetime(2024, 3, 10, 4, tzinfo=UTC), datetime(2024, 11, 3, 3, tzinfo=UTC)],
    "Australia/Lord_Howe": [datetime(2024, 4, 6, 12, tzinfo=UTC), datetime(2024, 10, 5, 12, tzinfo=UTC)],
}
DST_EXPRESSIONS = ["30 2 * * *", "30 * * * *", "*/20 * * * *", "0 1-3 * * *", "15 2 * * 0", "*/7 2 * * *"]


@pytest.mark.parametrize("zone", DST_CHANGES)
def test_next_fires_model_systemd_across_dst_changes(zone: str) -> None:
    schedules = [parse(expression) for expression in DST_EXPRESSIONS]
    for base in DST_CHANGES[zone]:
        for expression, ours, systemds in compare_with_systemd(schedules, base, 30, zone):
            assert ours and ours == systemds, (zone, base, expression)


def test_union_of_elapses_merges_lines() -> None:
    calendars = systemd_calendar(on_calendar(parse("1 2 3 4 5")), datetime(2024, 3, 1, tzinfo=UTC), 3)
    merged = union_of_elapses(calendars, 3)
    assert [m.day for m in merged] == [3, 5, 12] and re.match(r"\*-04-03", calendars[0].normalized)
