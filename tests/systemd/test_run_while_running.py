"""`cronsync run` while the job already runs (the service active): the run is skipped or queued as the
job's `overlap` says, and says so; no run request is left for a later timer run to take as its own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from cronsync.userspace.paths import UserSpace
from tests.support.cli import apply_json, cronsync
from tests.support.exectools import log_records, make_space, run_exec, script_job
from tests.support.harness import UserManager, wait_for

# Runs until the file `hold` is removed (its start is marked by the file `started`).
HOLDING = "#!/bin/sh\ntouch {started}\nwhile [ -e {hold} ]; do sleep 0.1; done\necho done\n"


def installed_holding_job(tmp_path: Path, overlap: str) -> tuple[Path, Path, Path]:
    hold, started = tmp_path / "hold", tmp_path / "started"
    user = make_space(
        tmp_path,
        [script_job("Busy", "busy.sh", overlap=overlap)],
        scripts={"busy.sh": HOLDING.format(hold=hold, started=started)},
    )
    apply_json(user)
    hold.touch()
    return user, hold, started


def start_first_run(user: Path, started: Path) -> None:
    first = cronsync("run", "--no-wait", "busy", user_dir=user)
    assert first.returncode == 0 and "started cronsync-busy.service" in first.stdout, first.stderr
    assert wait_for(started.exists, 20)
    started.unlink()


def test_run_while_running_with_skip_says_so_and_leaves_no_request(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user, hold, started = installed_holding_job(tmp_path, "skip")
    start_first_run(user, started)
    for flags in (["--no-wait"], []):
        again = cronsync("run", *flags, "busy", user_dir=user)
        assert again.returncode == 75, again.stdout + again.stderr
        assert "busy is already running; overlap: skip, so this run is skipped" in again.stdout
        assert "started" not in again.stdout.replace("nothing started", "")
    assert not UserSpace(user).run_request_file("busy").exists()
    hold.unlink()
    assert wait_for(
        lambda: systemd_user.show("cronsync-busy.service", "ActiveState")["ActiveState"] == "inactive", 20
    )
    assert run_exec(user, "busy").returncode == 0  # as the timer starts it
    assert [r["trigger"] for r in log_records(user)] == ["manual", "timer"]


def test_run_no_wait_while_running_with_queue_runs_it_when_the_run_ends(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user, hold, started = installed_holding_job(tmp_path, "queue")
    start_first_run(user, started)
    queued = cronsync("run", "--no-wait", "busy", user_dir=user)
    assert queued.returncode == 0, queued.stderr
    assert "busy is already running; overlap: queue, so this run starts when it ends" in queued.stdout
    time.sleep(1)
    assert not started.exists()  # not beside the first
    hold.unlink()
    assert wait_for(lambda: len(log_records(user)) == 2, 30)
    first, second = log_records(user)
    assert [first["trigger"], second["trigger"]] == ["manual", "manual"]
    assert second["start"] >= first["end"]
    assert not UserSpace(user).run_request_file("busy").exists()


def test_run_while_running_with_queue_waits_then_runs_it_and_reports_it(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user, hold, started = installed_holding_job(tmp_path, "queue")
    start_first_run(user, started)
    argv = [sys.executable, "-m", "cronsync", "--user-dir", str(user), "run", "busy"]
    waiting = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    assert waiting.poll() is None and not started.exists()  # waiting, not beside the first
    hold.unlink()
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, out + err
    assert "busy is already running; overlap: queue: waiting for it to end" in out
    assert "busy: success (exit 0)" in out  # the queued run's own result
    assert [r["trigger"] for r in log_records(user)] == ["manual", "manual"]
