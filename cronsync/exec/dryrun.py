"""`cronsync exec --dry-run`: what a run would do, without doing it. Shows names, never secret values."""

from __future__ import annotations

import shlex
from typing import Any

from cronsync.exec.agent import agent_backend
from cronsync.exec.run import ExecError, Run
from cronsync.exec.script import script_plan
from cronsync.userspace.secrets import SecretsError, redact_url, references


def describe(run: Run) -> str:
    job = run.job
    lines = [f"job: {job['name']} (id {job['id']}, {job['action']})", f"trigger: {run.trigger}"]
    if job["action"] == "script":
        argv, cwd, env = script_plan(run)
        lines += [
            f"command: {shlex.join(argv)}",
            f"working directory: {cwd}",
            f"environment: PATH={env['PATH']}",
            "  job variables: " + (", ".join(sorted(job["payload"].get("env") or {})) or "none"),
            "  added by cronsync: CRONSYNC_JOB_ID, CRONSYNC_RUN_ID, CRONSYNC_TRIGGER, CRONSYNC_USER_DIR",
        ]
    else:
        lines += _agent_lines(run)
    timeout = job.get("timeout")
    lines.append(f"timeout: {f'{timeout}s' if timeout else 'none'}; overlap: {job.get('overlap', 'skip')}")
    lines += _notify_lines(run)
    return "\n".join(lines)


def _agent_lines(run: Run) -> list[str]:
    from cronsync.adapters.agent import context_argv, display_url

    backend = agent_backend(run)
    payload = run.job["payload"]
    if backend["backend"] == "command":
        lines = [f"agent backend: command {shlex.join(backend['command'])} (prompt on stdin)"]
    else:
        model = payload.get("model") or backend["model"]
        lines = [f"agent backend: openai {display_url(backend['base_url'])}, model {model}"]
        if backend.get("api_key_env"):
            lines.append(f"  API key: ${backend['api_key_env']} ({_state(run, backend['api_key_env'])})")
    lines.append(f"prompt: {len(payload['prompt'])} characters")
    for command in payload.get("context") or []:
        lines.append(f"context command: {shlex.join(context_argv(command))}")
    return lines


def _notify_lines(run: Run) -> list[str]:
    notify: dict[str, Any] = run.job["notify"]
    if not notify["gateways"]:
        return ["notify: no gateways"]
    lines = [f"notify: on {notify['on']}"]
    gateways = run.settings.get("gateways") or {}
    for name in notify["gateways"]:
        for url in gateways.get(name, []):
            names = references(url)
            variables = ", ".join(f"${n} ({_state(run, n)})" for n in names)
            lines.append(f"  gateway {name}: {redact_url(url)}" + (f" uses {variables}" if names else ""))
    return lines


def _state(run: Run, name: str) -> str:
    try:
        return "set" if run.secrets().get(name) is not None else "NOT SET"
    except SecretsError as exc:
        raise ExecError(str(exc)) from None
