"""A job's `limits` in exec: which of them its process sets itself (under cron; a job's service sets them
under systemd), and whether the kernel's out-of-memory killer ended the run (the cgroup's
memory.events, cgroup v2). Loaded only for a job that has limits."""

from __future__ import annotations

import os

from cronsync import SCHEDULER_VARIABLE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cronsync.exec.run import Job

EMULATED = ("nice", "io", "memory_max", "tasks_max")  # what a process can set for itself


def own_limits(job: Job) -> dict[str, Any] | None:
    """The limits the job's process must set itself: none when its service has set them all."""
    limits = job.get("limits") or {}
    if not limits or os.environ.get(SCHEDULER_VARIABLE):  # its service has set them
        return None
    own = {key: limits[key] for key in EMULATED if limits.get(key) is not None}
    return own or None


def oom_kills() -> int | None:
    """How many processes of this cgroup (exec's: the job's service) the OOM killer has ended; None
    without cgroup v2's memory controller here."""
    try:
        with open("/proc/self/cgroup") as handle:
            path = next((line[3:].strip() for line in handle if line.startswith("0::")), None)
        if path is None:
            return None
        with open(f"/sys/fs/cgroup{path}/memory.events") as handle:
            for line in handle:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        return None
    return None


def size_text(size: int) -> str:
    for unit, factor in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size} bytes"
