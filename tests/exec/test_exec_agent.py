"""Agent jobs: a real OpenAI-compatible server on 127.0.0.1 and a real command backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.exectools import agent_job, log_records, make_space, run_exec, write_secrets
from tests.support.httpsink import HttpSink, chat_completion

API_KEY = "sk-test-9f8e7d6c5b4a"


@pytest.fixture
def llm() -> Iterator[HttpSink]:
    with HttpSink() as sink:
        sink.handler = lambda request: chat_completion(
            f"Summary: {len(request.json()['messages'])} message(s) read"
        )
        yield sink


def openai_settings(sink: HttpSink, **extra: Any) -> dict[str, Any]:
    backend = {"backend": "openai", "base_url": f"{sink.url}/v1", "model": "tiny", **extra}
    return {"agent": backend}


def test_openai_backend_gets_prompt_and_context_and_answers(tmp_path: Path, llm: HttpSink) -> None:
    (tmp_path / "home" / "notes.txt").write_text("FACT-42: the build is green\n")
    user = make_space(
        tmp_path,
        [
            agent_job(
                "Standup",
                "Summarize the facts.",
                payload={"context": ["cat ~/notes.txt", ["echo", "two words"]], "model": "bigger"},
            )
        ],
        openai_settings(llm, api_key_env="LLM_KEY", system_prompt="Be brief."),
    )
    write_secrets(user, f"LLM_KEY={API_KEY}\n")
    result = run_exec(user, "standup")
    assert result.returncode == 0, result.stderr
    assert "Summary: 2 message(s) read" in result.stdout
    (request,) = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = request.json()
    assert body["model"] == "bigger"
    system, user_message = body["messages"]
    assert system == {"role": "system", "content": "Be brief."}
    content = user_message["content"]
    assert content.startswith("Summarize the facts.")
    assert "$ cat ~/notes.txt\nFACT-42: the build is green" in content
    assert "$ echo 'two words'\ntwo words" in content
    (record,) = log_records(user)
    assert record["status"] == "success" and record["excerpt"] == "Summary: 2 message(s) read"
    for text in (json.dumps(record), result.stderr, (user / "logs" / "events.jsonl").read_text()):
        assert API_KEY not in text


def test_openai_backend_retries_429_and_5xx_with_backoff(tmp_path: Path, llm: HttpSink) -> None:
    llm.respond(429, b'{"error": "slow down"}', {"Retry-After": "1"})
    llm.respond(503, b"overloaded")
    user = make_space(tmp_path, [agent_job("Retry", "Hi")], openai_settings(llm, retries=3))
    result = run_exec(user, "retry")
    assert result.returncode == 0, result.stderr
    assert len(llm.requests) == 3
    first, second, third = (r.received for r in llm.requests)
    assert second - first >= 0.9  # honoured Retry-After: 1
    assert third - second >= 0.9  # then backed off (1 s after the second failure)


def test_openai_backend_gives_up_after_its_retries(tmp_path: Path, llm: HttpSink) -> None:
    llm.handler = lambda request: (500, b"boom", {})
    user = make_space(tmp_path, [agent_job("Down", "Hi")], openai_settings(llm, retries=1))
    result = run_exec(user, "down")
    assert result.returncode == 1
    assert len(llm.requests) == 2
    (record,) = log_records(user)
    assert record["status"] == "failure" and "HTTP 500" in record["error"] and "2 attempts" in record["error"]


def test_openai_client_error_is_not_retried(tmp_path: Path, llm: HttpSink) -> None:
    llm.respond(401, b'{"error": "bad key"}')
    user = make_space(tmp_path, [agent_job("Denied", "Hi")], openai_settings(llm))
    result = run_exec(user, "denied")
    assert result.returncode == 1 and len(llm.requests) == 1
    assert "HTTP 401" in result.stderr and "bad key" in result.stderr


def test_agent_job_timeout(tmp_path: Path, llm: HttpSink) -> None:
    llm.delay = 3
    user = make_space(tmp_path, [agent_job("Slow", "Hi", timeout=1)], openai_settings(llm, retries=0))
    result = run_exec(user, "slow")
    assert result.returncode == 124
    assert log_records(user)[0]["status"] == "timeout"


def test_failing_context_command_fails_the_job_before_asking(tmp_path: Path, llm: HttpSink) -> None:
    user = make_space(
        tmp_path,
        [agent_job("Ctx", "Hi", payload={"context": ["ls /no/such/folder"]})],
        openai_settings(llm),
    )
    result = run_exec(user, "ctx")
    assert result.returncode == 2  # ls's own exit code
    assert "context command #1 (ls /no/such/folder)" in result.stderr
    assert llm.requests == []


def test_command_backend_reads_the_prompt_on_stdin(tmp_path: Path) -> None:
    backend = tmp_path / "fake-llm"
    backend.write_text('#!/bin/sh\necho "model saw: $(head -n 1)"\necho "lines: $(wc -l)"\n')
    backend.chmod(0o755)
    user = make_space(
        tmp_path,
        [agent_job("Cmd", "First line of the prompt", payload={"context": ["echo ctx"]})],
        {"agent": {"backend": "command", "command": [str(backend)]}},
    )
    result = run_exec(user, "cmd")
    assert result.returncode == 0, result.stderr
    assert "model saw: First line of the prompt" in result.stdout
    (record,) = log_records(user)
    assert record["excerpt"].startswith("model saw: First line of the prompt\nlines: ")


def test_outside_systemd_the_processes_an_agent_job_starts_set_its_limits(tmp_path: Path) -> None:
    backend = tmp_path / "fake-llm"
    backend.write_text('#!/bin/sh\necho "backend nice=$(nice) io=$(ionice)"\ncat\n')
    backend.chmod(0o755)
    limits = {"nice": 7, "io": "idle", "tasks_max": 50}
    job = agent_job("Calm", "Summarize", payload={"context": ['sh -c "echo context nice=$(nice)"']})
    user = make_space(
        tmp_path, [{**job, "limits": limits}], {"agent": {"backend": "command", "command": [str(backend)]}}
    )
    result = run_exec(user, "calm")
    assert result.returncode == 0, result.stderr
    assert "backend nice=7 io=idle" in result.stdout
    assert "context nice=7" in result.stdout  # the context command's output, in the prompt the backend echoes
    assert int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[16]) == 0  # the test's own


def test_no_backend_configured_is_a_clear_error(tmp_path: Path) -> None:
    user = make_space(tmp_path, [agent_job("Lonely", "Hi")])
    result = run_exec(user, "lonely")
    assert result.returncode == 78
    assert "no agent backend is configured" in result.stderr and '"backend": "openai"' in result.stderr


def test_missing_api_key_names_the_variable(tmp_path: Path, llm: HttpSink) -> None:
    user = make_space(tmp_path, [agent_job("Keyless", "Hi")], openai_settings(llm, api_key_env="NOPE_KEY"))
    result = run_exec(user, "keyless")
    assert result.returncode == 78 and "$NOPE_KEY is not set" in result.stderr
    assert llm.requests == []


def test_dry_run_names_backend_context_and_key_state_without_asking(tmp_path: Path, llm: HttpSink) -> None:
    user = make_space(
        tmp_path,
        [agent_job("Plan", "Hi", payload={"context": ["git -C ~/src log --oneline"], "output": "chat"})],
        {**openai_settings(llm, api_key_env="LLM_KEY"), "gateways": {"chat": ["tgram://${BOT}/${CHAT}"]}},
    )
    write_secrets(user, f"LLM_KEY={API_KEY}\nBOT=123:abc\n")
    result = run_exec(user, "plan", "--dry-run")
    assert result.returncode == 0, result.stderr
    home = tmp_path / "home"
    assert f"agent backend: openai {llm.url}/v1, model tiny" in result.stdout
    assert "$LLM_KEY (set)" in result.stdout
    assert f"context command: git -C {home}/src log --oneline" in result.stdout
    assert "gateway chat: tgram://… uses $BOT (set), $CHAT (NOT SET)" in result.stdout
    assert API_KEY not in result.stdout and "123:abc" not in result.stdout
    assert llm.requests == [] and not (user / "logs").exists()
