"""Runs that did not happen, on a real user manager: a stopped timer's instants are `missed` in status,
doctor names the stopped timer, and (the issue's test) the watchdog notifies once, then once on recovery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronsync.userspace.installed import record_install_times
from cronsync.userspace.paths import UserSpace
from tests.support.cli import apply_json, cronsync
from tests.support.exectools import clean_tmp_job
from tests.support.harness import UserManager
from tests.support.userspaces import write_jobs


def installed_ago(user_dir: Path, job_id: str, minutes: float) -> None:
    """As if the job had been installed `minutes` ago (its instants since then are judged)."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    record_install_times(UserSpace(user_dir), [(job_id, "update", True)], moment)


def test_a_stopped_timer_shows_missed_runs_in_status_and_doctor_names_it(
    systemd_user: UserManager, user_dir: Path
) -> None:
    write_jobs(user_dir, [clean_tmp_job("Often", "* * * * *")])
    apply_json(user_dir)
    systemd_user.systemctl("stop", "cronsync-sync.path")
    rows = json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
    assert (rows[0]["health"], rows[0]["missed_runs"]) in (("never-ran", 0), ("ok", 0))
    systemd_user.systemctl("stop", "cronsync-often.timer")
    installed_ago(user_dir, "often", 5.5)

    (row,) = json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
    assert row["health"] == "missed" and 4 <= row["missed_runs"] <= 6
    last = datetime.fromisoformat(row["last_missed"])
    assert last.second == 0 and timedelta(0) < datetime.now(UTC) - last < timedelta(minutes=2)
    text = cronsync("status", user_dir=user_dir).stdout
    assert f"health: missed ({row['missed_runs']} missed, the last at {row['last_missed']})" in text

    doctor = json.loads(cronsync("doctor", "--json", user_dir=user_dir).stdout)
    finding = next(f for f in doctor["findings"] if f["check"] == "runs of often")
    assert finding["level"] == "warning" and "often is missed" in finding["message"]
    assert "its timer cronsync-often.timer is not running (inactive)" in finding["message"]
    assert finding["fix"] == "cronsync apply"
