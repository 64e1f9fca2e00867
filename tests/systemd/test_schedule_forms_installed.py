"""The forms beyond crontab(5) on a real user manager: `@every` is a monotonic timer that applies and has
a next elapse; L and a seconds field load as the OnCalendar= lines systemd-analyze proved; a random delay
is fixed (FixedRandomDelay=true)."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import apply_json
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
