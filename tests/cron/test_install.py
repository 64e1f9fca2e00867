"""The README's first command: install.sh installs cronsync, runs again changing nothing, and is undone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.cli import REPO
from tests.support.harness import CronDaemon


def run_install(tmp_path: Path, cron: CronDaemon, *args: str) -> subprocess.CompletedProcess[str]:
    """install.sh inside the test cron daemon's namespace: with no user manager it applies to crontab."""
    env = {
        **os.environ,
        "CRONSYNC_PREFIX": str(tmp_path / "prefix"),
        "CRONSYNC_BIN_DIR": str(tmp_path / "bin"),
        "CRONSYNC_USER_DIR": str(tmp_path / "USER"),
    }
    return subprocess.run(
        cron.nsenter(["bash", str(REPO / "install.sh"), *args]),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
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
    # as root, on the distribution's interpreter, named: never on the first python3 of root's PATH
    venv_python = (tmp_path / "prefix" / "venv" / "bin" / "python").resolve()
    if os.getuid() == 0 and Path("/usr/bin/python3").exists():
        assert "on /usr/bin/python3 (the distribution's" in first.stdout
        assert venv_python == Path("/usr/bin/python3").resolve()
    else:
        assert "the first python3 on PATH" in first.stdout

    # the user's files (state/ holds caches cronsync may refresh, a cache signature that was still racy, say)
    user_files = [
        p
        for p in (tmp_path / "USER").rglob("*")
        if p.is_file() and p.parts[len((tmp_path / "USER").parts)] != "state"
    ]
    installed = {p: p.stat().st_mtime_ns for p in user_files}
    crontab = cron_daemon.crontab()
    assert "exec clean-temp-files" in crontab and "exec daily-standup-summary" in crontab
    second = run_install(tmp_path, cron_daemon)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing changed" in second.stdout
    assert "installing" not in second.stdout
    assert {p: p.stat().st_mtime_ns for p in installed} == installed
    assert cron_daemon.crontab() == crontab

    # undone: the schedules, the link and the virtualenv go; the user space stays unless purged
    removed = run_install(tmp_path, cron_daemon, "--uninstall")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not link.is_symlink() and not (tmp_path / "prefix" / "venv").exists()
    assert "cronsync" not in cron_daemon.crontab()
    assert (tmp_path / "USER" / "config" / "jobs.json").is_file() and "kept the user space" in removed.stdout
    again = run_install(tmp_path, cron_daemon, "--uninstall", "--purge")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to remove" not in again.stdout and not (tmp_path / "USER").exists()
    assert "nothing to remove" in run_install(tmp_path, cron_daemon, "--uninstall").stdout


def test_help_prints_the_usage_and_nothing_of_the_script() -> None:
    shown = subprocess.run(["bash", str(REPO / "install.sh"), "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and shown.stdout.startswith("Usage: ./install.sh")
    assert "--uninstall" in shown.stdout and "set -" not in shown.stdout and "#" not in shown.stdout
    wrong = subprocess.run(["bash", str(REPO / "install.sh"), "--purge"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "--purge goes with --uninstall" in wrong.stderr


def test_install_starts_the_cron_daemon_it_chose_when_it_may(
    tmp_path: Path, stopped_cron: CronDaemon
) -> None:
    """No systemd as PID 1 and cron installed but not running (a container): the crontab backend is chosen,
    and install.sh starts cron (as root) or says exactly what to run."""
    serving = [sys.executable, "-c", "from cronsync.adapters import crontab; print(crontab.cron_running())"]
    assert stopped_cron.run(serving).stdout.strip() == "False"
    installed = run_install(tmp_path, stopped_cron)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "backend: crontab" in installed.stdout
    if os.getuid() == 0:
        assert "install.sh: started the cron daemon (/usr/sbin/cron)" in installed.stdout
        assert stopped_cron.run(serving).stdout.strip() == "True"  # stopped_cron ends it, by pid
    else:
        assert "start it: sudo /usr/sbin/cron" in installed.stdout
