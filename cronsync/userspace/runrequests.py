"""USER/state/run-requests/<id>: left by `cronsync run` just before it starts the job's unit, so that the
`cronsync exec` it starts records the run's trigger as `manual` instead of `timer`."""

from __future__ import annotations

import os

from cronsync.userspace.files import atomic_write, remove_quietly
from cronsync.userspace.paths import UserSpace, run_request_name


def request_manual_run(space: UserSpace, job_id: str) -> None:
    """Mark the next `cronsync exec` of this job as started by hand (never through a planted symlink:
    the new file replaces whatever stands there)."""
    path = space.path(run_request_name(job_id))
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    remove_quietly(path)
    atomic_write(path, b"")


def consume_run_request(space: UserSpace, job_id: str) -> bool:
    """True (and the request removed) when `cronsync run` asked for this run."""
    try:
        os.unlink(space.path(run_request_name(job_id)))
    except OSError:
        return False
    return True
