"""`overlap`: a job's runs never run beside each other, and a scheduled time missed by a run is skipped.

Two locks per job, both flock(2) on files in `state/locks/`:
- `<id>.lock`, held by `cronsync exec` for the whole run, and only by it (close-on-exec). While held it
  is also where exec keeps the start and end of the last run that ran (`<start> <end>`, epoch seconds).
- `<id>.processes.lock`, opened read-only and inheritable only while the job runs, so that every
  process of the run (grandchildren too) holds it and it lasts as long as any of them lives: when exec
  itself is SIGKILLed (by hand, under cron: no cgroup to stop the rest), the next run still finds the
  run going. The job cannot write it nor reach exec's own lock (only a deliberate flock -u on its
  descriptor, 100 or above, would let go early, and only of the part that outlives exec); the hook
  and notifications run after it is closed.

The next run skips (`overlap: skip`) or waits (`queue`) while either is held. Under systemd a timer that
elapsed while its service ran starts the service again as soon as it ends: `missed_while_running`
recognizes that start from the job's schedule (compiled with the job: `guard`) and the last run, so that
a skipped scheduled time is skipped there as it is under cron.
"""

from __future__ import annotations

import fcntl
import os
import time

from cronsync.exec.run import ExecError, say
from cronsync.userspace.files import lock, open_error, overwrite
from cronsync.userspace.paths import lock_name, processes_lock_name

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from cronsync.core.cronmatch import Match
    from cronsync.exec.run import Job
    from cronsync.userspace.paths import UserSpace

# After a run ends systemd starts the re-fired run within moments; beyond the job's random delay and
# accuracy, its hook and this margin, a start cannot be for a time that fell during the previous run.
REFIRE_MARGIN_SECONDS = 10.0
LONGEST_SCAN_MINUTES = 7 * 24 * 60
PROBE_SECONDS = 0.05  # a lock found held is tried once more after this, before the run is skipped
JOB_FD_FLOOR = 100  # where the job's processes find the processes lock
STILL_RUNNING = "skipped: the previous run is still running (overlap: skip)"
PROCESSES_LEFT = (
    "skipped: processes of the previous run are still running although its cronsync exec has ended "
    "(it was killed?); the next run starts once they exit (overlap: skip)"
)


class JobLock:
    """Both locks of a running job; `previous`: (start, end) of the last run that ran, if known."""

    def __init__(self, run_fd: int, processes_fd: int, waited: float) -> None:
        self.run_fd = run_fd
        self.processes_fd: int | None = processes_fd
        self.waited = waited
        self.previous = _read_times(run_fd)

    def hand_to_job(self) -> None:
        """From now on the processes exec starts inherit the processes lock (until `job_ended`), at a
        descriptor number above those scripts use themselves (`exec 3>file` would close it)."""
        if self.processes_fd is None:
            return
        try:
            high = fcntl.fcntl(self.processes_fd, fcntl.F_DUPFD_CLOEXEC, JOB_FD_FLOOR)
        except OSError:  # a very low limit on open files: keep the number it has
            high = self.processes_fd
        else:
            os.close(self.processes_fd)
            self.processes_fd = high
        os.set_inheritable(high, True)

    def job_ended(self) -> None:
        """Exec lets go of its own copy: the lock now lives only as long as the job's processes."""
        if self.processes_fd is not None:
            os.close(self.processes_fd)
            self.processes_fd = None

    def release(self, ran: tuple[float, float] | None) -> None:
        """Keep the times of the run that ran (None: it was skipped), then let the next run go."""
        self.job_ended()
        if ran is not None:
            try:  # noqa: SIM105 - contextlib costs exec an import
                overwrite(self.run_fd, f"{ran[0]:.3f} {ran[1]:.3f}\n".encode())
            except OSError:
                pass  # only the check for a re-fired timer loses what it needs
        os.close(self.run_fd)


