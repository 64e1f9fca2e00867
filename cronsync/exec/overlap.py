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
PROBE_SECONDS = 0.05  # a lock found held is tried once more after this, before the run is skipped
JOB_FD_FLOOR = 100  # where the job's processes find the processes lock
STILL_RUNNING = "skipped: the previous run is still running (overlap: skip)"
PROCESSES_LEFT = (
    "skipped: processes of the previous run are still running although its cronsync exec has ended "
    "(it was killed?); the next run starts once they exit (overlap: skip)"
)
# overlap: replace: the run still going stops itself when the next scheduled time comes (exec/retry.py);
# its SIGTERM, the kill after the grace period, its notifications and its record fit in this
REPLACE_WAIT_SECONDS = 60.0
NOT_REPLACED = (
    f"skipped: the previous run did not stop within {REPLACE_WAIT_SECONDS:g}s of this one's start "
    "(overlap: replace)"
)
PROCESSES_NOT_REPLACED = (
    "skipped: processes of the previous run are still running although its cronsync exec has ended "
    f"(it was killed?) and did not exit within {REPLACE_WAIT_SECONDS:g}s (overlap: replace)"
)
LEFTOVERS_STOPPED = (
    "stopped {groups} process group(s) left of the previous run, whose cronsync exec had ended (it was "
    "killed?): SIGTERM, then SIGKILL after {grace:g}s (overlap: replace)"
)


class JobLock:
    """Both locks of a running job; `previous`: (start, end) of the last run that ran, if known, and
    `previous_replaced`: that run's id when it was replaced (overlap: replace)."""

    def __init__(self, run_fd: int, processes_fd: int, waited: float, stopped_leftovers: int = 0) -> None:
        self.run_fd = run_fd
        self.inherited = [processes_fd]  # the processes lock, and a group's place (exec/groups.py)
        self.waited = waited
        self.stopped_leftovers = stopped_leftovers  # process groups of an earlier run stopped (replace)
        self.previous, self.previous_replaced = _read_times(run_fd)

    def hand_to_job(self) -> None:
        """From now on the processes exec starts inherit the processes lock (until `job_ended`), at a
        descriptor number above those scripts use themselves (`exec 3>file` would close it)."""
        for index, fd in enumerate(self.inherited):
            try:
                high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, JOB_FD_FLOOR)
            except OSError:  # a very low limit on open files: keep the number it has
                high = fd
            else:
                os.close(fd)
                self.inherited[index] = high
            os.set_inheritable(high, True)

    def job_ended(self) -> None:
        """Exec lets go of its own copies: the locks now live only as long as the job's processes."""
        for fd in self.inherited:
            os.close(fd)
        self.inherited = []

    def release(self, ran: tuple[float, float] | None, replaced: str | None = None) -> None:
        """Keep the times of the run that ran (None: it was skipped) and, when it was replaced, its id;
        then let the next run go."""
        self.job_ended()
        if ran is not None:
            mark = f" {replaced}" if replaced else ""
            try:  # noqa: SIM105 - contextlib costs exec an import
                overwrite(self.run_fd, f"{ran[0]:.3f} {ran[1]:.3f}{mark}\n".encode())
            except OSError:
                pass  # only the check for a re-fired timer loses what it needs
        os.close(self.run_fd)


def acquire(space: UserSpace, job_id: str, policy: str) -> JobLock | str:
    """The job's locks, or why this run is skipped (`overlap: skip` and a run still going, or `replace`
    and a previous run that did not stop)."""
    run_fd, waited = _take(space.path(lock_name(job_id)), policy, "the previous run is still running", False)
    if run_fd is None:
        return NOT_REPLACED if policy == "replace" else STILL_RUNNING
    processes_path, stopped = space.path(processes_lock_name(job_id)), 0
    try:
        if policy == "replace":
            processes_fd, waited_too, stopped = _replace_leftovers(processes_path)
        else:
            processes_fd, waited_too = _take(
                processes_path, policy, "processes of the previous run are still running", True
            )
    except BaseException:
        os.close(run_fd)
        raise
    if processes_fd is None:
        os.close(run_fd)
        return PROCESSES_NOT_REPLACED if policy == "replace" else PROCESSES_LEFT
    return JobLock(run_fd, processes_fd, waited + waited_too, stopped)


