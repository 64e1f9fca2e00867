"""A job's `healthcheck`: pings in healthchecks.io's Pinging API to a real HTTP server on 127.0.0.1 —
/start, then /<exit code> with the head of the output; retried, bounded, never the job's result; the URL
a secret."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cronsync.userspace.files import lock
from tests.support.cli import CRONSYNC_ARGV
from tests.support.exectools import log_records, make_space, run_exec, script_job, write_secrets
from tests.support.httpsink import Answer, HttpSink, Request

UUID = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278"
PING = re.compile(r"^/ping/([0-9a-f-]{36})(?:/(start|fail|log|\d{1,3}))?$")


def pinging_api(request: Request) -> Answer:
    """healthchecks' Pinging API: 200 "OK" for a known check's ping, 404 for an unknown check, 400 for a
    malformed URL."""
    match = PING.match(request.path)
    if match is None or request.method not in ("GET", "POST", "HEAD"):
        return 400, b"invalid url format", {}
    if match.group(1) != UUID:
        return 404, b"not found", {}
    return 200, b"OK", {"Content-Type": "text/plain"}


@pytest.fixture
def hc() -> Iterator[HttpSink]:
    with HttpSink() as server:
        server.handler = pinging_api
        yield server


def pinged_space(tmp_path: Path, hc: HttpSink, script: str, url: str | None = None) -> Path:
    user = make_space(
        tmp_path,
        [script_job("Backup", "b.sh", healthcheck=url or f"{hc.url}/ping/${{HC_UUID}}")],
        scripts={"b.sh": script},
    )
    write_secrets(user, f"HC_UUID={UUID}\n")
    return user


def test_a_run_pings_start_then_its_exit_code_with_the_head_of_its_output(
    tmp_path: Path, hc: HttpSink
) -> None:
    user = pinged_space(tmp_path, hc, "#!/bin/sh\necho 'backed up 3 files'\n")
    assert run_exec(user, "backup").returncode == 0
    start, end = hc.wait_for(2)
    assert (start.method, start.path, start.body) == ("POST", f"/ping/{UUID}/start", b"")
    assert (end.method, end.path, end.body) == ("POST", f"/ping/{UUID}/0", b"backed up 3 files\n")
    assert start.received <= end.received
    (record,) = log_records(user)
    assert record["status"] == "success" and record["healthcheck"] == [
        {"ping": "start", "service": "http://…", "ok": True, "attempts": 1, "status": 200},
        {"ping": "0", "service": "http://…", "ok": True, "attempts": 1, "status": 200},
    ]
    for name in ("scheduler.log", "events.jsonl"):
        assert UUID not in (user / "logs" / name).read_text()


def test_a_failure_pings_its_exit_code_and_a_refused_ping_never_changes_the_result(
    tmp_path: Path, hc: HttpSink
) -> None:
    user = pinged_space(tmp_path, hc, "#!/bin/sh\necho 'disk full' >&2\nexit 3\n")
    assert run_exec(user, "backup").returncode == 3
    assert [r.path for r in hc.wait_for(2)] == [f"/ping/{UUID}/start", f"/ping/{UUID}/3"]
    wrong = pinged_space(tmp_path / "other", hc, "#!/bin/sh\n", url=f"{hc.url}/ping/{UUID[:-1]}0")
    assert run_exec(wrong, "backup").returncode == 0
    (record,) = log_records(wrong)
    assert record["status"] == "success"
    assert [(p["ok"], p["attempts"], p["error"]) for p in record["healthcheck"]] == [
        (False, 1, "HTTP 404")
    ] * 2


def test_a_failing_server_is_retried_with_backoff(tmp_path: Path, hc: HttpSink) -> None:
    user = pinged_space(tmp_path, hc, "#!/bin/sh\necho ok\n")
    hc.respond(500, b"oops")
    hc.respond(503, b"busy")
    assert run_exec(user, "backup").returncode == 0
    first, second, third, _end = hc.wait_for(4)
    assert {r.path for r in (first, second, third)} == {f"/ping/{UUID}/start"}
    assert second.received - first.received >= 0.4 and third.received - second.received >= 0.9
    (record,) = log_records(user)
    assert record["healthcheck"][0] == {
        "ping": "start",
        "service": "http://…",
        "ok": True,
        "attempts": 3,
        "status": 200,
    }


def test_an_unreachable_server_is_bounded_and_reported_without_the_url(tmp_path: Path, hc: HttpSink) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    user = pinged_space(
        tmp_path, hc, "#!/bin/sh\necho ok\n", url=f"http://127.0.0.1:{port}/ping/${{HC_UUID}}"
    )
    began = time.monotonic()
    assert run_exec(user, "backup").returncode == 0
    assert time.monotonic() - began < 15
    (record,) = log_records(user)
    assert record["status"] == "success"
    assert all(p["ok"] is False and p["attempts"] == 3 for p in record["healthcheck"])
    assert all(p["error"].startswith("cannot reach it: ") for p in record["healthcheck"])
    assert UUID not in (user / "logs" / "scheduler.log").read_text()


def test_a_hanging_server_is_given_up_on_in_bounded_time(
    tmp_path: Path, hc: HttpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cronsync.exec import healthcheck
    from cronsync.exec.run import Run
    from cronsync.userspace.paths import UserSpace

    monkeypatch.setattr(healthcheck, "PING_DEADLINE_SECONDS", 1.0)
    monkeypatch.setattr(healthcheck, "REQUEST_TIMEOUT_SECONDS", 0.4)
    hc.delay = 3
    user = pinged_space(tmp_path, hc, "#!/bin/sh\n")
    job = {"id": "backup", "name": "Backup", "healthcheck": f"{hc.url}/ping/${{HC_UUID}}"}
    run = Run(UserSpace(user), job, {"log": {}}, "timer")
    began = time.monotonic()
    result = healthcheck.ping_start(run)
    assert time.monotonic() - began < 2.5
    assert result["ok"] is False and result["attempts"] == 2 and "timed out" in result["error"]


def test_a_skipped_run_pings_nothing_and_other_jobs_never_load_the_ping_code(
    tmp_path: Path, hc: HttpSink
) -> None:
    user = pinged_space(tmp_path, hc, "#!/bin/sh\n")
    held = lock(user / "state" / "locks" / "backup.lock")
    assert run_exec(user, "backup").returncode == 75
    assert held is not None
    assert hc.requests == [] and "healthcheck" not in log_records(user)[0]
    plain = make_space(tmp_path / "plain", [script_job("Quick", "q.sh")], scripts={"q.sh": "#!/bin/sh\n"})
    assert run_exec(plain, "quick").returncode == 0  # validates, writes the cache
    python, *launcher = CRONSYNC_ARGV
    result = subprocess.run(
        [python, "-X", "importtime", *launcher, "--user-dir", str(plain), "exec", "quick"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "import time:" in line}
    assert "cronsync.exec.main" in imported
    assert "cronsync.exec.healthcheck" not in imported and "urllib.request" not in imported
