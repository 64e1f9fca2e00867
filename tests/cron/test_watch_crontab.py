"""The watchdog on the crontab backend: its entry, and a job whose cron daemon is not running told once as
missed (with the cause) and once as recovered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronsync.userspace.installed import record_install_times
from cronsync.userspace.paths import UserSpace
from tests.support.cli import cronsync_in
from tests.support.exectools import clean_tmp_job
from tests.support.harness import CronDaemon
from tests.support.httpsink import HttpSink
from tests.support.userspaces import write_jobs


def test_cron_not_running_is_told_once_and_the_recovery_once(
    stopped_cron: CronDaemon, user_dir: Path
) -> None:
    with HttpSink() as sink:
        # a grace (random delay + accuracy + margin) over a minute: the run below answers the latest instant
        write_jobs(user_dir, [clean_tmp_job("Often", "* * * * *", random_delay="1m")])
        settings = {
            "gateways": {"sink": [f"json://127.0.0.1:{sink.port}/watch"]},
            "watch": {"gateways": ["sink"], "every": "15m"},
        }
        (user_dir / "config" / "settings.json").write_text(json.dumps(settings))
        applied = cronsync_in(stopped_cron, user_dir, "apply", "--backend", "crontab")
        assert applied.returncode == 0, applied.stderr
        (entry,) = [line for line in stopped_cron.crontab().splitlines() if line.endswith("# cronsync:watch")]
        assert entry.startswith("*/15 * * * * ") and " watch --scheduled " in entry
        moment = datetime.now(UTC) - timedelta(minutes=3.5)
        record_install_times(UserSpace(user_dir), [("often", "update", True)], moment)

        watched = cronsync_in(stopped_cron, user_dir, "watch", "--scheduled")
        assert watched.returncode == 3, watched.stderr
        (told,) = sink.wait_for(1)
        assert told.json()["message"].startswith("Often: missed: ")
        assert "likely: the cron daemon is not running" in told.json()["message"]
        assert cronsync_in(stopped_cron, user_dir, "watch", "--scheduled").returncode == 3
        assert len(sink.requests) == 1

        ran = cronsync_in(stopped_cron, user_dir, "exec", "often", "--trigger", "timer")
        assert ran.returncode == 0, ran.stderr
        report = json.loads(cronsync_in(stopped_cron, user_dir, "watch", "--json").stdout)
        (often,) = report["jobs"]
        assert report["ok"] is True and often["health"] == "ok" and often["notified"] is True
        assert sink.wait_for(2)[1].json()["message"] == "Often: recovered: it runs again (was missed)"
        assert cronsync_in(stopped_cron, user_dir, "watch").returncode == 0
        assert len(sink.requests) == 2
