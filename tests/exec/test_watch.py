"""`cronsync watch` over real runs and a real HTTP gateway: told once, recovered once, the watchdog's
own missed runs, and settings.json "watch" validated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cronsync.userspace.paths import UserSpace
from cronsync.userspace.watchstate import WatchState, write_watch_state
from tests.support.cli import cronsync
from tests.support.exectools import make_space, run_exec, script_job
from tests.support.httpsink import HttpSink


def watched_space(tmp_path: Path, sink: HttpSink, **watch: Any) -> Path:
    settings = {
        "gateways": {"sink": [f"json://127.0.0.1:{sink.port}/watch"]},
        "watch": {"gateways": ["sink"], **watch},
    }
    return make_space(
        tmp_path,
        [script_job("Backup", "backup.sh")],
        settings,
        scripts={"backup.sh": '#!/bin/sh\n[ -e "$HOME/broken" ] && exit 4\necho ok\n'},
    )


def test_a_failing_job_is_told_once_and_its_recovery_once(tmp_path: Path) -> None:
    broken = Path.home() / "broken"
    broken.touch()
    with HttpSink() as sink:
        user = watched_space(tmp_path, sink)
        for _ in range(3):
            assert run_exec(user, "backup").returncode == 4
        first = cronsync("watch", user_dir=user)
        assert first.returncode == 3 and "backup: failing" in first.stdout
        (told,) = sink.wait_for(1)
        assert (
            told.json()["message"]
            == "Backup: failing: its last 3 runs failed; likely: the job itself fails (3 runs in a row): see "
            "`cronsync logs backup`"
        )
        assert cronsync("watch", user_dir=user).returncode == 3
        assert len(sink.requests) == 1
        broken.unlink()
        assert run_exec(user, "backup").returncode == 0
        assert cronsync("watch", user_dir=user).returncode == 0
        assert sink.wait_for(2)[1].json()["message"] == "Backup: recovered: it runs again (was failing)"
        assert cronsync("watch", user_dir=user).returncode == 0 and len(sink.requests) == 2


def test_an_undelivered_problem_is_told_again_and_no_notify_tells_nothing(tmp_path: Path) -> None:
    (Path.home() / "broken").touch()
    with HttpSink() as sink:
        user = watched_space(tmp_path, sink)
        for _ in range(3):
            run_exec(user, "backup")
        quiet = cronsync("watch", "--no-notify", "--json", user_dir=user)
        assert quiet.returncode == 3 and json.loads(quiet.stdout)["jobs"][0]["health"] == "failing"
        assert sink.requests == [] and not UserSpace(user).watch_state_file.exists()
        sink.default = (500, b"down", {})
        assert cronsync("watch", user_dir=user).returncode == 3
        refused = len(sink.requests)
        assert refused >= 1
        sink.default = (200, b"{}", {})
        assert cronsync("watch", user_dir=user).returncode == 3
        assert len(sink.requests) == refused + 1  # told again, now delivered
        assert cronsync("watch", user_dir=user).returncode == 3 and len(sink.requests) == refused + 1


def test_the_watchdog_says_when_it_did_not_run_when_it_should_have(tmp_path: Path) -> None:
    with HttpSink() as sink:
        user = watched_space(tmp_path, sink, every="1h")
        run_exec(user, "backup")
        last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
        write_watch_state(UserSpace(user), WatchState(scheduled_run=last + timedelta(seconds=2)))
        by_hand = cronsync("watch", user_dir=user)  # a run by hand answers none of its times
        assert by_hand.returncode == 0 and "watchdog" not in by_hand.stdout
        scheduled = cronsync("watch", "--scheduled", user_dir=user)
        assert scheduled.returncode == 3
        (told,) = sink.wait_for(1)
        assert told.json()["message"].startswith("cronsync watchdog: it did not run 2 time(s) it should have")
        assert cronsync("watch", "--scheduled", user_dir=user).returncode == 0  # it has run now
        assert len(sink.requests) == 1


def test_watch_settings_are_validated(tmp_path: Path) -> None:
    with HttpSink() as sink:
        user = watched_space(tmp_path, sink, every="45m")
        result = cronsync("validate", user_dir=user)
        assert result.returncode == 1 and "45m" not in result.stdout + result.stderr
        assert "2700 seconds cannot be scheduled evenly" in result.stdout + result.stderr
        settings = json.loads((user / "config" / "settings.json").read_text())
        settings["watch"] = {"gateways": ["nowhere"]}
        (user / "config" / "settings.json").write_text(json.dumps(settings))
        result = cronsync("validate", user_dir=user)
        assert "watch.gateways: gateway 'nowhere' is not defined in 'gateways' (defined: sink)" in (
            result.stdout + result.stderr
        )
        settings["watch"] = {"gateways": ["sink"], "every": "30m"}
        (user / "config" / "settings.json").write_text(json.dumps(settings))
        jobs = [script_job("Watch", "backup.sh")]
        (user / "config" / "jobs.json").write_text(json.dumps(jobs))
        result = cronsync("validate", user_dir=user)
        assert result.returncode == 1 and "its id 'watch' is the watchdog's" in result.stdout + result.stderr
        del settings["watch"]
        (user / "config" / "settings.json").write_text(json.dumps(settings))
        assert cronsync("validate", user_dir=user).returncode == 0  # without a watchdog, a job may be Watch
