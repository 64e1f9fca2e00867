"""`retries` as exec carries them out: one notification and one pair of healthcheck pings around all the
attempts, a SIGTERM during a delay ends the run (logged once), and no retry begins once the next scheduled
run is due. Real HTTP servers on 127.0.0.1 take the notification and the pings."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.exectools import exec_argv, log_records, make_space, run_exec, script_job, write_secrets
from tests.support.httpsink import HttpSink

FAILING = '#!/bin/sh\necho "try $(date +%s.%N)" >> {tries}\nexit 3\n'


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


def test_retries_notify_once_and_the_pings_bracket_every_attempt(tmp_path: Path, sink: HttpSink) -> None:
    tries = tmp_path / "tries"
    job = script_job(
        "Flaky",
        "f.sh",
        retries={"count": 2, "delay": 0},
        notify={"on": "failure", "gateways": ["sink"]},
        healthcheck=f"{sink.url}/ping/${{HC_UUID}}",
    )
    settings = {"gateways": {"sink": [f"json://127.0.0.1:{sink.port}/notify"]}}
    user = make_space(tmp_path, [job], settings, scripts={"f.sh": FAILING.format(tries=tries)})
    write_secrets(user, "HC_UUID=abc\n")
    ran = run_exec(user, "flaky")
    assert ran.returncode == 3, ran.stderr
    assert len(tries.read_text().splitlines()) == 3
    requests = sink.wait_for(3)
    time.sleep(0.5)
    assert [r.path for r in sink.requests] == ["/ping/abc/start", "/notify", "/ping/abc/3"]
    assert requests[1].path == "/notify"
    (record,) = log_records(user)
    assert record["status"] == "failure" and len(record["attempts"]) == 3
    assert len(record["notifications"]) == 1


def test_a_sigterm_while_waiting_to_retry_ends_the_run_with_its_attempts(tmp_path: Path) -> None:
    tries = tmp_path / "tries"
    job = script_job("Flaky", "f.sh", retries={"count": 5, "delay": "5m"})
    user = make_space(tmp_path, [job], scripts={"f.sh": FAILING.format(tries=tries)})
    assert run_exec(user, "flaky", "--dry-run").returncode == 0  # the cache
    waiting = subprocess.Popen(exec_argv(user, "flaky"), stderr=subprocess.PIPE, text=True)
    assert waiting.stderr is not None
    assert "retrying in 300s" in waiting.stderr.readline()
    waiting.send_signal(signal.SIGTERM)
    _, err = waiting.communicate(timeout=20)
    assert waiting.returncode == 3, err
    (record,) = log_records(user)
    assert len(record["attempts"]) == 1 and "stopped (SIGTERM) while waiting to retry" in record["error"]


def test_no_retry_begins_once_the_next_scheduled_run_is_due(tmp_path: Path) -> None:
    tries = tmp_path / "tries"
    job = script_job("Often", "f.sh", cron="*/3 * * * * *", retries={"count": 5, "delay": "4s"})
    user = make_space(tmp_path, [job], scripts={"f.sh": FAILING.format(tries=tries)})
    started = time.monotonic()
    ran = run_exec(user, "often")
    assert ran.returncode == 3
    assert "not retrying: the next scheduled run is due first" in ran.stderr
    assert time.monotonic() - started < 4  # it did not wait the delay out
    (record,) = log_records(user)
    assert len(record["attempts"]) == 1
