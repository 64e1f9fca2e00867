"""Notifications through apprise to real HTTP servers on 127.0.0.1, and secrets kept out of every file."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cronsync.adapters.notify import notify_gateways
from cronsync.userspace.secrets import Secrets
from tests.support.exectools import log_records, make_space, run_exec, script_job, write_secrets
from tests.support.httpsink import HttpSink

TOKEN = "s3cr3t-gateway-token-7731"


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


def notify_job(name: str, script: str, on: str, **extra: object) -> dict[str, object]:
    return script_job(name, script, notify={"on": on, "gateways": ["sink"]}, **extra)


def sink_settings(sink: HttpSink, url: str | None = None) -> dict[str, object]:
    return {"gateways": {"sink": [url or f"json://127.0.0.1:{sink.port}/notify"]}}


def test_output_is_delivered_as_job_name_colon_output(tmp_path: Path, sink: HttpSink) -> None:
    user = make_space(
        tmp_path,
        [notify_job("Daily Standup Summary", "s.sh", "always")],
        sink_settings(sink),
        scripts={"s.sh": "#!/bin/sh\necho '3 commits, all green'\n"},
    )
    assert run_exec(user, "daily-standup-summary").returncode == 0
    (request,) = sink.requests
    assert request.path == "/notify"
    assert request.json()["message"] == "Daily Standup Summary: 3 commits, all green"
    (record,) = log_records(user)
    assert record["notifications"] == [{"gateway": "sink", "service": "json://…", "ok": True, "attempts": 1}]


def test_failure_message_names_exit_code_and_stderr_tail(tmp_path: Path, sink: HttpSink) -> None:
    user = make_space(
        tmp_path,
        [notify_job("Backup", "b.sh", "failure")],
        sink_settings(sink),
        scripts={"b.sh": "#!/bin/sh\necho partial\necho 'disk full' >&2\nexit 4\n"},
    )
    assert run_exec(user, "backup").returncode == 4
    message = sink.requests[0].json()["message"]
    assert message == "Backup: failed with exit code 4\ndisk full"
    assert sink.requests[0].json()["type"] == "failure"


@pytest.mark.parametrize(
    ("on", "script", "sent"),
    [
        ("failure", "#!/bin/sh\necho fine\n", False),
        ("output", "#!/bin/sh\n", False),
        ("output", "#!/bin/sh\necho something\n", True),
        ("never", "#!/bin/sh\nexit 1\n", False),
    ],
)
def test_notify_on_decides_when_to_send(
    tmp_path: Path, sink: HttpSink, on: str, script: str, sent: bool
) -> None:
    user = make_space(
        tmp_path, [notify_job("When", "w.sh", on)], sink_settings(sink), scripts={"w.sh": script}
    )
    run_exec(user, "when")
    assert bool(sink.requests) is sent


def test_gateway_down_is_retried_logged_and_never_changes_the_status(tmp_path: Path) -> None:
    port = _free_port()
    user = make_space(
        tmp_path,
        [script_job("Down", "d.sh", notify={"on": "always", "gateways": ["sink"]})],
        {"gateways": {"sink": [f"json://127.0.0.1:{port}/x"]}},
        scripts={"d.sh": "#!/bin/sh\necho result\n"},
    )
    result = run_exec(user, "down")
    assert result.returncode == 0
    assert "notification failed" in result.stderr
    (record,) = log_records(user)
    assert record["status"] == "success" and record["exit_code"] == 0
    (notification,) = record["notifications"]
    assert notification["ok"] is False and notification["attempts"] == 3 and "sink" in notification["error"]


def test_secrets_expand_from_secrets_env_and_never_reach_the_log(tmp_path: Path, sink: HttpSink) -> None:
    user = make_space(
        tmp_path,
        [
            script_job("Secret", "s.sh", notify={"on": "always", "gateways": ["sink", "dead"]}),
        ],
        {
            "gateways": {
                "sink": [f"json://bot:${{SINK_TOKEN}}@127.0.0.1:{sink.port}/hook"],
                "dead": [f"json://bot:${{SINK_TOKEN}}@127.0.0.1:{_free_port()}/x"],
            }
        },
        scripts={"s.sh": "#!/bin/sh\necho done\n"},
    )
    write_secrets(user, f"# gateway tokens\nexport SINK_TOKEN='{TOKEN}'\n")
    result = run_exec(user, "secret")
    assert result.returncode == 0
    (request,) = sink.wait_for(1)
    import base64

    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"bot:{TOKEN}".encode()).decode()
    dry = run_exec(user, "secret", "--dry-run")
    assert "$SINK_TOKEN (set)" in dry.stdout
    for text in (result.stdout, result.stderr, dry.stdout, dry.stderr):
        assert TOKEN not in text
    for path in [*(user / "logs").iterdir(), *(user / "state").rglob("*")]:
        if path.is_file():
            assert TOKEN not in path.read_text(), path


def test_group_readable_secrets_file_is_refused(tmp_path: Path, sink: HttpSink) -> None:
    marker = tmp_path / "ran"
    user = make_space(
        tmp_path,
        [notify_job("Leaky", "l.sh", "always")],
        sink_settings(sink, f"json://bot:${{SINK_TOKEN}}@127.0.0.1:{sink.port}/hook"),
        scripts={"l.sh": f"#!/bin/sh\ntouch {marker}\n"},
    )
    secrets = write_secrets(user, f"SINK_TOKEN={TOKEN}\n", mode=0o640)
    result = run_exec(user, "leaky")
    assert result.returncode == 78
    assert f"chmod 600 {secrets}" in result.stderr and "0640" in result.stderr
    assert not marker.exists() and sink.requests == []


def test_missing_variable_is_named_and_the_run_still_succeeds(tmp_path: Path, sink: HttpSink) -> None:
    user = make_space(
        tmp_path,
        [notify_job("Unset", "u.sh", "always")],
        sink_settings(sink, f"json://127.0.0.1:{sink.port}/${{NOT_DEFINED_ANYWHERE}}"),
        scripts={"u.sh": "#!/bin/sh\necho out\n"},
    )
    result = run_exec(user, "unset")
    assert result.returncode == 0
    (notification,) = log_records(user)[0]["notifications"]
    assert notification["ok"] is False and "${NOT_DEFINED_ANYWHERE} not set" in notification["error"]


def test_telegram_url_and_message_shape(sink: HttpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """apprise's own Telegram plugin, pointed at the local server instead of api.telegram.org."""
    from apprise.plugins.telegram import NotifyTelegram

    sink.default = (200, b'{"ok": true, "result": {}}', {"Content-Type": "application/json"})
    monkeypatch.setattr(NotifyTelegram, "notify_url", f"{sink.url}/bot")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAbbCCddEEffGGhh")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "-100987654")
    body = "Daily Standup Summary: " + "<b>ok</b> " * 1000  # 10 kB: over Telegram's 4096 limit
    (result,) = notify_gateways(
        ["telegram"],
        {"telegram": ["tgram://${TELEGRAM_BOT_TOKEN}/${TELEGRAM_CHAT_ID}"]},
        body,
        failed=False,
        secrets=Secrets("/nonexistent/secrets.env"),
    )
    assert result == {"gateway": "telegram", "service": "tgram://…", "ok": True, "attempts": 1}
    (request,) = sink.requests
    assert request.path == "/bot123456789:AAbbCCddEEffGGhh/sendMessage"
    payload = request.json()
    assert str(payload["chat_id"]) == "-100987654"
    assert payload["text"].startswith("Daily Standup Summary: &lt;b&gt;ok&lt;/b&gt;")  # sent as text, escaped
    assert len(payload["text"]) <= 4096  # truncated to Telegram's limit


def _free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_record_is_valid_json_per_line(tmp_path: Path, sink: HttpSink) -> None:
    user = make_space(
        tmp_path,
        [notify_job("Lines", "l.sh", "always")],
        sink_settings(sink),
        scripts={"l.sh": "#!/bin/sh\nprintf 'a\\nb\\n\\000c'\n"},
    )
    run_exec(user, "lines")
    lines = (user / "logs" / "scheduler.log").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["excerpt"] == "a\nb\n\x00c"
