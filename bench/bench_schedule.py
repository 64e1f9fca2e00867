"""Print how long the schedule compiler takes: parse (runs in every jobs.json validation), on_calendar,
next_fires, describe, and one `cronsync explain` through the CLI.
Usage: .venv/bin/python bench/bench_schedule.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

EXPRESSIONS = [
    "0 9 * * 1-5",
    "1 2 3 4 5",
    "*/7 * * * *",
    "0 0 1,15 * mon-fri",
    "@weekly",
    "5/10 */5 * jan-mar *",
]


def per_call(label: str, func: Callable[[], object], rounds: int) -> None:
    start = time.perf_counter()
    for _ in range(rounds):
        func()
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {elapsed / rounds * 1e6:10.1f} us/call  ({rounds} calls)")


def main() -> None:
    start = time.perf_counter()
    from cronsync.core import schedule as sched
    from cronsync.core.describe import describe

    print(f"{'import cronsync.core.schedule':<44} {(time.perf_counter() - start) * 1e3:10.1f} ms")
    schedules = [sched.parse(e) for e in EXPRESSIONS]
    per_call("parse (6 expressions)", lambda: [sched.parse(e) for e in EXPRESSIONS], 2000)
    per_call(
        "on_calendar (6 schedules)", lambda: [sched.on_calendar(s, "Europe/Berlin") for s in schedules], 2000
    )
    base = datetime(2024, 1, 1, tzinfo=UTC)
    per_call(
        "next_fires x5 (6 schedules)", lambda: [sched.next_fires(s, base, 5, "UTC") for s in schedules], 200
    )
    per_call("describe (6 schedules)", lambda: [describe(s) for s in schedules], 200)
    argv = [
        sys.executable,
        "-m",
        "cronsync",
        "explain",
        "0 9 * * 1-5",
        "--timezone",
        "Europe/Berlin",
        "--json",
    ]
    per_call(
        "cronsync explain (whole process)", lambda: subprocess.run(argv, capture_output=True, check=True), 10
    )


if __name__ == "__main__":
    main()
