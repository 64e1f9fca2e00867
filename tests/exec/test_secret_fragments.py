"""A secret cut by an excerpt, a tail or the capture's head/tail boundary leaves no fragment of six
characters or more in scheduler.log, events.jsonl, the notification sent or cronsync's own messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.exectools import make_space, run_exec, script_job, write_secrets
from tests.support.httpsink import HttpSink

SECRET = "SeCrEtToKeN-4f9a2b7c1d8e6f3a5b"
FRAGMENT = 6
CAPTURE_BYTES = 1024  # the capture keeps the first and the last 512 bytes
EXCERPT_BYTES = 200  # the log's excerpt: the first and the last 100 of those
SIZE = 5000
OUT = '"$CRONSYNC_USER_DIR/out.txt"'  # what the job prints, as its script names it


def cut_points() -> list[int]:
    half = CAPTURE_BYTES // 2
    return [EXCERPT_BYTES // 2, half, SIZE - half, SIZE - EXCERPT_BYTES // 2, SIZE - 1500]


def output_straddling(split: int) -> bytes:
    """SIZE bytes with the secret placed so that each cut point falls `split` characters into it."""
    data = bytearray(b"." * SIZE)
    for cut in cut_points():
        start = cut - split
        data[start : start + len(SECRET)] = SECRET.encode()
    return bytes(data)


def fragments() -> set[str]:
    return {SECRET[i : i + FRAGMENT] for i in range(len(SECRET) - FRAGMENT + 1)}


def leaked(text: str) -> list[str]:
    return sorted(f for f in fragments() if f in text)


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


@pytest.mark.parametrize("exit_code", [0, 1])
@pytest.mark.parametrize("split", [1, 3, 5, 6, 9, 15, len(SECRET) - 6, len(SECRET) - 1])
def test_no_fragment_of_a_secret_survives_any_cut(
    tmp_path: Path, sink: HttpSink, split: int, exit_code: int
) -> None:
    script = f"#!/bin/sh\ncat {OUT}\ncat {OUT} >&2\nexit {exit_code}\n"
    user = make_space(
        tmp_path,
        [script_job("Leaky", "leaky.sh", notify={"on": "always", "gateways": ["sink"]})],
        {
            "gateways": {"sink": [f"json://bot:${{SINK_TOKEN}}@127.0.0.1:{sink.port}/hook"]},
            "log": {"capture_bytes": CAPTURE_BYTES, "excerpt_bytes": EXCERPT_BYTES},
        },
        scripts={"leaky.sh": script},
    )
    write_secrets(user, f"SINK_TOKEN={SECRET}\n")
    (user / "out.txt").write_bytes(output_straddling(split))
    result = run_exec(user, "leaky")
    assert result.returncode == exit_code, result.stderr
    (request,) = sink.wait_for(1)
    message = request.json()["message"]
    own_lines = "\n".join(line for line in result.stderr.splitlines() if line.startswith("cronsync exec:"))
    (record,) = [json.loads(line) for line in (user / "logs" / "scheduler.log").read_text().splitlines()]
    (event,) = [json.loads(line) for line in (user / "logs" / "events.jsonl").read_text().splitlines()]
    for what, text in {
        "scheduler.log": (user / "logs" / "scheduler.log").read_text(),
        "events.jsonl": (user / "logs" / "events.jsonl").read_text(),
        "notification": request.body.decode(),
        "cronsync's messages": own_lines,
    }.items():
        assert leaked(text) == [], what
    assert "***" in record["excerpt"] and "bytes omitted" in record["excerpt"]
    assert "***" in record["stderr_excerpt"] and event["excerpt"] == record["excerpt"]
    assert "***" in message and message.startswith("Leaky: ")


@pytest.mark.parametrize("split", [3, 9, len(SECRET) - 6])
def test_a_job_that_uses_no_secret_still_cannot_log_one(tmp_path: Path, split: int) -> None:
    """No gateway, no API key: secrets.env is read after the run only to hide its values."""
    user = make_space(
        tmp_path,
        [script_job("Printer", "printer.sh")],
        {"log": {"capture_bytes": CAPTURE_BYTES, "excerpt_bytes": EXCERPT_BYTES}},
        scripts={"printer.sh": f"#!/bin/sh\ncat {OUT}\ncat {OUT} >&2\n"},
    )
    write_secrets(user, f"export SOME_TOKEN='{SECRET}'\n")
    (user / "out.txt").write_bytes(output_straddling(split))
    assert run_exec(user, "printer").returncode == 0
    for name in ("scheduler.log", "events.jsonl"):
        text = (user / "logs" / name).read_text()
        assert leaked(text) == [], name
        assert "***" in text
