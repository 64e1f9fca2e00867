"""Random expressions using the forms beyond crontab(5) (L, LW, nW, nL, n#k, ?, seconds first, steps past
their range): under the real systemd they fire when next_fires says, next_fires agrees with cronsim
where cronsim reads the form, and on the crontab backend cron's fires of the superset entry, through
exec's guard, are exactly those times (a job timezone and DST changes included).

CI runs a few hundred examples; set CRONSYNC_HYPOTHESIS_EXAMPLES for a longer hunt.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from itertools import islice, takewhile
from zoneinfo import ZoneInfo

from cronsim import CronSim
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from cronsync.core.schedule import Schedule, ScheduleError, crontab_form, next_fires, parse, to_match
from cronsync.exec.guard import fires_at
from tests.support.cronexpressions import base_times, cronsim_expression, cronsim_fires, form_expression
from tests.support.systemd_calendar import compare_with_systemd

EXAMPLES = int(os.environ.get("CRONSYNC_HYPOTHESIS_EXAMPLES", "300"))
ITERATIONS = 25
CRON_FIRES = 400  # cron's fires of the superset entry replayed per example
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Asia/Kathmandu"]
# The machine's zone, where cronsim stands in for cron: not Lord Howe, whose clocks go back 30 minutes
# at 02:00. cronsim then skips 02:00-02:28 of the new time for an hour-2 entry; Vixie cron (Debian's)
# waits until the wall clock is past what it already reached and runs it from 02:00: no oracle there.
MACHINE_ZONES = [zone for zone in ZONES if zone != "Australia/Lord_Howe"]


def _parsed(expression: str) -> Schedule:
    try:
        return parse(expression)
    except ScheduleError as exc:
        assert "never" in str(exc), exc  # the generator writes only valid syntax
        reject()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=form_expression(), base=base_times)
def test_random_forms_fire_under_real_systemd_as_next_fires_says(expression: str, base: datetime) -> None:
    schedule = _parsed(expression)
    ((_, ours, systemds),) = compare_with_systemd([schedule], base, ITERATIONS)
    assert ours, f"no fire time for {expression!r} that cronsync accepted"
    assert systemds == ours
    if not schedule.nearest_workdays:  # cronsim reads every form but nW
        assert ours == cronsim_fires(schedule, base, len(ours))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    expression=form_expression(seconds=False),
    base=base_times,
    zone=st.one_of(st.none(), st.sampled_from(ZONES)),
    machine=st.sampled_from(MACHINE_ZONES),
    late=st.integers(0, 50),
)
def test_cron_through_the_guard_fires_exactly_when_the_timer_does(
    expression: str, base: datetime, zone: str | None, machine: str, late: int
) -> None:
    schedule = _parsed(expression)
    form = crontab_form(schedule, zone if zone != machine else None, machine)
    if not form.emulated:
        reject()  # an exact entry: cron's own DST rules, as for every plain crontab line (README)
    guard = to_match(schedule, zone)
    previous = os.environ.get("TZ")
    os.environ["TZ"] = machine
    time.tzset()
    try:
        fires = CronSim(cronsim_expression(parse(form.expression)), base.astimezone(ZoneInfo(machine)))
        horizon = base + timedelta(days=40 * 365)  # next_fires looks 50 years ahead
        cron = list(islice(takewhile(lambda fire: fire < horizon, fires), CRON_FIRES))
        # In UTC: an aware time inside a repeated hour never equals another zone's time (PEP 495).
        ran = [fire.astimezone(UTC) for fire in cron if fires_at(guard, fire.timestamp() + late)]
    finally:
        os.environ.pop("TZ") if previous is None else os.environ.update(TZ=previous)
        time.tzset()
    timer = next_fires(schedule, base, len(ran) + 1, zone or machine)
    timer = [fire.astimezone(UTC) for fire in timer if cron and fire <= cron[-1]]
    assert ran == timer, (form.expression, sorted(set(ran) ^ set(timer))[:3])


def test_the_generator_covers_every_form() -> None:
    seen = dict.fromkeys(["L", "LW", "W", "nL", "#", "?", "seconds", "step past its range", "OR"], False)

    @settings(max_examples=400, deadline=None, database=None)
    @given(form_expression())
    def collect(expression: str) -> None:
        try:
            schedule = parse(expression)
        except ScheduleError:
            return
        seen["L"] |= schedule.last_day
        seen["LW"] |= schedule.last_workday
        seen["W"] |= bool(schedule.nearest_workdays)
        seen["nL"] |= bool(schedule.last_weekdays)
        seen["#"] |= bool(schedule.nth_weekdays)
        seen["?"] |= "?" in expression
        seen["seconds"] |= schedule.seconds_field is not None
        seen["step past its range"] |= bool(schedule.notes)
        seen["OR"] |= schedule.either_day and schedule.special_days

    collect()
    assert all(seen.values()), seen
