"""The fixtures really start a user manager and a cron daemon, and a hand-written timer really fires."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.harness import CronDaemon, UserManager, wait_for


def test_user_manager_fires_a_hand_written_timer(systemd_user: UserManager, tmp_path: Path) -> None:
    marker = tmp_path / "fired"
    systemd_user.unit_dir.mkdir(parents=True, exist_ok=True)
    (systemd_user.unit_dir / "smoke.service").write_text(
        "[Service]\nType=oneshot\nSyslogIdentifier=smoke-test\n"
        f"ExecStart=/bin/sh -c 'echo tick; echo x >> {marker}'\n"
    )
    (systemd_user.unit_dir / "smoke.timer").write_text("[Timer]\nOnCalendar=*:*:0/2\nAccuracySec=1ms\n")
    systemd_user.systemctl("daemon-reload")
    systemd_user.systemctl("start", "smoke.timer")
    assert systemd_user.show("smoke.timer", "ActiveState")["ActiveState"] == "active"
    assert wait_for(lambda: marker.exists() and len(marker.read_text().split()) >= 2, timeout=15)
    assert "tick" in systemd_user.journal("smoke-test")


def test_user_manager_is_stopped_with_everything_it_started(tmp_path: Path) -> None:
    home = tmp_path / "h"
    (home / ".config").mkdir(parents=True)
    manager = UserManager.start(home, home / ".config", tmp_path)
    namespace = manager.tree.namespace
    pid = manager.pid
    manager.stop()
    assert not os.path.exists(f"/proc/{pid}/ns/mnt")
    assert not manager.runtime_dir.exists()
    still_there = [p for p in os.listdir("/proc") if p.isdigit() and _ns(int(p)) == namespace]
    assert still_there == []


def _ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def test_cron_daemon_has_a_private_spool_and_fires(cron_daemon: CronDaemon, tmp_path: Path) -> None:
    marker = tmp_path / "cron-fired"
    host_spool = sorted(os.listdir("/var/spool/cron/crontabs"))
    cron_daemon.set_crontab(f"* * * * * echo fired >> {marker}\n")
    assert f"echo fired >> {marker}" in cron_daemon.crontab()
    assert sorted(os.listdir("/var/spool/cron/crontabs")) == host_spool  # the host's spool is untouched
    assert wait_for(marker.exists, timeout=75, interval=0.5), "cron did not run the entry within a minute"
