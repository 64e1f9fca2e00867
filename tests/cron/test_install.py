"""The README's first command: install.sh installs cronsync, and a second run changes nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.cli import REPO
from tests.support.harness import CronDaemon


def run_install(tmp_path: Path, cron: CronDaemon) -> subprocess.CompletedProcess[str]:
    """install.sh inside the test cron daemon's namespace: with no user manager it applies to crontab."""
    env = {
        **os.environ,
        "CRONSYNC_PREFIX": str(tmp_path / "prefix"),
        "CRONSYNC_BIN_DIR": str(tmp_path / "bin"),
        "CRONSYNC_USER_DIR": str(tmp_path / "USER"),
    }
    return subprocess.run(
        cron.nsenter(["bash", str(REPO / "install.sh")]), env=env, capture_output=True, text=True, timeout=900
    )


def test_install_is_complete_and_idempotent(tmp_path: Path, cron_daemon: CronDaemon) -> None:
    first = run_install(tmp_path, cron_daemon)
    assert first.returncode == 0, first.stdout + first.stderr
    link = tmp_path / "bin" / "cronsync"
    assert link.is_symlink() and os.readlink(link) == str(tmp_path / "prefix" / "venv" / "bin" / "cronsync")
    assert (tmp_path / "USER" / "config" / "jobs.json").read_bytes() == (
        REPO / "USER/config/jobs.json"
    ).read_bytes()
    version = subprocess.run([str(link), "--version"], capture_output=True, text=True, check=True)
    assert "cronsync" in version.stdout

    installed = {p: p.stat().st_mtime_ns for p in (tmp_path / "USER").rglob("*") if p.is_file()}
    crontab = cron_daemon.crontab()
    assert "exec clean-temp-files" in crontab and "exec daily-standup-summary" in crontab
    second = run_install(tmp_path, cron_daemon)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing changed" in second.stdout
    assert "installing" not in second.stdout
    assert {p: p.stat().st_mtime_ns for p in installed} == installed
    assert cron_daemon.crontab() == crontab