def acquire(space: UserSpace, job_id: str, policy: str) -> JobLock | str:
    """The job's locks, or why this run is skipped (`overlap: skip` and a run still going)."""
    run_fd, waited = _take(space.path(lock_name(job_id)), policy, "the previous run is still running", False)
    if run_fd is None:
        return STILL_RUNNING
    try:
        processes_fd, waited_too = _take(
            space.path(processes_lock_name(job_id)),
            policy,
            "processes of the previous run are still running",
            True,
        )
    except BaseException:
        os.close(run_fd)
        raise
    if processes_fd is None:
        os.close(run_fd)
        return PROCESSES_LEFT
    return JobLock(run_fd, processes_fd, waited + waited_too)


def _take(path: str, policy: str, busy: str, read_only: bool) -> tuple[int | None, float]:
    """The lock's fd (None: busy and the policy is skip) and how long this waited for it."""
    try:
        fd = lock(path, wait=False, read_only=read_only)
        if fd is None and policy != "queue":
            time.sleep(PROBE_SECONDS)  # `job_is_running` holds it for a moment: that is not a run
            fd = lock(path, wait=False, read_only=read_only)
        if fd is not None or policy != "queue":
            return fd, 0.0
        say(f"{busy}; waiting for it (overlap: queue)")
        began = time.monotonic()
        fd = lock(path, read_only=read_only)
    except OSError as exc:
        raise ExecError(open_error(path, exc, "the lock")) from None
    return fd, time.monotonic() - began


def _read_times(fd: int) -> tuple[float, float] | None:
    try:
        start, end = os.pread(fd, 64, 0).split()
        return float(start), float(end)
    except (OSError, ValueError):
        return None


# --- a timer's start for a scheduled time that fell while the previous run ran ----------------------


def missed_while_running(
    job: Job, previous: tuple[float, float] | None, now: float, after_run: float
) -> str | None:
    """Why this timer run is skipped, or None: the latest scheduled time up to now fell while the
    previous run was running (so systemd started it when that run ended; cron would have skipped it).
    `after_run`: how long exec may go on after a run released its lock (its hook)."""
    match = job.get("guard")
    if not match or previous is None:
        return None
    start, end = previous
    if now - end > _refire_window(job) + after_run or not start <= end <= now:
        return None
    if end < start - start % 1 - time.localtime(start).tm_sec + 60:
        return None  # no minute of the wall clock began during the previous run (the usual short run)
    scheduled = latest_fire(match, now, start)
    if scheduled is None or scheduled >= end:
        return None
    return (
        f"skipped: the run scheduled for {_clock(scheduled)} fell while the previous run was still "
        f"running ({_clock(start)} to {_clock(end)}); the next run is at the next scheduled time "
        "(overlap: skip)"
    )


def _refire_window(job: Job) -> float:
    late = float(job.get("random_delay") or 0) + float(job.get("accuracy") or 0)
    return late + REFIRE_MARGIN_SECONDS


def latest_fire(match: Match, now: float, earliest: float) -> float | None:
    """The latest minute from `now` back to `earliest` that the schedule fires at (epoch seconds), read by
    the matcher `exec --guard` uses (the job's own zone, DST as systemd reads it). Minutes are the wall
    clock's (found from its seconds, whatever the UTC offset)."""
    from cronsync.exec.guard import fires_at

    moment = float(int(now))
    stop = max(earliest, now - LONGEST_SCAN_MINUTES * 60)
    while True:
        minute = moment - time.localtime(moment).tm_sec
        if minute < stop:
            return None
        if fires_at(match, minute):
            return minute
        moment = minute - 1


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def wait_until_idle(space: UserSpace, job_id: str) -> None:
    """Until no run of the job (nor a process left of one) holds its locks."""
    for name in (lock_name(job_id), processes_lock_name(job_id)):
        try:
            fd = lock(space.path(name), read_only=True)
        except OSError:
            continue
        if fd is not None:
            os.close(fd)
