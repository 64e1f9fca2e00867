"""Under cron (the crontab backend's run, with cron's environment) a SIGKILLed `cronsync exec` leaves no run
beside the next: its job's processes keep the job locked until they exit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.cli import CRONSYNC_ARGV, cronsync_in
from tests.support.exectools import log_records, make_space, script_job
from tests.support.harness import CronDaemon, wait_for

# While `hold` exists: the job's shell and a grandchild, their pids and exec's (the shell's parent) in `pids`.
HOLDING = """#!/bin/sh
[ -e {hold} ] || {{ echo quick; exit 0; }}
sleep 300 &
echo "$PPID $$ $!" > {pids}
wait
"""


def test_a_killed_exec_under_cron_leaves_its_job_locked_while_its_processes_live(
    cron_daemon: CronDaemon, tmp_path: Path
) -> None:
    hold, pids = tmp_path / "hold", tmp_path / "pids"
    user = make_space(
        tmp_path,
        [script_job("Holds", "holds.sh")],
        scripts={"holds.sh": HOLDING.format(hold=hold, pids=pids)},
    )
    assert cronsync_in(cron_daemon, user, "apply", "--backend", "crontab").returncode == 0
    hold.touch()
    argv = [*CRONSYNC_ARGV, "--user-dir", str(user), "run", "--backend", "crontab", "holds"]
    first = subprocess.Popen(cron_daemon.nsenter(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 3, 30)
    exec_pid, *job_pids = (int(pid) for pid in pids.read_text().split())
    try:
        os.kill(exec_pid, signal.SIGKILL)
        first.wait(timeout=30)
        again = cronsync_in(cron_daemon, user, "run", "--backend", "crontab", "holds")
        assert again.returncode == 75, again.stdout + again.stderr
        assert "holds is already running; overlap: skip" in again.stdout
        as_cron_runs_it = cronsync_in(cron_daemon, user, "exec", "holds")
        assert as_cron_runs_it.returncode == 75, as_cron_runs_it.stderr
        assert "processes of the previous run are still running" in as_cron_runs_it.stderr
    finally:
        for pid in job_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    hold.unlink()
    deadline = time.monotonic() + 10
    while cronsync_in(cron_daemon, user, "exec", "holds").returncode != 0:
        assert time.monotonic() < deadline, "the job stayed locked after its processes exited"
        time.sleep(0.2)
    assert log_records(user)[-1]["excerpt"] == "quick\n"
