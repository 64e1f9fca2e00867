"""USER/state/installed.json: when each job's schedule was installed as it is now.

Health (`cronsync.core.health`) counts a job's scheduled instants from this moment: an apply that
creates or changes a job's units or entry (a new schedule, enabled again) sets it to the apply's time;
one that leaves the job unchanged keeps it (a job installed before this file existed gets the time of
the first apply that sees it); a removed job is dropped. Best effort: without it health counts from the
job's first logged run.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime

from cronsync.userspace.files import atomic_write, open_no_follow
from cronsync.userspace.paths import UserSpace

INSTALLED_FORMAT = "1"


def read_install_times(space: UserSpace) -> dict[str, datetime]:
    """job id -> when its schedule was installed; {} when the file is missing or not one we wrote."""
    try:
        fd = open_no_follow(space.installed_file, os.O_RDONLY)
        with os.fdopen(fd, "rb") as handle:
            data = json.loads(handle.read())
        if data.get("format") != INSTALLED_FORMAT or not isinstance(data.get("jobs"), dict):
            return {}
        return {
            job_id: datetime.fromisoformat(entry["since"])
            for job_id, entry in data["jobs"].items()
            if isinstance(entry, dict) and isinstance(entry.get("since"), str)
        }
    except (OSError, ValueError, TypeError, AttributeError, RecursionError):
        return {}


def record_install_times(
    space: UserSpace, outcomes: Iterable[tuple[str, str, bool]], now: datetime | None = None
) -> None:
    """After an apply: `outcomes` is (job id, action, ok) per job of the plan."""
    moment = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    known = read_install_times(space)
    times = {job_id: since.isoformat(timespec="seconds") for job_id, since in known.items()}
    for job_id, action, ok in outcomes:
        if action == "delete":
            times.pop(job_id, None)
        elif ok and (action != "unchanged" or job_id not in times):
            times[job_id] = moment
    if times == {job_id: since.isoformat(timespec="seconds") for job_id, since in known.items()}:
        return
    data = {"format": INSTALLED_FORMAT, "jobs": {job_id: {"since": since} for job_id, since in times.items()}}
    with contextlib.suppress(OSError):  # best effort: health then counts from the first run
        atomic_write(space.installed_file, json.dumps(data, indent=1))
