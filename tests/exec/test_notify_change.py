"""`notify.on: "change"` over real runs and a real HTTP gateway: the first failure after a success, the
first success after failures, nothing in between; skipped runs never count."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from cronsync.userspace.files import lock
from tests.support.exectools import exec_argv, log_records, make_space, run_exec, script_job
from tests.support.harness import wait_for
from tests.support.httpsink import HttpSink


def test_only_changes_are_told(tmp_path: Path) -> None:
    broken = Path.home() / "broken"
    with HttpSink() as sink:
        user = make_space(
            tmp_path,
            [script_job("Backup", "b.sh", notify={"on": "change", "gateways": ["sink"]})],
            {"gateways": {"sink": [f"json://127.0.0.1:{sink.port}/notify"]}},
            scripts={
                "b.sh": '#!/bin/sh\n[ -e "$HOME/broken" ] && { echo "disk full" >&2; exit 4; }\necho ok\n'
            },
        )
        assert run_exec(user, "backup").returncode == 0
        assert sink.requests == []  # a first success changes nothing
        broken.touch()
        assert run_exec(user, "backup").returncode == 4
        assert [r.json()["message"] for r in sink.wait_for(1)] == [
            "Backup: failed with exit code 4\ndisk full"
        ]
        assert run_exec(user, "backup").returncode == 4
        held = lock(user / "state" / "locks" / "backup.lock")  # the next run is skipped (overlap: skip)
        assert run_exec(user, "backup").returncode == 75
        assert held is not None
        os.close(held)
        assert run_exec(user, "backup").returncode == 4
        assert len(sink.requests) == 1
        broken.unlink()
        assert run_exec(user, "backup").returncode == 0
        assert sink.wait_for(2)[1].json()["message"] == "Backup: recovered after 3 failures"
        assert run_exec(user, "backup").returncode == 0
        assert len(sink.requests) == 2
        statuses = [r["status"] for r in log_records(user)]
        assert statuses == ["success", "failure", "failure", "skipped", "failure", "success", "success"]
        told = [bool(r.get("notifications")) for r in log_records(user)]
        assert told == [False, True, False, False, False, True, False]


def test_a_first_run_that_fails_is_told(tmp_path: Path) -> None:
    with HttpSink() as sink:
        user = make_space(
            tmp_path,
            [script_job("Backup", "b.sh", notify={"on": "change", "gateways": ["sink"]})],
            {"gateways": {"sink": [f"json://127.0.0.1:{sink.port}/notify"]}},
            scripts={"b.sh": "#!/bin/sh\nexit 1\n"},
        )
        assert run_exec(user, "backup").returncode == 1
        assert len(sink.wait_for(1)) == 1


def test_a_replaced_run_between_two_failures_changes_nothing(tmp_path: Path) -> None:
    hang, broken = Path.home() / "hang", Path.home() / "broken"
    script = (
        '#!/bin/sh\n[ -e "$HOME/hang" ] && { rm "$HOME/hang"; sleep 300; }\n'
        '[ -e "$HOME/broken" ] && { echo "disk full" >&2; exit 4; }\necho ok\n'
    )
    notify = {"on": "change", "gateways": ["sink"]}
    with HttpSink() as sink:
        job = script_job("Backup", "b.sh", cron="*/3 * * * * *", overlap="replace", notify=notify)
        user = make_space(
            tmp_path,
            [job],
            {"gateways": {"sink": [f"json://127.0.0.1:{sink.port}/notify"]}},
            scripts={"b.sh": script},
        )
        broken.touch()
        assert run_exec(user, "backup", "--trigger", "timer").returncode == 4
        assert len(sink.wait_for(1)) == 1  # the first failure is told
        hang.touch()
        hanging = subprocess.Popen(exec_argv(user, "backup", "--trigger", "timer"), stderr=subprocess.PIPE)
        try:
            assert wait_for(lambda: not hang.exists(), 20)  # its job runs, and will not end by itself
            time.sleep(3 - time.time() % 3 + 0.1)  # the next scheduled time has come: its run replaces it
            assert run_exec(user, "backup", "--trigger", "timer").returncode == 4
        finally:
            _, err = hanging.communicate(timeout=30)
        assert hanging.returncode == 143, err
        statuses = [r["status"] for r in log_records(user)]
        assert statuses == ["failure", "replaced", "failure"]
        time.sleep(0.5)  # a notification sent by mistake would have arrived by now
        assert len(sink.requests) == 1  # a failure after a replaced run that followed a failure is no change
