"""`cronsync exec --guard`: what a crontab entry that fires on a superset of the job's times runs. Off
the job's times it does nothing at all (no run, no log record, exit 0); at them it is an ordinary run."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.exectools import log_records, make_space, run_exec, script_job

ZONE = "Asia/Kolkata"


def _hour_in_zone(offset: int) -> int:
    return (datetime.now(ZoneInfo(ZONE)) + timedelta(hours=offset)).hour


def test_off_schedule_fires_do_nothing_and_on_schedule_fires_run(tmp_path: Path) -> None:
    scripts = {"mark.sh": '#!/bin/sh\necho ran >> "$CRONSYNC_USER_DIR/ran"\n'}
    # Twelve hours from now in Kolkata: not this minute, whatever the minute is.
    never_now = script_job("Later", "mark.sh", cron=f"* {_hour_in_zone(12)} * * *", timezone=ZONE)
    every_minute = script_job("Always", "mark.sh", cron="* * * * *", timezone=ZONE)
    user = make_space(tmp_path, [never_now, every_minute], scripts=scripts)

    skipped = run_exec(user, "later", "--guard")
    assert skipped.returncode == 0 and skipped.stdout == "" and skipped.stderr == ""
    assert log_records(user) == [] and not (user / "ran").exists()
    # A second time, from the compiled cache (the first validated jobs.json and wrote it).
    assert run_exec(user, "later", "--guard").returncode == 0 and log_records(user) == []

    ran = run_exec(user, "always", "--guard")
    assert ran.returncode == 0, ran.stderr
    assert [record["job_id"] for record in log_records(user)] == ["always"]
    # Without --guard (a systemd timer, `cronsync run`), the schedule is not checked.
    assert run_exec(user, "later").returncode == 0
    assert [record["job_id"] for record in log_records(user)] == ["always", "later"]
    assert (user / "ran").read_text() == "ran\nran\n"


def test_a_manual_trigger_is_never_guarded(tmp_path: Path) -> None:
    job = script_job("Later", "ok.sh", cron=f"* {_hour_in_zone(12)} * * *", timezone=ZONE)
    user = make_space(tmp_path, [job], scripts={"ok.sh": "#!/bin/sh\n"})
    assert run_exec(user, "later", "--guard", "--trigger", "manual").returncode == 0
    assert [record["trigger"] for record in log_records(user)] == ["manual"]
