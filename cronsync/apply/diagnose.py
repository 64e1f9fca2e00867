"""Why runs were missed, late or failed: what the machine shows now and what the log shows (doctor, watch).

Each cause is a sentence and, where there is one, the command that fixes it.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from cronsync.adapters import crontab, systemd
from cronsync.apply.engine import catches_up
from cronsync.apply.unitfiles import enabled_units
from cronsync.core import render
from cronsync.core.health import Health, RunRecord
from cronsync.userspace.paths import UserSpace, systemd_user_unit_dir

CLOCK_JUMP_SECONDS = 60  # a run whose wall-clock length and monotonic length differ by more


class Cause(NamedTuple):
    text: str
    fix: str | None = None


def boot_time() -> datetime | None:
    """When the machine started (btime of /proc/stat)."""
    try:
        with open("/proc/stat", "rb") as handle:
            for line in handle:
                if line.startswith(b"btime "):
                    return datetime.fromtimestamp(int(line.split()[1]), UTC)
    except (OSError, ValueError):
        return None
    return None


def clock_jumps(runs: Sequence[RunRecord]) -> list[datetime]:
    """Starts of runs during which the wall clock jumped (its length by the wall clock is not its
    length by the monotonic clock)."""
    jumped = []
    for run in runs:
        if run.end is None or run.duration is None:
            continue
        if abs((run.end - run.start).total_seconds() - run.duration) > CLOCK_JUMP_SECONDS:
            jumped.append(run.start)
    return jumped


def causes(
    space: UserSpace,
    job_id: str,
    persistent: bool,
    health: Health,
    runs: Sequence[RunRecord],
    manager: systemd.Manager | None,
) -> list[Cause]:
    """The likely causes of this job's missed, late or failed runs that can be seen."""
    found: list[Cause] = []
    if health.missed_runs or health.health == "missed":
        found += _scheduler_causes(space, job_id, manager)
        found += _downtime_causes(health, persistent)
    jumps = clock_jumps(runs)
    if jumps:
        found.append(
            Cause(f"the clock jumped during the run started {jumps[-1].isoformat(timespec='seconds')}")
        )
    if health.health == "late":
        found.append(Cause("its last run started late: the machine was asleep, busy, or its clock moved"))
    if health.health == "failing":
        found.append(
            Cause(
                f"the job itself fails ({health.failed_in_a_row} runs in a row): "
                f"see `cronsync logs {job_id}`",
                f"cronsync logs {job_id}",
            )
        )
    return found


def _scheduler_causes(space: UserSpace, job_id: str, manager: systemd.Manager | None) -> list[Cause]:
    user = getpass.getuser()
    if not catches_up(space):
        if crontab.cron_running():
            return []
        return [Cause("the cron daemon is not running", crontab.start_command())]
    found = []
    if manager is None:
        found.append(Cause("no systemd user manager answers now", f"sudo loginctl enable-linger {user}"))
    else:
        timer = render.timer_name(job_id)
        state = manager.states([timer]).get(timer)
        if timer not in enabled_units(systemd_user_unit_dir()):
            found.append(Cause(f"its timer {timer} is disabled", "cronsync apply"))
        if state is None or state.active_state != "active":
            shown = state.active_state if state is not None else "unknown"
            found.append(Cause(f"its timer {timer} is not running ({shown})", "cronsync apply"))
    if systemd.lingering(user) is False:
        found.append(
            Cause(
                f"lingering is off for {user}: the user manager and its timers stop when you log out",
                f"sudo loginctl enable-linger {user}",
            )
        )
    return found


def _downtime_causes(health: Health, persistent: bool) -> list[Cause]:
    booted = boot_time()
    missed = health.of_kind("missed")
    if booted is None or not missed or booted - timedelta(seconds=60) <= missed[0].at:
        return []
    since = (
        f"the machine started {booted.isoformat(timespec='seconds')}, after missed runs: it was off or asleep"
    )
    if persistent:
        return [Cause(since)]
    return [Cause(f"{since}, and with `persistent: false` a missed run is not made up", '"persistent": true')]
