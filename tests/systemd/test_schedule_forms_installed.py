"""The forms beyond crontab(5) on a real user manager: `@every` is a monotonic timer that applies and has
a next elapse; L and a seconds field load as the OnCalendar= lines systemd-analyze proved; a random delay
is fixed (FixedRandomDelay=true)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronsync.adapters.systemd import SystemctlManager, connect
from tests.support.cli import apply_json, cronsync
from tests.support.harness import UserManager
from tests.support.userspaces import enable_every_job, jobs_of, write_jobs


def test_every_last_day_and_seconds_apply_and_are_scheduled(
    systemd_user: UserManager, user_dir: Path
) -> None:
    enable_every_job(user_dir)
    jobs = jobs_of(user_dir)
    jobs[0].update(cron="@every 90m")
    jobs[1].update(cron="30 0 0 L * *", random_delay="5m")
    write_jobs(user_dir, jobs)
    report = apply_json(user_dir)
    assert report["ok"], report
    every = systemd_user.show(
        "cronsync-daily-standup-summary.timer", "ActiveState", "TimersMonotonic", "NextElapseUSecMonotonic"
    )
    assert every["ActiveState"] == "active", every
    # OnUnitActiveSec counts from the service's last start; before its first run only OnActiveSec is armed.
    assert "OnActiveUSec=1h 30min" in every["TimersMonotonic"], every
    last = systemd_user.show(
        "cronsync-clean-temp-files.timer", "ActiveState", "TimersCalendar", "FixedRandomDelay"
    )
    assert last["ActiveState"] == "active" and last["FixedRandomDelay"] == "yes", last
    assert "*-*~01 00:00:30" in last["TimersCalendar"], last
    # its next run is one interval after apply started the timer, as the manager says, both ways it is read
    timer_job = "daily-standup-summary"
    timer = f"cronsync-{timer_job}.timer"
    applied = datetime.now(UTC)
    by_bus, by_systemctl = connect(), SystemctlManager()
    assert by_bus is not None and by_bus.via.startswith("pystemd"), by_bus
    for manager in (by_bus, by_systemctl):
        due = manager.states([timer])[timer].next_elapse_usec / 1e6 - applied.timestamp()
        assert 90 * 60 - 30 < due <= 90 * 60 + 1, (manager.via, due)
    rows = json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
    next_run = datetime.fromisoformat(next(r for r in rows if r["id"] == timer_job)["next_run"])
    assert timedelta(minutes=89) < next_run - applied <= timedelta(minutes=90, seconds=1), rows
    reported = next(j for j in report["jobs"] if j["id"] == timer_job)["next_run"]
    assert abs(datetime.fromisoformat(reported) - next_run) <= timedelta(seconds=1), reported
    # @every is started by apply (not left to the manager's start-up, as @reboot is), on the fast path too
    details = {job["id"]: job["detail"] for job in report["jobs"]}
    assert details["daily-standup-summary"] == "ok", details
    systemd_user.systemctl("stop", "cronsync-daily-standup-summary.timer")
    again = apply_json(user_dir)
    assert again["ok"] and not again["files_written"], again
    shown = systemd_user.show("cronsync-daily-standup-summary.timer", "ActiveState")
    assert shown["ActiveState"] == "active"


def test_a_job_started_more_often_than_the_default_start_limit_still_starts(
    systemd_user: UserManager, user_dir: Path
) -> None:
    """Every second (a seconds field) is more than systemd's default 5 starts in 10 s: not refused."""
    jobs = jobs_of(user_dir)
    jobs[1].update(cron="* * * * * *")
    write_jobs(user_dir, jobs)
    assert apply_json(user_dir)["ok"]
    systemd_user.systemctl("stop", "cronsync-clean-temp-files.timer")
    for _ in range(8):
        started = systemd_user.systemctl("start", "cronsync-clean-temp-files.service", check=False)
        assert started.returncode == 0, started.stderr
