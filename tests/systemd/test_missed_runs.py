"""Runs that did not happen, on a real user manager: a stopped timer's instants are `missed` in status,
doctor names the stopped timer, and (the issue's test) the watchdog notifies once, then once on recovery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cronsync.userspace.installed import record_install_times
from cronsync.userspace.paths import UserSpace
from tests.support.cli import apply_json, cronsync
from tests.support.exectools import clean_tmp_job, log_records
from tests.support.harness import UserManager, wait_for
from tests.support.httpsink import HttpSink
from tests.support.userspaces import write_jobs


def installed_ago(user_dir: Path, job_id: str, minutes: float) -> None:
    """As if the job had been installed `minutes` ago (its instants since then are judged)."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    record_install_times(UserSpace(user_dir), [(job_id, "update", True)], moment)


def status_json_and_text_within_one_minute(user_dir: Path) -> tuple[dict[str, Any], str]:
    """The job's status row and the text status, read while no new instant was missed between them (a
    minute turning between the two reads would change the count)."""
    for _ in range(3):
        (before,) = json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
        text = cronsync("status", user_dir=user_dir).stdout
        (after,) = json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
        if before == after:
            return after, text
    raise AssertionError(f"status kept changing between reads: {before} then {after}")


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

    row, text = status_json_and_text_within_one_minute(user_dir)
    assert row["health"] == "missed" and 4 <= row["missed_runs"] <= 6
    last = datetime.fromisoformat(row["last_missed"])
    assert last.second == 0 and timedelta(0) < datetime.now(UTC) - last < timedelta(minutes=2)
    assert f"health: missed ({row['missed_runs']} missed, the last at {row['last_missed']})" in text

    doctor = json.loads(cronsync("doctor", "--json", user_dir=user_dir).stdout)
    finding = next(f for f in doctor["findings"] if f["check"] == "runs of often")
    assert finding["level"] == "warning" and "often is missed" in finding["message"]
    assert "its timer cronsync-often.timer is not running (inactive)" in finding["message"]
    assert finding["fix"] == "cronsync apply"


def test_a_stopped_timer_is_told_once_by_the_watchdog_and_its_recovery_once(
    systemd_user: UserManager, user_dir: Path
) -> None:
    """The issue's test: a real `* * * * *` timer stopped, then started again (this one waits for the
    timer's next minute: about a minute)."""
    with HttpSink() as sink:
        write_jobs(user_dir, [clean_tmp_job("Often", "* * * * *")])
        settings = {"gateways": {"sink": [f"json://127.0.0.1:{sink.port}/watch"]}}
        settings["watch"] = {"gateways": ["sink"], "every": "1h"}  # type: ignore[dict-item]
        (user_dir / "config" / "settings.json").write_text(json.dumps(settings))
        report = apply_json(user_dir)
        assert {"often", "watch"} <= {job["id"] for job in report["jobs"]}
        timer = systemd_user.show("cronsync-watch.timer", "ActiveState", "UnitFileState")
        assert timer == {"ActiveState": "active", "UnitFileState": "enabled"}
        systemd_user.systemctl("stop", "cronsync-sync.path")
        systemd_user.systemctl("stop", "cronsync-often.timer")
        installed_ago(user_dir, "often", 3.5)

        systemd_user.systemctl("start", "cronsync-watch.service")  # the watchdog, as its timer starts it
        (told,) = sink.wait_for(1)
        message = told.json()["message"]
        assert message.startswith("Often: missed: ") and "cronsync-often.timer is not running" in message
        (row,) = json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
        assert row["health"] == "missed" and row["missed_runs"] >= 3
        missed = json.loads(cronsync("history", "often", "--json", user_dir=user_dir).stdout)
        assert len([r for r in missed if r["status"] == "missed"]) >= row["missed_runs"]
        systemd_user.systemctl("start", "cronsync-watch.service")
        by_hand = cronsync("watch", user_dir=user_dir)
        assert by_hand.returncode == 3 and "often: missed" in by_hand.stdout
        assert len(sink.requests) == 1  # never the same problem twice

        systemd_user.systemctl("start", "cronsync-often.timer")
        assert wait_for(lambda: any(r["trigger"] == "timer" for r in log_records(user_dir)), 90)
        systemd_user.systemctl("start", "cronsync-watch.service")
        assert sink.wait_for(2)[1].json()["message"] == "Often: recovered: it runs again (was missed)"
        systemd_user.systemctl("start", "cronsync-watch.service")
        assert cronsync("watch", user_dir=user_dir).returncode == 0
        assert len(sink.requests) == 2
