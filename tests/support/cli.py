"""Running the real CLI as a user would (and as units do), and where the repository's files are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cronsync.apply.target import launcher_argv
from tests.support.harness import CronDaemon

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE = REPO / "USER"
# What units and crontab entries run: this interpreter, isolated and without site, on cronsync/__main__.py.
CRONSYNC_ARGV = list(launcher_argv())


def cronsync(
    *args: str, user_dir: Path | None = None, check: bool = False, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as a user would."""
    argv = [sys.executable, "-m", "cronsync"]
    if user_dir is not None:
        argv += ["--user-dir", str(user_dir)]
    return subprocess.run([*argv, *args], capture_output=True, text=True, check=check, timeout=120, **kwargs)  # type: ignore[call-overload]


def cronsync_in(daemon: CronDaemon, user_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI inside cron's namespace, where the private spool is. Started as crontab entries
    start it (this checkout's __main__.py): entering a mount namespace moves the working directory to
    its root, where `python -m cronsync` would import whatever cronsync the virtualenv has installed."""
    argv = [*CRONSYNC_ARGV, "--user-dir", str(user_dir), *args]
    return daemon.run(argv, check=False, env=os.environ)


def apply_json(user_dir: Path, *extra: str) -> dict[str, Any]:
    """`cronsync apply --backend systemd --json`, asserted to succeed: its report."""
    result = cronsync("apply", "--backend", "systemd", "--json", *extra, user_dir=user_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report
