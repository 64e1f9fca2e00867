"""Gateways that refuse connections, hang, or answer 500: the run is still logged with its true status,
the notification failure is logged too, and the job's exit status is the job's own."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.exectools import log_records, make_space, run_exec, script_job
from tests.support.httpsink import HttpSink

SCRIPTS = {
    "ok.sh": "#!/bin/sh\necho all good\n",
    "fails.sh": "#!/bin/sh\necho broken >&2\nexit 3\n",
    "slow.sh": "#!/bin/sh\nsleep 30\n",
}


def closed_port() -> int:
    """A port nothing listens on (bound, then closed): connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def hanging() -> Iterator[HttpSink]:
    """Accepts the request and does not answer within any sane timeout."""
    with HttpSink() as sink:
        sink.delay = 60
        yield sink


@pytest.fixture
def erroring() -> Iterator[HttpSink]:
    with HttpSink() as sink:
        sink.default = (500, b"internal error", {})
        yield sink


@pytest.mark.parametrize(
    ("gateway", "script", "status"),
    [
        ("refused", "fails.sh", "failure"),
        ("hangs", "ok.sh", "success"),
        ("500", "slow.sh", "timeout"),
        ("500", "ok.sh", "success"),
    ],
)
def test_a_broken_gateway_never_hides_the_runs_true_status(
    tmp_path: Path, hanging: HttpSink, erroring: HttpSink, gateway: str, script: str, status: str
) -> None:
    base = {
        "refused": f"http://127.0.0.1:{closed_port()}",
        "hangs": hanging.url,
        "500": erroring.url,
    }[gateway]
    # short connect/read timeouts (apprise's cto/rto) keep the test fast; the defaults are 4 s each
    url = base.replace("http://", "json://") + "/notify?cto=1&rto=1"
    job = script_job("Watched", script, timeout=2, notify={"on": "always", "gateways": ["down"]})
    user = make_space(tmp_path, [job], {"gateways": {"down": [url]}}, scripts=SCRIPTS)
    began = time.monotonic()
    result = run_exec(user, "watched")
    elapsed = time.monotonic() - began
    assert "Traceback" not in result.stderr
    (record,) = log_records(user)
    assert record["status"] == status
    assert result.returncode == record["exit_code"]
    assert (result.returncode == 0) == (status == "success")
    if status == "failure":
        assert record["exit_code"] == 3
    (notification,) = record["notifications"]
    assert notification["ok"] is False and notification["attempts"] == 3
    assert "down" in notification["error"]
    assert "notification failed" in result.stderr
    requests = {"hangs": hanging.requests, "500": erroring.requests, "refused": []}[gateway]
    assert len(requests) == (0 if gateway == "refused" else 3)
    # three attempts with 1 s timeouts and 0.5 + 1 s of backoff, after a job of at most 2 s
    assert elapsed < 20
