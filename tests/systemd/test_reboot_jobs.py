"""`@reboot` jobs on the real user manager: apply installs them without running them; they run when the user
manager starts."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.cli import apply_json, cronsync
from tests.support.exectools import log_records, make_space, script_job
from tests.support.harness import UserManager, wait_for
from tests.support.userspaces import jobs_of, write_jobs

# the script counts its runs in a file beside the user dir
BOOT = '#!/bin/sh\necho ran >> "$(dirname "$0")/../../boot-runs"\n'


def test_a_reboot_job_runs_when_the_manager_starts_not_when_applied(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user = make_space(tmp_path, [script_job("At Boot", "boot.sh", cron="@reboot")], scripts={"boot.sh": BOOT})
    runs = tmp_path / "boot-runs"
    report = apply_json(user)
    time.sleep(3)  # a timer started on apply fires within a second
    assert not runs.exists() and log_records(user) == []
    (job,) = [job for job in report["jobs"] if job["id"] == "at-boot"]
    assert job["ok"] and job["detail"] == "runs when the user manager starts", job
    timer = systemd_user.show("cronsync-at-boot.timer", "UnitFileState", "LoadState")
    assert timer == {"UnitFileState": "enabled", "LoadState": "loaded"}

    systemd_user.restart()
    assert wait_for(runs.exists, timeout=30), systemd_user.journal("cronsync-at-boot")
    assert wait_for(lambda: len(log_records(user)) == 1, timeout=10)
    assert log_records(user)[0]["trigger"] == "timer"
    # its timer's monotonic elapse (start-up) is past: status shows no next run, not that past one
    rows = json.loads(cronsync("status", "--json", user_dir=user).stdout)["jobs"]
    assert [row["next_run"] for row in rows if row["id"] == "at-boot"] == [None], rows

    systemd_user.systemctl("stop", "cronsync-sync.path")  # this apply, not the watcher's, is under test
    jobs = jobs_of(user)
    jobs[0]["timeout"] = "5m"  # an update of the job does not run it again either
    write_jobs(user, jobs)
    assert apply_json(user)["ok"]
    apply_json(user)
    time.sleep(3)
    assert runs.read_text() == "ran\n"
