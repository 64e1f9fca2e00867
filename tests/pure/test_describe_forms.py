"""Descriptions of the forms beyond crontab(5): L, LW, nW, nL, n#k, ?, a seconds field first, @every, and
steps that reach one value. Each sentence names exactly what fires (checked by hand against the
OnCalendar= lines of tests/pure/test_schedule_forms.py, which systemd-analyze proves)."""

from __future__ import annotations

import pytest

from cronsync.core.describe import describe
from cronsync.core.schedule import parse

FORMS = {
    "0 0 L * *": "At 00:00 on the last day of the month",
    "0 0 L 2 *": "At 00:00 on the last day of February",
    "0 17 LW * *": "At 17:00 on the last weekday (Monday to Friday) of the month",
    "0 9 15W * *": "At 09:00 on the weekday (Monday to Friday) nearest day 15 of the month",
    "0 9 1W,31W * *": "At 09:00 on the weekday (Monday to Friday) nearest day 1 and the weekday (Monday to "
    "Friday) nearest day 31 of the month",
    "0 0 * * 5L": "At 00:00 on the last Friday of the month",
    "0 0 ? * FRIL": "At 00:00 on the last Friday of the month",
    "0 0 * * 7L": "At 00:00 on the last Sunday of the month",
    "0 9 * * MON#2": "At 09:00 on the second Monday of the month",
    "0 9 * * 1#2": "At 09:00 on the second Monday of the month",
    "0 9 * * sun#5": "At 09:00 on the fifth Sunday of the month",
    "0 0 1,L * *": "At 00:00 on day 1 and the last day of the month",
    "0 0 L,15 2,3 *": "At 00:00 on day 15 and the last day of February and March",
    "0 0 * * 1#1,5L": "At 00:00 on the last Friday of the month and the first Monday of the month",
    "0 0 * * 1-5,6L": "At 00:00 on Monday through Friday and the last Saturday of the month",
    # Both day fields restricted: either (cron's OR); one starting with '*' or '?': both.
    "0 0 L * 1": "At 00:00 on the last day of the month or on Monday",
    "0 0 15 * 5L": "At 00:00 on day 15 of the month or on the last Friday of the month",
    "0 0 LW * 1-5": "At 00:00 on the last weekday (Monday to Friday) of the month or on Monday through "
    "Friday",
    "0 0 */2 * 5L": "At 00:00 on every 2nd day from 1 through 31 of the month, but only if it is the last "
    "Friday of the month",
    "0 0 ? * 1#1": "At 00:00 on the first Monday of the month",
    "0 0 L * ?": "At 00:00 on the last day of the month",
    # Seconds first.
    "*/5 * * * * *": "Every 5 seconds",
    "* * * * * *": "Every second",
    "30 0 9 * * 1-5": "At 09:00:30 on Monday through Friday",
    "0,30 */15 * * * *": "At seconds 0 and 30 past the minute, every 15 minutes",
    "15 * 9-17 * * *": "At second 15 past the minute, every minute during hours 9 through 17",
    "*/7 * * * * *": "At every 7th second from 0 through 56 past the minute",
    "0 0 9 * * *": "At 09:00",
    # Intervals.
    "@every 90m": "Every 90 minutes, counted from the start of the previous run",
    "@every 1h30m": "Every 90 minutes, counted from the start of the previous run",
    "@every 2h": "Every 2 hours, counted from the start of the previous run",
    "@every 1d": "Every 1 day, counted from the start of the previous run",
    "@every 45s": "Every 45 seconds, counted from the start of the previous run",
    # Steps larger than their range: the one value they reach.
    "*/61 * * * *": "At minute 0 past the hour",
    "14 16-23/24 * * *": "At 16:14",
    "0 */24 * * *": "At 00:00",
    "1 1 */100,1-7 * MON": "At 01:01 on days 1 through 7 of the month, but only if it is Monday",
    "0 0 * */13 *": "At 00:00 in January",
}


@pytest.mark.parametrize(("expression", "sentence"), FORMS.items())
def test_each_form_reads_as_what_fires(expression: str, sentence: str) -> None:
    assert describe(parse(expression)) == sentence
