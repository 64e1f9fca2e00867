"""Helpers for the `cronsync exec` tests: a user space built from jobs, settings and scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.cli import cronsync


def script_job(name: str, path: str, **extra: Any) -> dict[str, Any]:
    payload = {"path": f"scripts/{path}"}
    payload.update(extra.pop("payload", {}))
    return {"name": name, "cron": "0 3 * * *", "action": "script", "payload": payload, **extra}


def clean_tmp_job(name: str, cron: str = "*/5 * * * *", **extra: Any) -> dict[str, Any]:
    """A job running the example user space's clean_tmp.py (for the sync and fault tests)."""
    job: dict[str, Any] = {
        "name": name,
        "cron": cron,
        "action": "script",
        "payload": {"path": "scripts/clean_tmp.py"},
    }
    job.update(extra)
    return job


def agent_job(name: str, prompt: str, **extra: Any) -> dict[str, Any]:
    payload = {"prompt": prompt}
    payload.update(extra.pop("payload", {}))
    return {"name": name, "cron": "0 3 * * *", "action": "agent_workflow", "payload": payload, **extra}


def make_space(
    root: Path,
    jobs: list[dict[str, Any]],
    settings: dict[str, Any] | None = None,
    scripts: dict[str, str] | None = None,
) -> Path:
    """USER/{config,scripts} under root; scripts are made executable."""
    user = root / "USER"
    (user / "config").mkdir(parents=True, exist_ok=True)
    (user / "scripts").mkdir(exist_ok=True)
    (user / "config" / "jobs.json").write_text(json.dumps(jobs, indent=2))
    (user / "config" / "settings.json").write_text(json.dumps(settings or {}, indent=2))
    for name, text in (scripts or {}).items():
        path = user / "scripts" / name
        path.write_text(text)
        path.chmod(0o755)
    return user


def run_exec(user: Path, job: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return cronsync("exec", job, *args, user_dir=user, **kwargs)


def exec_argv(user: Path, job: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "cronsync", "--user-dir", str(user), "exec", job, *args]


def log_records(user: Path, name: str = "scheduler.log") -> list[dict[str, Any]]:
    path = user / "logs" / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_secrets(user: Path, text: str, mode: int = 0o600) -> Path:
    path = user / "config" / "secrets.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(mode)
    return path
