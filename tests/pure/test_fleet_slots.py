"""The scheduled time a run belongs to (its slot, for `run_on: "one"`), found backwards from the moment
exec starts by exec/guard.previous_fire, is the last fire time the reference evaluator
(core/schedule.next_fires) gives at or before that moment: with seconds, L/W/#, a zone, DST."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronsync.core.cronexpr import Schedule
from cronsync.core.cronmatch import never_fires
from cronsync.core.fleet import failover_wait, oldest_kept, slot_name
from cronsync.core.schedule import ScheduleError, next_fires, parse, to_match
from cronsync.exec.guard import next_fire, previous_fire
from tests.support.cronexpressions import cron_expression, form_expression

BASE = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
ZONES = st.sampled_from([None, "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])


def runnable(expression: str, zone: str | None) -> tuple[Schedule | None, dict[str, Any] | None]:
    """The schedule and its Match, or (None, None) for one that never runs (refused, or no day matches)."""
    try:
        schedule = parse(expression)
    except ScheduleError:  # LW on weekdays 0 and 6 only, say
        return None, None
    match = to_match(schedule, zone)
    return (None, None) if never_fires(match) else (schedule, match)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expression=st.one_of(cron_expression(), form_expression()),
    offset=st.floats(0, 2 * 366 * 86400),
    zone=ZONES,
)
def test_the_slot_is_the_latest_fire_up_to_now(expression: str, offset: float, zone: str | None) -> None:
    schedule, match = runnable(expression, zone)
    if match is None:
        return
    now = BASE + offset
    fire = previous_fire(match, now)
    if fire is None:  # nothing in the time looked back (a rare date): the reference must agree
        earliest = datetime.fromtimestamp(now - 366 * 86400, UTC)
        assert all(f.timestamp() > now for f in next_fires(schedule, earliest, 1, zone))
        return
    assert fire <= now
    assert next_fires(schedule, datetime.fromtimestamp(fire - 1, UTC), 1, zone)[0].timestamp() == fire
    after = next_fires(schedule, datetime.fromtimestamp(fire, UTC), 1, zone)
    assert not after or after[0].timestamp() > now


def test_triggers_late_by_seconds_on_two_machines_share_one_slot() -> None:
    match = to_match(parse("0 9 * * *"), "Europe/Berlin")
    nine = datetime(2026, 12, 2, 8, 0, tzinfo=UTC).timestamp()  # 09:00 in Berlin
    assert previous_fire(match, nine + 3.0) == previous_fire(match, nine + 0.4) == nine
    assert slot_name(int(nine)) == "2026-12-02T08:00:00Z"
    assert previous_fire(match, nine - 0.5) == nine - 86400


def test_a_repeated_wall_time_belongs_to_its_first_occurrence() -> None:
    # 2026-10-25 in Berlin: 02:30 happens twice (CEST, then CET); systemd fires at the first only
    match = to_match(parse("30 2 * * *"), "Europe/Berlin")
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp()
    second = first + 3600
    assert previous_fire(match, second + 60) == first


def test_the_failover_wait_follows_the_order_of_hosts() -> None:
    assert failover_wait(["nas", "laptop", "vps"], "nas", 10) == 0
    assert failover_wait(["nas", "laptop", "vps"], "vps", 10) == 20
    assert failover_wait(None, "vps", 10) == failover_wait(["nas"], "vps", 10) == 0


def test_claims_are_kept_long_enough_for_a_catch_up_and_bounded_for_a_frequent_job() -> None:
    slot = int(BASE)
    assert slot - oldest_kept(slot, slot - 86400) == 35 * 86400  # daily: five weeks
    assert slot - oldest_kept(slot, slot - 5) == 86400  # every 5 seconds: a day, 17,280 claims
    assert slot - oldest_kept(slot, None) == 35 * 86400


def test_a_day_that_is_an_hour_short_is_not_stepped_over() -> None:
    # 2026-03-29 in Berlin has 23 hours (02:00 -> 03:00): from Sunday 10:00 back, Saturday 23:30 comes first
    match = to_match(parse("30 23 * * 6"), "Europe/Berlin")
    sunday_ten = datetime(2026, 3, 29, 8, 0, tzinfo=UTC).timestamp()
    saturday = datetime(2026, 3, 28, 22, 30, tzinfo=UTC).timestamp()
    assert previous_fire(match, sunday_ten) == saturday
    # and a day an hour long (October's), forwards: Sunday 2026-10-25 has 25 hours
    match = to_match(parse("30 0 * * 1"), "Europe/Berlin")
    sunday_ten = datetime(2026, 10, 25, 9, 0, tzinfo=UTC).timestamp()
    monday = datetime(2026, 10, 25, 23, 30, tzinfo=UTC).timestamp()  # Monday 00:30 CET
    assert next_fire(match, sunday_ten) == monday
    assert previous_fire(match, monday + 60) == monday


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expression=st.one_of(cron_expression(), form_expression()),
    offset=st.floats(0, 2 * 366 * 86400),
    zone=ZONES,
)
def test_the_next_fire_is_the_reference_evaluators(expression: str, offset: float, zone: str | None) -> None:
    schedule, match = runnable(expression, zone)
    if match is None:
        return
    now = BASE + offset
    expected = next_fires(schedule, datetime.fromtimestamp(now, UTC), 1, zone)
    assert next_fire(match, now) == (int(expected[0].timestamp()) if expected else None)
