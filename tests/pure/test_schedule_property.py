"""Random cron expressions must fire under the real systemd exactly when cron (cronsim) fires.

CI runs a few hundred examples; set CRONSYNC_HYPOTHESIS_EXAMPLES for a longer hunt.
"""

from __future__ import annotations

import os
from datetime import datetime

from hypothesis import HealthCheck, given, reject, settings

from cronsync.core.describe import describe
from cronsync.core.schedule import (
    DAY,
    FIELDS,
    HOUR,
    MONTH,
    WEEKDAY,
    ScheduleError,
    crontab_expression,
    parse,
)
from tests.support.cronexpressions import base_times, cron_expression, cronsim_fires
from tests.support.descriptions import expected_reading, read
from tests.support.systemd_calendar import compare_with_systemd

EXAMPLES = int(os.environ.get("CRONSYNC_HYPOTHESIS_EXAMPLES", "300"))
ITERATIONS = 25


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=cron_expression(), base=base_times)
def test_random_expressions_fire_when_cron_fires_under_real_systemd(expression: str, base: datetime) -> None:
    try:
        schedule = parse(expression)
    except ScheduleError as exc:
        assert "never occurs" in str(exc), exc  # the generator writes only valid syntax
        _assert_cron_never_fires(expression)
        reject()
    ((_, cron_fires, systemd_fires),) = compare_with_systemd([schedule], base, ITERATIONS)
    assert cron_fires, f"no fire time for {expression!r} that cronsync accepted"
    assert systemd_fires == cron_fires
    # cronsync's own evaluator agrees with cronsim, an independent reading of cron.
    assert cron_fires == cronsim_fires(schedule, base, len(cron_fires))
    # The crontab form is the same schedule.
    same = parse(crontab_expression(schedule))
    assert [same.minutes, same.hours, same.days, same.months, same.weekdays] == [
        schedule.minutes,
        schedule.hours,
        schedule.days,
        schedule.months,
        schedule.weekdays,
    ]


@settings(max_examples=EXAMPLES, deadline=None)
@given(expression=cron_expression())
def test_descriptions_name_exactly_the_values_that_fire(expression: str) -> None:
    """Read back, a description names every minute, hour, day, weekday and month that fires, no other,
    and cron's day rule (either day field, or both)."""
    try:
        schedule = parse(expression)
    except ScheduleError:
        reject()
    description = describe(schedule)
    assert read(description) == expected_reading(schedule), description


def _assert_cron_never_fires(expression: str) -> None:
    from cronsim import CronSim, CronSimError

    try:
        fire = next(CronSim(expression, datetime(2000, 1, 1)), None)
    except CronSimError:
        return
    assert fire is None, f"cronsync refused {expression!r} as never firing, but cron fires at {fire}"


def test_generator_covers_the_hard_parts() -> None:
    """The property above is only as good as its inputs: check they include the tricky shapes."""
    seen = {"either_day": False, "names": False, "steps": False, "lists": False, "start_step": False}

    @settings(max_examples=300, deadline=None, database=None)
    @given(cron_expression())
    def collect(expression: str) -> None:
        try:
            schedule = parse(expression)
        except ScheduleError:
            return
        fields = schedule.fields
        seen["either_day"] |= schedule.either_day
        seen["names"] |= any(ch.isalpha() for ch in "".join(fields[3:]))
        seen["steps"] |= any("/" in f for f in fields)
        seen["lists"] |= any("," in f for f in fields)
        seen["start_step"] |= any(
            t[0].isalnum() and "/" in t and "-" not in t for f in fields for t in f.split(",")
        )

    collect()
    assert all(seen.values()), seen
    assert len(FIELDS) == 5 and DAY.high == 31 and HOUR.high == 23 and MONTH.names and WEEKDAY.names
