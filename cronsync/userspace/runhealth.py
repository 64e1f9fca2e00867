"""Each job's health (`cronsync.core.health`) from what USER holds: its runs in scheduler.log, when it
was installed (state/installed.json), and whether a run of it holds its lock now.

The instants judged start at the latest of: the job's install time (else its first logged run),
HEALTH_WINDOW before now, and, once the log has rotated, the first record still kept (older runs are
gone, so their instants cannot be judged).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cronsync.core.health import UNCLAIMED, Health, JobTiming, RunRecord, job_health
from cronsync.userspace.installed import read_install_times
from cronsync.userspace.paths import UserSpace, job_is_running
from cronsync.userspace.runlog import read_json_lines, rotated_file

HEALTH_WINDOW = timedelta(days=7)


def run_record(record: dict[str, Any]) -> RunRecord | None:
    """The log record as health reads it; None for one without a readable start."""
    try:
        start = datetime.fromisoformat(str(record["start"]))
        end = datetime.fromisoformat(str(record["end"])) if isinstance(record.get("end"), str) else None
    except (KeyError, ValueError):
        return None
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        return None
    trigger, status, duration = record.get("trigger"), record.get("status"), record.get("duration")
    seconds = (
        float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None
    )
    if status == "skipped" and record.get("fleet_error") and "ran_on" not in record:
        status = UNCLAIMED  # etcd unreachable: not run here, and not known to have run elsewhere
    return RunRecord(start, str(trigger or "timer"), str(status or ""), end, seconds)


def runs_by_job(space: UserSpace) -> tuple[dict[str, list[RunRecord]], datetime | None]:
    """Every job's logged runs, oldest first, and the log's horizon: the first record kept, when the
    log has rotated (None when nothing was rotated away)."""
    runs: dict[str, list[RunRecord]] = {}
    first: datetime | None = None
    for record in read_json_lines(space.log_file):
        parsed = run_record(record)
        job_id = record.get("job_id")
        if parsed is None or not isinstance(job_id, str):
            continue
        first = parsed.start if first is None else min(first, parsed.start)
        runs.setdefault(job_id, []).append(parsed)
    rotated = os.path.lexists(rotated_file(str(space.log_file), 1))
    return runs, first if rotated else None


def healths(
    space: UserSpace,
    timings: Iterable[tuple[str, JobTiming]],
    now: datetime | None = None,
    logged: tuple[dict[str, list[RunRecord]], datetime | None] | None = None,
) -> dict[str, Health]:
    """job id -> its health, for each (job id, timing); `logged`: what runs_by_job read, if it was."""
    moment = now or datetime.now(UTC)
    runs, horizon = logged or runs_by_job(space)
    installed = read_install_times(space)
    found = {}
    for job_id, timing in timings:
        own = runs.get(job_id, [])
        since = window_start(installed.get(job_id), own, horizon, moment)
        running = job_is_running(space, job_id)
        found[job_id] = job_health(timing, since, moment, own, running=running)
    return found


def window_start(
    installed: datetime | None, runs: Sequence[RunRecord], horizon: datetime | None, now: datetime
) -> datetime | None:
    starts = [moment for moment in (installed or (runs[0].start if runs else None), horizon) if moment]
    if not starts:
        return None
    return max([*starts, now - HEALTH_WINDOW])
