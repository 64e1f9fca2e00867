"""Apply, remove, rename and uninstall while a job's run is going, on the real user manager: a running job is
healthy, and a removed job's run is stopped and leaves no failed unit behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cronsync.userspace.paths import UserSpace
from tests.support.cli import apply_json, cronsync
from tests.support.exectools import make_space, script_job
from tests.support.harness import UserManager, wait_for
from tests.support.userspaces import write_jobs

# the script says when it runs (exec has read jobs.json by then), in the folder above the user dir
SLOW = '#!/bin/sh\ntouch "$(dirname "$0")/../../running"\nexec sleep 60\n'


def fire_now(manager: UserManager, job_id: str, user: Path) -> None:
    """Make the job's own timer start its run now (a drop-in the plan never reads: OnActiveSec=1s, then a
    restart of the timer), and wait until its script runs: the timer is then `running`, with no next
    elapse."""
    timer = f"cronsync-{job_id}.timer"
    drop_in = manager.unit_dir / f"{timer}.d"
    drop_in.mkdir()
    (drop_in / "fire-now.conf").write_text("[Timer]\nOnActiveSec=1s\n")
    manager.systemctl("daemon-reload")
    manager.systemctl("restart", timer)
    assert wait_for((user.parent / "running").exists, timeout=20)
    assert manager.show(timer, "SubState")["SubState"] == "running"
    service = f"cronsync-{job_id}.service"
    assert manager.show(service, "ActiveState")["ActiveState"] == "activating"


def slow_space(tmp_path: Path) -> Path:
    jobs = [script_job("Slow", "slow.sh"), script_job("Other", "slow.sh")]
    return make_space(tmp_path, jobs, scripts={"slow.sh": SLOW})


def test_apply_while_a_run_goes_succeeds_and_keeps_its_state(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user = slow_space(tmp_path)
    apply_json(user)
    systemd_user.systemctl("stop", "cronsync-sync.path")  # this apply, not the watcher's, is under test
    fire_now(systemd_user, "slow", user)
    manifest = UserSpace(user).apply_manifest_file
    assert manifest.exists()

    unchanged = apply_json(user)  # exit 0: asserted
    slow = next(job for job in unchanged["jobs"] if job["id"] == "slow")
    assert slow["ok"] and slow["action"] == "unchanged", slow
    assert manifest.exists()

    jobs = json.loads((user / "config" / "jobs.json").read_text())
    jobs[0]["cron"] = "30 4 * * *"  # an update of the running job's timer
    systemd_user.systemctl("stop", "cronsync-sync.path")  # the apply above started the watcher again
    write_jobs(user, jobs)
    updated = apply_json(user)
    slow = next(job for job in updated["jobs"] if job["id"] == "slow")
    assert slow["ok"] and slow["action"] == "update", slow
    assert manifest.exists()
    text = cronsync("apply", "--backend", "systemd", user_dir=user)
    assert text.returncode == 0 and "FAILED" not in text.stdout, text.stdout + text.stderr
    # the run itself was left alone
    assert systemd_user.show("cronsync-slow.service", "ActiveState")["ActiveState"] == "activating"


@pytest.mark.parametrize("how", ["remove", "rename", "uninstall"])
def test_a_job_removed_while_it_runs_is_stopped_and_left_clean(
    systemd_user: UserManager, tmp_path: Path, how: str
) -> None:
    user = slow_space(tmp_path)
    apply_json(user)
    systemd_user.systemctl("stop", "cronsync-sync.path")
    fire_now(systemd_user, "slow", user)
    if how == "uninstall":
        result = cronsync("uninstall", "--backend", "systemd", user_dir=user)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "stopped the running run of slow" in result.stdout, result.stdout
    else:
        jobs = [script_job("Other", "slow.sh")]
        if how == "rename":
            jobs.append(script_job("Slow Renamed", "slow.sh"))
        write_jobs(user, jobs)
        result = cronsync("apply", "--backend", "systemd", user_dir=user)
        assert result.returncode == 0, result.stdout + result.stderr
        line = next(line for line in result.stdout.splitlines() if " slow " in f"{line} ")
        assert line.split()[:2] == ["removed", "slow"], result.stdout
        assert "its running run was stopped" in line, result.stdout
    for unit in ("cronsync-slow.service", "cronsync-slow.timer"):
        shown = systemd_user.show(unit, "LoadState", "ActiveState")
        assert shown == {"LoadState": "not-found", "ActiveState": "inactive"}, (unit, shown)
    failed = systemd_user.systemctl("list-units", "--all", "--state=failed", "--plain", "--no-legend").stdout
    assert failed.strip() == "", failed
