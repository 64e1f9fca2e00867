"""The longest durations validation accepts (31 days) install, load and show on a real user manager."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import apply_json, cronsync
from tests.support.harness import UserManager
from tests.support.userspaces import jobs_of, write_jobs


def test_every_duration_at_the_maximum_applies_and_shows(systemd_user: UserManager, user_dir: Path) -> None:
    jobs = jobs_of(user_dir)
    jobs[1].update(timeout="744h", random_delay="744h", accuracy="744h")
    write_jobs(user_dir, jobs)
    report = apply_json(user_dir)
    assert report["ok"], report
    timer = "cronsync-clean-temp-files.timer"
    shown = systemd_user.show(timer, "ActiveState", "RandomizedDelayUSec")
    assert shown["ActiveState"] == "active" and shown["RandomizedDelayUSec"].startswith("1month"), (
        shown
    )  # 31 days
    status = cronsync("status", "--backend", "systemd", "--json", user_dir=user_dir)
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    assert {row["id"] for row in json.loads(status.stdout)["jobs"]} >= {"clean-temp-files"}
