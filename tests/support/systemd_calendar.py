"""Ask the real systemd when OnCalendar= expressions elapse (`systemd-analyze calendar`), in batches."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cronsync.core.schedule import Schedule, next_fires, on_calendar

_ELAPSE = re.compile(r"^\s*(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$")


@dataclass(frozen=True)
class Calendar:
    normalized: str
    elapses: list[datetime]


def systemd_calendar(lines: list[str], base: datetime, iterations: int) -> list[Calendar]:
    """One `systemd-analyze calendar` run (TZ=UTC) for all `lines`; one Calendar per line, in order."""
    argv = [
        "systemd-analyze",
        "calendar",
        f"--iterations={iterations}",
        f"--base-time={base.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
        *lines,
    ]
    env = {**os.environ, "TZ": "UTC", "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, f"systemd-analyze refused {lines}: {result.stderr}"
    calendars: list[Calendar] = []
    for line in result.stdout.splitlines():
        if line.strip().startswith("Normalized form:"):
            calendars.append(Calendar(line.split(":", 1)[1].strip(), []))
        elif match := _ELAPSE.match(line):
            moment = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            calendars[-1].elapses.append(moment)
    assert len(calendars) == len(lines), result.stdout
    return calendars


def union_of_elapses(calendars: list[Calendar], count: int) -> list[datetime]:
    """The first `count` instants at which any of the calendars elapses (a timer's OnCalendar= lines)."""
    return sorted({moment for calendar in calendars for moment in calendar.elapses})[:count]


def compare_with_systemd(
    schedules: list[Schedule], base: datetime, count: int, timezone: str | None = None
) -> list[tuple[str, list[datetime], list[datetime]]]:
    """For each schedule: (expression, cron's next fires, systemd's next elapses); batched in one run.

    Without a time zone, the lines carry no suffix and both sides are evaluated in UTC.
    """
    lines_per_schedule = [on_calendar(schedule, timezone) for schedule in schedules]
    calendars = systemd_calendar([line for lines in lines_per_schedule for line in lines], base, count)
    results = []
    for schedule, lines in zip(schedules, lines_per_schedule, strict=True):
        mine, calendars = calendars[: len(lines)], calendars[len(lines) :]
        expected = next_fires(schedule, base, count, timezone or "UTC")
        # cronsim looks 50 years ahead at most; compare what it found.
        results.append((schedule.expression, expected, union_of_elapses(mine, len(expected))))
    return results


# Base times where calendars roll over: year end, month ends, Feb 28/29 in leap and common years. The
# late-evening ones roll minutes and hours over into a new day/month/year; the mid-day ones start on a day
# that a day-of-month step does not match, which is where systemd's own repetition arithmetic goes wrong.
BASE_TIMES = [
    datetime(2023, 12, 31, 23, 41, tzinfo=UTC),
    datetime(2023, 12, 30, 12, 0, tzinfo=UTC),
    datetime(2024, 2, 28, 23, 41, tzinfo=UTC),
    datetime(2024, 2, 29, 23, 41, tzinfo=UTC),
    datetime(2023, 2, 28, 23, 41, tzinfo=UTC),
    datetime(2024, 1, 31, 21, 41, tzinfo=UTC),
    datetime(2024, 4, 30, 22, 41, tzinfo=UTC),
    datetime(2024, 6, 15, 10, 7, 30, tzinfo=UTC),
]


def verify_units(*units: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify --user` of unit files, with a short XDG_RUNTIME_DIR of its own: the user
    units it also loads (gpg-agent's sockets) put their socket paths there, and a test's own runtime dir
    under pytest's folders (deeper still with parallel workers) is too long for a socket's path."""
    import os
    import shutil
    import tempfile

    runtime = tempfile.mkdtemp(prefix="cs-v-", dir="/tmp")
    try:
        env = {**os.environ, "SYSTEMD_COLORS": "0", "XDG_RUNTIME_DIR": runtime}
        argv = ["systemd-analyze", "verify", "--user", *sorted(str(unit) for unit in units)]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
