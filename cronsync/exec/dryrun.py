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
    retries = job.get("retries")
    if retries:
        kinds = ", ".join(retries["on"])
        lines.append(
            f"retries: up to {retries['count']} after the first ({kinds}), {retries['delay']}s apart, "
            f"times {retries['backoff']:g} each time"
        )
    if job.get("group"):
        size = (run.settings.get("groups") or {}).get(job["group"])
        lines.append(f"group: {job['group']} (at most {size} of its jobs at once)")
    if job.get("limits"):
        lines.append("limits: " + ", ".join(f"{name} {value}" for name, value in job["limits"].items()))
    lines += _fleet_lines(run) + _chain_lines(run) + _notify_lines(run) + _healthcheck_lines(run)
    return "\n".join(lines)


def _fleet_lines(run: Run) -> list[str]:
    if run.job.get("run_on") != "one":
        return []
    from cronsync.core.fleet import failover_wait
    from cronsync.userspace.paths import host_name

    fleet = run.settings["fleet"]
    host, hosts = host_name(fleet.get("host")), run.job.get("hosts")
    wait = failover_wait(hosts, host, fleet["failover_delay"])
    among = ", ".join(hosts) if hosts else "every host"
    return [
        f"fleet: one run per scheduled time among {among}; this host ({host}) claims it in etcd "
        f"under {fleet['prefix']}" + (f" after waiting {wait:g}s" if wait else ""),
        f"  etcd unreachable: {fleet['when_unreachable']}",
    ]


def _chain_lines(run: Run) -> list[str]:
    starts = run.job.get("next") or {}
    return [
        f"then: when it {when}s, starts {', '.join(starts[kind])}"
        for kind, when in (("success", "succeed"), ("failure", "fail"))
        if starts.get(kind)
    ]


def _healthcheck_lines(run: Run) -> list[str]:
    template = run.job.get("healthcheck")
    if not template:
        return []
    return [f"healthcheck: {_secret_url(run, str(template))}"]


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
        lines += [f"  gateway {name}: {_secret_url(run, url)}" for url in gateways.get(name, [])]
    return lines


def _secret_url(run: Run, url: str) -> str:
    """A URL that may hold secrets: its scheme, and the `${VAR}`s it uses with whether each is set."""
    names = references(url)
    variables = ", ".join(f"${n} ({_state(run, n)})" for n in names)
    return redact_url(url) + (f" uses {variables}" if names else "")


def _state(run: Run, name: str) -> str:
    try:
        return "set" if run.secrets().get(name) is not None else "NOT SET"
    except SecretsError as exc:
        raise ExecError(str(exc)) from None
