"""`cronsync run` while the job already runs (the service active): the run is skipped or queued as the
job's `overlap` says, and says so; no run request is left for a later timer run to take as its own."""

from __future__ import annotations

import select
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


def installed_holding_job(manager: UserManager, tmp_path: Path, overlap: str) -> tuple[Path, Path, Path]:
    hold, started = tmp_path / "hold", tmp_path / "started"
    user = make_space(
        tmp_path,
        [script_job("Busy", "busy.sh", overlap=overlap)],
        scripts={"busy.sh": HOLDING.format(hold=hold, started=started)},
    )
    apply_json(user)
    manager.systemctl("stop", "cronsync-sync.path", check=False)
    assert wait_for(lambda: not watcher_busy(manager), 30)  # no apply of its own during the test
    hold.touch()
    return user, hold, started


def watcher_busy(manager: UserManager) -> bool:
    """The watcher's service, or the transient unit it hands an apply to, still runs."""
    units = ("cronsync-sync.service", "run-u*.service")
    return bool(
        manager.systemctl("list-units", "--no-legend", "--state=active,activating", *units).stdout.strip()
    )


def start_first_run(user: Path, started: Path) -> None:
    first = cronsync("run", "--no-wait", "busy", user_dir=user)
    assert first.returncode == 0 and "started cronsync-busy.service" in first.stdout, first.stderr
    assert wait_for(started.exists, 20)
    started.unlink()


def test_run_while_running_with_skip_says_so_and_leaves_no_request(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user, hold, started = installed_holding_job(systemd_user, tmp_path, "skip")
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
    user, hold, started = installed_holding_job(systemd_user, tmp_path, "queue")
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
    user, hold, started = installed_holding_job(systemd_user, tmp_path, "queue")
    start_first_run(user, started)
    argv = [sys.executable, "-m", "cronsync", "--user-dir", str(user), "run", "busy"]
    waiting = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert waiting.stdout is not None
    ready, _, _ = select.select([waiting.stdout], [], [], 60)
    said = waiting.stdout.readline() if ready else ""
    assert said == "busy is already running; overlap: queue: waiting for it to end\n"
    time.sleep(0.5)
    assert waiting.poll() is None and not started.exists()  # waiting, not beside the first
    hold.unlink()
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, out + err
    assert "busy: success (exit 0)" in out  # the queued run's own result
    assert [r["trigger"] for r in log_records(user)] == ["manual", "manual"]


def test_run_right_after_a_run_whose_hook_still_runs_starts_a_run_of_its_own(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    hook = tmp_path / "hook.sh"
    hook.write_text("#!/bin/sh\nsleep 3\n")
    hook.chmod(0o755)
    user = make_space(
        tmp_path,
        [script_job("Hooked", "h.sh")],
        {"hooks": {"job_completed": [str(hook)]}},
        scripts={"h.sh": "#!/bin/sh\necho ran\n"},
    )
    apply_json(user)
    systemd_user.systemctl("stop", "cronsync-sync.path", check=False)
    assert wait_for(lambda: not watcher_busy(systemd_user), 30)
    assert cronsync("run", "--no-wait", "hooked", user_dir=user).returncode == 0
    assert wait_for(lambda: len(log_records(user)) == 1, 30)  # logged; its service still runs the hook
    again = cronsync("run", "hooked", user_dir=user)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r["trigger"] for r in log_records(user)] == ["manual", "manual"]  # a second run, not the first
    assert not UserSpace(user).run_request_file("hooked").exists()
