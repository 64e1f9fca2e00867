"""Under umask 000, with a real cron daemon: apply and run on the crontab backend create USER/state and
USER/logs private, and a script made writable by others after apply is refused when cron's command runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cronsync.core import crontab_block as crontab
from tests.support.cli import cronsync_in
from tests.support.exectools import log_records
from tests.support.harness import CronDaemon
from tests.support.modes import group_or_other_writable, mode_of


def test_apply_and_run_under_umask_000_create_nothing_others_can_write(
    umask_zero: None, cron_daemon: CronDaemon, user_dir: Path
) -> None:
    shutil.rmtree(user_dir / "state", ignore_errors=True)
    applied = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab")
    assert applied.returncode == 0, applied.stderr
    assert mode_of(user_dir / "state") == 0o700
    assert mode_of(user_dir / "state" / "compiled.json") == 0o600

    ran = cronsync_in(cron_daemon, user_dir, "run", "--backend", "crontab", "clean-temp-files")
    assert ran.returncode == 0, ran.stderr
    assert [r["trigger"] for r in log_records(user_dir)] == ["manual"]
    assert group_or_other_writable(user_dir) == {}
    for folder in ("state", "state/locks", "state/run-requests", "logs"):
        assert mode_of(user_dir / folder) == 0o700, folder
    for file in ("logs/scheduler.log", "logs/events.jsonl", "state/locks/clean-temp-files.lock"):
        assert mode_of(user_dir / file) == 0o600, file


def test_a_script_made_writable_after_apply_is_refused(cron_daemon: CronDaemon, user_dir: Path) -> None:
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    script = user_dir / "scripts" / "clean_tmp.py"
    script.chmod(0o777)
    fix = f"`chmod go-w {script}`"
    refused = cronsync_in(cron_daemon, user_dir, "run", "--backend", "crontab", "clean-temp-files")
    assert refused.returncode == 78 and fix in refused.stderr  # exec refuses it, as it would at its time
    [entry] = [
        e
        for e in crontab.split(cron_daemon.crontab(), user_dir / "config" / "jobs.json").entries().values()
        if "clean-temp" in e.command
    ]
    ran = cron_daemon.run(["sh", "-c", entry.command], check=False)  # as cron runs it
    assert ran.returncode == 78 and fix in ran.stderr
    records = log_records(user_dir)  # the manual run's, then the entry's
    assert [r["trigger"] for r in records] == ["manual", "timer"]
    assert all(r["status"] == "failure" and fix in r["error"] for r in records)
    doctor = json.loads(cronsync_in(cron_daemon, user_dir, "doctor", "--json").stdout)
    assert {f["check"]: f["level"] for f in doctor["findings"]}["scripts"] == "error"
