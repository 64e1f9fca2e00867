"""`group`: at most N runs of a group's jobs at once across the user space (settings.json "groups").

A group of N has N places, each a lock file (`state/locks/groups/<group>.<k>.lock`). A run takes a free
one after its own job's locks, and hands it to the job's processes as it does the processes lock
(exec/overlap.py): the place is held while any process of the run lives, even if exec itself is killed.
When every place is taken the run waits (`overlap: queue` or `replace`) or is skipped (`skip`); the
wait is logged as `group_waited`, apart from the run's `start` and `duration`. Imported only for a job
with a group.
"""

from __future__ import annotations

import time

from cronsync.exec.run import ExecError, say
from cronsync.userspace.files import lock, open_error
from cronsync.userspace.paths import group_slot_name

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from cronsync.exec.run import Run

POLL_SECONDS = 0.1  # how often a waiting run tries the places again


def take_place(run: Run, policy: str) -> tuple[int, float] | str:
    """A place in the job's group (its fd) and how long this waited for it, or why the run is skipped."""
    group = str(run.job["group"])
    size = (run.settings.get("groups") or {}).get(group)
    if not size:
        raise ExecError(
            f"job {run.job['name']!r}, group: {group!r} is not defined in settings.json 'groups'; "
            "run `cronsync validate`"
        )
    paths = [run.space.path(group_slot_name(group, slot)) for slot in range(int(size))]
    began = time.monotonic()
    fd = _free_place(paths)
    if fd is not None:
        return fd, 0.0
    if policy == "skip":
        return f"skipped: group {group!r} already runs {size} job(s) at once, its limit (overlap: skip)"
    say(f"group {group!r} already runs {size} job(s) at once, its limit; waiting for a place")
    while fd is None:
        time.sleep(POLL_SECONDS)
        fd = _free_place(paths)
    return fd, time.monotonic() - began


def _free_place(paths: list[str]) -> int | None:
    for path in paths:
        try:
            fd = lock(path, wait=False, read_only=True)
        except OSError as exc:
            raise ExecError(open_error(path, exc, "the group's lock")) from None
        if fd is not None:
            return fd
    return None
