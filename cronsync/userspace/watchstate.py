"""USER/state/watch.json: what `cronsync watch` last reported of each job, and when its timer last ran.

Per job: the problem last reported (`missed`, `late`, `failing`) or `ok`, and the last missed instant
reported, so that a problem is told once and its recovery once. `scheduled_run`: when the watchdog
last ran from its own timer or crontab entry (a run by hand does not count), so that the next
scheduled run can tell that it was not run when it should have been.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime

from cronsync.userspace.files import atomic_write, lock, open_no_follow
from cronsync.userspace.paths import UserSpace

WATCH_STATE_FORMAT = "1"


@dataclass
class Reported:
    problem: str = "ok"  # the health last reported: missed, late, failing, or ok
    last_missed: str | None = None  # the last missed instant reported (ISO 8601)


@dataclass
class WatchState:
    scheduled_run: datetime | None = None
    jobs: dict[str, Reported] = field(default_factory=dict)


def read_watch_state(space: UserSpace) -> WatchState:
    """The state; an empty one when there is none or it cannot be read (a problem is then told again)."""
    try:
        fd = open_no_follow(space.watch_state_file, os.O_RDONLY)
        with os.fdopen(fd, "rb") as handle:
            data = json.loads(handle.read())
        if data.get("format") != WATCH_STATE_FORMAT:
            return WatchState()
        last = data.get("scheduled_run")
        jobs = {
            str(job_id): Reported(str(entry["problem"]), entry.get("last_missed"))
            for job_id, entry in data["jobs"].items()
        }
        return WatchState(datetime.fromisoformat(last) if isinstance(last, str) else None, jobs)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return WatchState()


def lock_watch_state(space: UserSpace) -> int | None:
    """Held while a watch reads, notifies and writes: two at once would tell the same problem twice."""
    return lock(f"{space.watch_state_file}.lock")


def write_watch_state(space: UserSpace, state: WatchState) -> None:
    data = {
        "format": WATCH_STATE_FORMAT,
        "scheduled_run": state.scheduled_run.isoformat() if state.scheduled_run else None,
        "jobs": {job_id: vars(reported) for job_id, reported in state.jobs.items()},
    }
    atomic_write(space.watch_state_file, json.dumps(data, indent=1))
