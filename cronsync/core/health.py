"""Runs that did not happen: each scheduled instant of a job against the runs in its log, and its health.

Pure: the caller reads the log, the install time and whether a run is in progress, and passes them in.

An instant is matched with the first timer run not yet matched that started from EARLY_SECONDS before it
until the next instant (or the end of its grace, when that is later):

- `ran`: it started within the grace (random delay + accuracy + GRACE_MARGIN_SECONDS);
- `late`: it started after the grace; for a persistent job this is `caught-up` instead (systemd's
  catch-up run after downtime: one run for the last instant it missed), with how late it was;
- `skipped`: the run was skipped by `overlap: skip`, or the job was still running at the instant
  (systemd starts no second run of a running service): never a miss;
- `running`: no run yet, but a run of the job is in progress now (its record is written when it ends);
- `missed`: no run at all, and the grace is over.
Instants whose grace is not over yet and that no run has answered are not judged.

The job's health, most urgent first: `disabled`; `missed` (the latest judged instant was missed);
`failing` (its last FAILING_RUNS runs, skips aside, all failed or timed out); `late` (the latest judged
instant ran late); `never-ran` (nothing in the log and no instant judged yet); else `ok`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cronsync.core.outcomes import failed_in_a_row
from cronsync.core.schedule import next_fires, parse

if TYPE_CHECKING:
    from cronsync.core.jobs import AgentJob, ScriptJob

GRACE_MARGIN_SECONDS = 30  # a start this much after the instant (beyond delay and accuracy) is on time
EARLY_SECONDS = 2  # a run's start logged before its instant (clock rounding, the timer's accuracy)
FAILING_RUNS = 3  # this many failed runs in a row make a job `failing`
MAX_INSTANTS = 50_000  # judged per job at most (the latest ones): a per-minute job over a month
HEALTHS = ("ok", "late", "missed", "failing", "never-ran", "disabled")
# A run_on "one" run that etcd could not be asked about (fleet.when_unreachable: skip): it did not run here
# and nobody can say it ran elsewhere, so the watchdog counts it as missed, where a fleet skip naming the
# host that ran it (`ran_on`) is no miss.
UNCLAIMED = "unclaimed"
PROBLEMS = ("late", "missed", "failing")  # the healths the watchdog reports
_CHUNK = 512


MINUTE_STEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)  # minutes that divide an hour
HOUR_STEPS = (1, 2, 3, 4, 6, 8, 12, 24)  # hours that divide a day


def watch_schedule(every: int) -> str:
    """The cron expression the watchdog runs on, for `every` seconds (one that validation allowed)."""
    minutes = every // 60
    if minutes < 60:
        return f"*/{minutes} * * * *" if minutes > 1 else "* * * * *"
    hours = minutes // 60
    return "0 0 * * *" if hours == 24 else f"0 */{hours} * * *" if hours > 1 else "0 * * * *"


@dataclass(frozen=True)
class JobTiming:
    """What a job's schedule says about when it runs."""

    cron: str | None  # None: no schedule of its own (runs after other jobs' runs): no instants to judge
    timezone: str | None = None
    random_delay: int = 0
    accuracy: int = 1
    persistent: bool = True
    enabled: bool = True

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.random_delay + self.accuracy + GRACE_MARGIN_SECONDS)


def timing_of(job: ScriptJob | AgentJob, *, catches_up: bool = True) -> JobTiming:
    """The job's timing; `catches_up`: whether its scheduler runs a missed run later (systemd's
    Persistent=; cron never does, so there a late start is late whatever `persistent` says)."""
    return JobTiming(
        job.cron, job.timezone, job.random_delay, job.accuracy, job.persistent and catches_up, job.enabled
    )


@dataclass(frozen=True)
class RunRecord:
    """The part of a log record (scheduler.log) health looks at."""

    start: datetime
    trigger: str = "timer"
    status: str = "success"
    end: datetime | None = None
    duration: float | None = None  # seconds, by the monotonic clock


@dataclass(frozen=True)
class Instant:
    at: datetime
    kind: str  # ran, late, caught-up, skipped, running, missed
    run_start: datetime | None = None

    @property
    def late_by(self) -> float | None:
        """Seconds between the instant and the run's start (None without a run)."""
        return None if self.run_start is None else round((self.run_start - self.at).total_seconds(), 3)


