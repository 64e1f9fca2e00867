"""exec's scan for the scheduled time a timer's start belongs to (exec/overlap.py, on the matcher of
`exec --guard`) agrees with the reference evaluator (core/schedule.next_fires),
in local time and in a zone."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from cronsync.core.schedule import next_fires, parse, to_match
from cronsync.exec.overlap import latest_fire

EXPRESSIONS = [
    "* * * * *",
    "*/7 3-5 * * *",
    "30 9 * * 1-5",
    "0 0 13 * 5",
    "15 */2 1,15 * *",
    "@hourly",
    "0 12 L * *",
    "30 8 * * mon#2",
]


@pytest.mark.parametrize("zone", [None, "Asia/Kolkata", "America/New_York"])
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_latest_fire_is_the_reference_evaluators_last_fire(expression: str, zone: str | None) -> None:
    match = to_match(parse(expression), zone)
    for days_ago in (0.3, 11.7, 40.2):
        now = time.time() - days_ago * 86400
        earliest = now - 3 * 86400
        start = datetime.fromtimestamp(earliest).astimezone()
        reference = [
            f.timestamp()
            for f in next_fires(parse(expression), start - timedelta(seconds=1), 5000, zone)
            if f.timestamp() <= now
        ]
        expected = max((t for t in reference if t >= earliest), default=None)
        assert latest_fire(match, now, earliest) == expected, (expression, zone, now)
