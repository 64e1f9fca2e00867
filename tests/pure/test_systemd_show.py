"""How the systemd adapter reads what `systemctl show` prints: spans (a monotonic timer's next elapse)."""

from __future__ import annotations

import time

import pytest

from cronsync.adapters.systemd import parse_show_span, realtime_of_monotonic


@pytest.mark.parametrize(
    ("text", "usec"),
    [
        ("1h 30min", 5_400_000_000),
        ("1h 29min 59.876543s", 5_399_876_543),
        ("2d 3h", 183_600_000_000),
        ("1y 2month 3w", 31_557_600_000_000 + 2 * 2_629_800_000_000 + 3 * 604_800_000_000),
        ("4min 500ms", 240_500_000),
        ("17us", 17),
        ("123456", 123_456),
        ("0", 0),
        ("infinity", 0),
        ("", 0),
        ("3 fortnights", 0),
    ],
)
def test_a_span_reads_as_microseconds_and_anything_else_as_none(text: str, usec: int) -> None:
    assert parse_show_span(text) == usec


def test_a_monotonic_time_is_placed_on_the_wall_clock() -> None:
    in_an_hour = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000 + 3_600_000_000
    expected = time.time_ns() // 1000 + 3_600_000_000
    assert abs(realtime_of_monotonic(in_an_hour) - expected) < 1_000_000
    assert realtime_of_monotonic(0) == 0