@dataclass(frozen=True)
class Health:
    health: str
    instants: list[Instant] = field(default_factory=list)
    failed_in_a_row: int = 0

    def of_kind(self, kind: str) -> list[Instant]:
        return [instant for instant in self.instants if instant.kind == kind]

    @property
    def missed_runs(self) -> int:
        return len(self.of_kind("missed"))

    @property
    def last_missed(self) -> datetime | None:
        missed = self.of_kind("missed")
        return missed[-1].at if missed else None


def scheduled_instants(timing: JobTiming, since: datetime, until: datetime) -> list[datetime]:
    """The instants the schedule fires after `since` and up to `until` (the latest MAX_INSTANTS)."""
    if timing.cron is None:
        return []
    schedule = parse(timing.cron)
    found: list[datetime] = []
    start, chunk = since, 8  # growing: a yearly schedule needs few, a per-minute one many
    while True:
        fires = next_fires(schedule, start, chunk, timing.timezone)
        found.extend(fire for fire in fires if fire <= until)
        if len(fires) < chunk or fires[-1] > until:
            return found[-MAX_INSTANTS:]
        if len(found) > 2 * MAX_INSTANTS:
            del found[:-MAX_INSTANTS]
        start, chunk = fires[-1], min(chunk * 2, _CHUNK)


def classify(
    timing: JobTiming,
    since: datetime,
    now: datetime,
    runs: Sequence[RunRecord],
    *,
    running: bool = False,
) -> list[Instant]:
    """Each instant after `since` (the install time, or the start of the window) up to `now` that can
    be judged, in order (see the module's docstring)."""
    grace, early = timing.grace, timedelta(seconds=EARLY_SECONDS)
    # runs started by hand or by another job's run ("after:<id>") answer no scheduled instant
    timer_runs = sorted(
        (r for r in runs if r.trigger != "manual" and ":" not in r.trigger), key=lambda r: r.start
    )
    busy = _Busy(runs)
    instants = scheduled_instants(timing, since, now)
    judged: list[Instant] = []
    position = 0
    for index, at in enumerate(instants):
        following = instants[index + 1] if index + 1 < len(instants) else None
        upto = max(following, at + grace) if following is not None else None
        while position < len(timer_runs) and timer_runs[position].start < at - early:
            position += 1
        run = timer_runs[position] if position < len(timer_runs) else None
        if run is not None and (upto is None or run.start < upto - early):
            position += 1
            judged.append(Instant(at, _kind_of_run(timing, at, run), run.start))
        elif busy.at(at):
            judged.append(Instant(at, "skipped"))
        elif now > at + grace:
            judged.append(Instant(at, "missed"))
        # else: not due yet
    if running and judged and judged[-1].kind == "missed":
        judged[-1] = Instant(judged[-1].at, "running")
    return judged


def _kind_of_run(timing: JobTiming, at: datetime, run: RunRecord) -> str:
    if run.status == UNCLAIMED:
        return "missed"
    if run.status == "skipped":
        return "skipped"
    if run.start - at <= timing.grace:
        return "ran"
    return "caught-up" if timing.persistent else "late"


class _Busy:
    """Whether a run (timer or manual) was in progress at an instant; asked in increasing order."""

    def __init__(self, runs: Sequence[RunRecord]) -> None:
        self._runs = sorted(runs, key=lambda r: r.start)
        self._next = 0
        self._latest_end: datetime | None = None

    def at(self, moment: datetime) -> bool:
        while self._next < len(self._runs) and self._runs[self._next].start < moment:
            end = self._runs[self._next].end
            if end is not None and (self._latest_end is None or end > self._latest_end):
                self._latest_end = end
            self._next += 1
        return self._latest_end is not None and self._latest_end >= moment


def job_health(
    timing: JobTiming,
    since: datetime | None,
    now: datetime,
    runs: Sequence[RunRecord],
    *,
    running: bool = False,
) -> Health:
    """The job's health and its judged instants; `since` None: nothing is known of its install."""
    failures = failed_in_a_row(run.status for run in sorted(runs, key=lambda r: r.start, reverse=True))
    if not timing.enabled:
        return Health("disabled", [], failures)
    instants = [] if since is None else classify(timing, since, now, runs, running=running)
    latest = instants[-1].kind if instants else None
    if latest == "missed":
        health = "missed"
    elif failures >= FAILING_RUNS:
        health = "failing"
    elif latest == "late":
        health = "late"
    elif not runs and not instants:
        health = "never-ran"
    else:
        health = "ok"
    return Health(health, instants, failures)
