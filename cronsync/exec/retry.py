"""A run's attempts: `retries` (run the job again after a failed attempt) and `overlap: "replace"` (stop
the attempt when the next scheduled run is due). Imported only for a job with either.

exec retries the job itself, so that it works the same under cron as under systemd (a oneshot
service's Restart= would start a new exec, with a record and a notification for every attempt). One
run, one record: each attempt is in its `attempts` (start, status, exit code, duration); the run's
status, exit code and output are its last attempt's; notification and healthcheck pings happen once,
around all of them (exec/main.py). The job's `timeout` bounds each attempt.

The bounds that keep a failing job from holding the machine: at most `count` retries (10 at most, by
validation), each delay at most an hour, and no retry begins once the job's next scheduled run is due
or MAX_RETRY_WINDOW_SECONDS after the run began, whichever comes first. A SIGTERM during a delay (a
`systemctl --user stop`, apply removing the job) ends the run at once, with the attempts so far.

`overlap: "replace"`: the run ends its attempt when the job's next scheduled time comes (its process
group gets SIGTERM, then SIGKILL after the grace period: the job's timeout machinery), and is recorded
`replaced`. Under systemd a timer that elapses while its service runs cannot start a second instance: it
starts the service again the moment this one ends, so the new run follows within the grace period;
under cron the entry's own exec waits for this one to let go (exec/overlap.py). Either way, the new
run's record names the run it replaced (`replaced`).
"""

from __future__ import annotations

import time

from cronsync import CronsyncError
from cronsync.exec.run import Outcome, Run, iso_time, say

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable
    from types import FrameType
    from typing import Any

    from cronsync.exec.run import Job
else:
    from cronsync.adapters.process import signal  # _signal: `signal` costs exec its enums

MAX_RETRY_WINDOW_SECONDS = 6 * 3600  # no retry begins later than this after the run began


class Stopped(CronsyncError):
    """SIGTERM while waiting for the next attempt (caught in run_attempts: never an exit of its own)."""


def next_due(job: Job, now: float) -> float | None:
    """When the job's next scheduled run is due after `now` (epoch seconds); None for @reboot and for a
    job that runs only after others. From the times config compiled (`guard`) where there are some: the
    schedule's parser and zoneinfo cost exec tens of milliseconds."""
    if job.get("guard") is not None:
        from cronsync.exec.guard import next_fire

        fire = next_fire(job["guard"], now)
        return None if fire is None else float(fire)
    if job.get("cron") is None:
        return None
    from datetime import datetime

    from cronsync.core.schedule import next_fires, parse  # @every: counted from this run's start

    start = datetime.fromtimestamp(now).astimezone()
    fires = next_fires(parse(job["cron"]), start, 1, job.get("timezone"))
    return fires[0].timestamp() if fires else None


def run_attempts(run: Run, outcome: Outcome, attempt: Callable[[Run, Outcome], None]) -> None:
    """The job's attempts, until one succeeds, a bound is reached or the run is replaced; the last
    attempt's result in `outcome`."""
    retries: dict[str, Any] | None = run.job.get("retries")
    due = _stop_time(run)
    if run.job.get("overlap") == "replace" and due is not None:
        run.stop_at = time.monotonic() + (due - time.time())
    if retries is not None:
        run.attempts = []
    number, delay = 1, float(retries["delay"]) if retries else 0.0
    while True:
        this = Outcome(run.log_settings["capture_bytes"])
        began, run.attempt_clock = time.time(), time.monotonic()
        try:
            attempt(run, this)
        except BaseException:
            _adopt(outcome, this)  # its output so far; the error is the run's (exec/main.py)
            raise
        _mark_replaced(run, this)
        _adopt(outcome, this)
        if run.attempts is not None:
            run.attempts.append(_attempt_record(number, began, run.attempt_clock, this))
        reason = _no_retry(run, this, retries, number, delay, due)
        if reason is not None:
            if reason:
                say(reason)
            return
        assert retries is not None
        try:
            _pause(delay, f"attempt {number} {this.status} (exit {this.exit_code}); retrying in {delay:g}s")
        except Stopped:
            outcome.error = _joined(outcome.error, "stopped (SIGTERM) while waiting to retry")
            return
        number, delay = number + 1, delay * float(retries["backoff"])


def _stop_time(run: Run) -> float | None:
    """The next scheduled run's time (epoch), when a policy needs it."""
    if run.job.get("overlap") != "replace" and not run.job.get("retries"):
        return None
    return next_due(run.job, run.started)


def _no_retry(
    run: Run, this: Outcome, retries: dict[str, Any] | None, number: int, delay: float, due: float | None
) -> str | None:
    """Why no other attempt follows ("" when nothing need be said), or None: retry."""
    if retries is None or this.status not in retries["on"]:
        return ""
    if number > int(retries["count"]):
        return f"attempt {number} {this.status}; no retries left (retries.count: {retries['count']})"
    starts = time.time() + delay
    if due is not None and starts >= due:
        return f"attempt {number} {this.status}; not retrying: the next scheduled run is due first"
    if starts - run.started > MAX_RETRY_WINDOW_SECONDS:
        hours = MAX_RETRY_WINDOW_SECONDS // 3600
        return f"attempt {number} {this.status}; not retrying: a run retries for at most {hours} hours"
    return None


def _mark_replaced(run: Run, this: Outcome) -> None:
    """An attempt (an agent's: a script says so itself) stopped because the next scheduled run is due:
    `replaced`, not a timeout."""
    if this.status == "timeout" and run.due_to_be_replaced():
        this.replaced()


def _adopt(outcome: Outcome, this: Outcome) -> None:
    """The attempt's result as the run's (the run's own pings stay)."""
    outcome.status, outcome.exit_code, outcome.error = this.status, this.exit_code, this.error
    outcome.stdout, outcome.stderr = this.stdout, this.stderr


def _attempt_record(number: int, began: float, clock: float, this: Outcome) -> dict[str, Any]:
    return {
        "attempt": number,
        "start": iso_time(began),
        "status": this.status,
        "exit_code": this.exit_code,
        "duration": round(time.monotonic() - clock, 3),
    }


def _pause(seconds: float, announce: str) -> None:
    """Say `announce` and sleep, unless a SIGTERM comes first (then Stopped): the handler is in place
    before anything tells that exec waits."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        say(announce)
        time.sleep(seconds)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _joined(first: str | None, second: str) -> str:
    return f"{first}\n{second}" if first else second
