"""Agent jobs inside a run: the configured backend, its API key, context, then the answer as output."""

from __future__ import annotations

import os
import sys

from cronsync.exec.run import ExecError, Outcome, Run
from cronsync.userspace.paths import SECRETS_FILE, SETTINGS_FILE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def agent_backend(run: Run) -> dict[str, Any]:
    backend: dict[str, Any] | None = run.settings.get("agent")
    if not backend:
        raise ExecError(
            f'job {run.job["name"]!r} is an agent job but no agent backend is configured: add "agent" to '
            f'{run.space.path(SETTINGS_FILE)}, e.g. {{"backend": "openai", '
            '"base_url": "http://127.0.0.1:11434/v1", "model": "llama3.2"} '
            'or {"backend": "command", "command": ["llm"]}'
        )
    return backend


def api_key(run: Run, backend: Mapping[str, Any]) -> str | None:
    name = backend.get("api_key_env")
    if backend.get("backend") != "openai" or not name:
        return None
    value: str | None = run.secrets().get(name)
    if value is None:
        raise ExecError(
            f"agent backend: API key variable ${name} is not set; define it in the environment or "
            f"in {run.space.path(SECRETS_FILE)} (mode 0600)"
        )
    return value


def run_agent(run: Run, outcome: Outcome) -> None:
    from cronsync.adapters import agent

    backend = agent_backend(run)
    key = api_key(run, backend)
    payload = run.job["payload"]
    env = run.environment()
    home = os.path.expanduser("~")
    deadline, capture_bytes = run.deadline(), run.log_settings["capture_bytes"]
    limits = run.own_limits()  # for the processes it starts: context commands, a command backend
    try:
        context = agent.gather_context(
            payload.get("context") or [],
            cwd=home,
            env=env,
            deadline=deadline,
            capture_bytes=capture_bytes,
            limits=limits,
        )
        prompt = agent.build_prompt(payload["prompt"], context)
        if backend["backend"] == "command":
            result = agent.ask_command(
                backend,
                prompt,
                cwd=home,
                env=env,
                deadline=deadline,
                capture_bytes=capture_bytes,
                limits=limits,
            )
            outcome.stdout, outcome.stderr = result.stdout, result.stderr
            if result.timed_out:
                outcome.fail("the agent command timed out; its process group was stopped", 1, timed_out=True)
            elif result.exit_code != 0:
                outcome.status, outcome.exit_code = "failure", result.exit_code
            return
        answer = agent.ask_openai(
            backend, prompt, model=payload.get("model"), api_key=key, deadline=deadline, redact=run.redact
        )
    except agent.AgentError as exc:
        outcome.fail(str(exc), exc.exit_code, timed_out=exc.timed_out)
        return
    data = answer.encode()
    outcome.stdout.add(data)
    sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
    sys.stdout.flush()
