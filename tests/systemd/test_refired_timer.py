"""On the real user manager: a timer that elapsed while its run was going is started again by systemd as
soon as the run ends; with `overlap: skip` that run is skipped, as cron skips it.

Without waiting minutes: a drop-in gives the job's timer two elapses two seconds apart (the first run lasts
four), and the service's TZ (an offset in seconds) puts the start of a minute of the job's every-minute
schedule on the second elapse, so that exec sees what a whole minute's wait would show it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from tests.support.cli import apply_json
from tests.support.exectools import log_records, make_space, script_job
from tests.support.harness import UserManager, wait_for

SLOW = "#!/bin/sh\nsleep 4\necho ran\n"


def test_a_timer_refired_after_a_long_run_is_skipped(systemd_user: UserManager, tmp_path: Path) -> None:
    user = make_space(tmp_path, [script_job("Slow", "slow.sh", cron="* * * * *")], scripts={"slow.sh": SLOW})
    apply_json(user)
    systemd_user.systemctl("stop", "cronsync-sync.path", check=False)
    assert wait_for(lambda: not watcher_busy(systemd_user), 30)  # no apply of its own during the test
    drop_in = systemd_user.unit_dir / "cronsync-slow.timer.d"
    drop_in.mkdir()
    for _ in range(3):  # a loaded machine may take longer to set it up than the first elapse is away
        first = int(time.time()) + 5
        if elapse_at(systemd_user, drop_in, first) and time.time() < first - 0.5:
            break
    assert wait_for(lambda: len(log_records(user)) >= 2, 40), log_records(user)
    time.sleep(1)
    ran, refired = log_records(user)
    assert ran["status"] == "success" and ran["trigger"] == "timer", ran
    assert refired["status"] == "skipped" and refired["exit_code"] == 75, refired
    assert "fell while the previous run was still running" in refired["error"]
    assert datetime.fromisoformat(refired["start"]) >= datetime.fromisoformat(ran["end"])  # right after it


def elapse_at(systemd_user: UserManager, drop_in: Path, first: int) -> bool:
    """The job's timer elapses at `first` and 2 s later, while the first run (4 s) goes; the service's
    clock starts a minute at the second. Whether it was all set up."""
    second = first + 2
    systemd_user.systemctl("set-environment", f"TZ=CRS-00:00:{-second % 60:02d}")
    elapses = "\n".join(
        f"OnCalendar={datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M:%S} UTC" for t in (first, second)
    )
    (drop_in / "elapses.conf").write_text(
        f"[Timer]\nOnCalendar=\n{elapses}\nAccuracySec=1ms\nPersistent=false\n"
    )
    reloaded = systemd_user.systemctl("daemon-reload", check=False).returncode == 0
    return reloaded and systemd_user.systemctl("restart", "cronsync-slow.timer", check=False).returncode == 0


def watcher_busy(manager: UserManager) -> bool:
    """The watcher's service, or the transient unit it hands an apply to, still runs."""
    units = ("cronsync-sync.service", "run-u*.service")
    return bool(
        manager.systemctl("list-units", "--no-legend", "--state=active,activating", *units).stdout.strip()
    )