def _replace_leftovers(path: str) -> tuple[int | None, float, int]:
    """The processes lock under `overlap: replace`, once this run holds the run lock: whatever still
    holds it outlived its cronsync exec, so its process groups are stopped (SIGTERM, then SIGKILL after
    the grace a run's own processes get). (fd or None, seconds waited, groups stopped)."""
    try:
        fd = _try(path, True, probe=True)
        if fd is not None:
            return fd, 0.0, 0
        import signal

        from cronsync.adapters.process import KILL_GRACE_SECONDS, groups_holding, signal_groups

        began, groups = time.monotonic(), groups_holding(path, JOB_FD_FLOOR)
        if not groups:  # held below JOB_FD_FLOOR, or by another account: nothing this may stop
            say("processes of the previous run are still running; waiting for them (overlap: replace)")
            return _poll(path, True, REPLACE_WAIT_SECONDS), time.monotonic() - began, 0
        say(LEFTOVERS_STOPPED.format(groups=len(groups), grace=KILL_GRACE_SECONDS))
        signal_groups(groups, signal.SIGTERM)
        fd = _poll(path, True, KILL_GRACE_SECONDS)
        if fd is None:  # only the groups that still hold it: a number that may be reused is left alone
            signal_groups(groups_holding(path, JOB_FD_FLOOR), signal.SIGKILL)
            fd = _poll(path, True, REPLACE_WAIT_SECONDS - KILL_GRACE_SECONDS)
    except OSError as exc:
        raise ExecError(open_error(path, exc, "the lock")) from None
    return fd, time.monotonic() - began, len(groups)


def _take(path: str, policy: str, busy: str, read_only: bool) -> tuple[int | None, float]:
    """The lock's fd (None: busy and the policy is skip) and how long this waited for it."""
    try:
        fd = _try(path, read_only, probe=policy != "queue")
        if fd is not None or policy not in ("queue", "replace"):
            return fd, 0.0
        say(f"{busy}; waiting for it (overlap: {policy})")
        began = time.monotonic()
        if policy == "replace":  # it stops itself now (exec/retry.py): wait for that, not for ever
            fd = _poll(path, read_only, REPLACE_WAIT_SECONDS)
        else:
            fd = lock(path, read_only=read_only)
    except OSError as exc:
        raise ExecError(open_error(path, exc, "the lock")) from None
    return fd, time.monotonic() - began


def _try(path: str, read_only: bool, *, probe: bool) -> int | None:
    """The lock if free now; with `probe`, tried once more after PROBE_SECONDS (`job_is_running` holds
    it for a moment: that is not a run)."""
    fd = lock(path, wait=False, read_only=read_only)
    if fd is None and probe:
        time.sleep(PROBE_SECONDS)
        fd = lock(path, wait=False, read_only=read_only)
    return fd


def _poll(path: str, read_only: bool, seconds: float) -> int | None:
    """The lock once it is free, tried every PROBE_SECONDS for at most `seconds`; else None."""
    deadline = time.monotonic() + seconds
    while (fd := lock(path, wait=False, read_only=read_only)) is None and time.monotonic() < deadline:
        time.sleep(PROBE_SECONDS)
    return fd


def _read_times(fd: int) -> tuple[tuple[float, float] | None, str | None]:
    """(start, end) of the last run, and its run id when it was replaced."""
    try:
        start, end, *replaced = os.pread(fd, 128, 0).decode("ascii").split()
        return (float(start), float(end)), (replaced[0] if replaced else None)
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None, None


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
    """The latest of the schedule's times from `now` back to `earliest` (epoch seconds), read by the
    matcher `exec --guard` uses (the job's own zone, DST as systemd reads it)."""
    from cronsync.exec.guard import previous_fire

    fire = previous_fire(match, now)
    return float(fire) if fire is not None and fire >= earliest else None


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
