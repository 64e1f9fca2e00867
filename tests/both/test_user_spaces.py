"""`--backend auto` sticks to the backend a user space is installed on, and what one space does on one
backend never touches another space's schedules on the other (real user manager, real cron daemon)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.support.cli import apply_json, cronsync_in
from tests.support.harness import CronDaemon, UserManager
from tests.support.userspaces import USER_CRONTAB, another_space


def unit_texts(unit_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in unit_dir.iterdir() if p.is_file()}


def test_auto_fails_and_changes_nothing_when_its_user_manager_is_down(
    systemd_user: UserManager, cron_daemon: CronDaemon, user_dir: Path, tmp_path: Path
) -> None:
    apply_json(user_dir)
    other = another_space(user_dir, tmp_path / "other", "Other ")
    cron_daemon.set_crontab(USER_CRONTAB)
    assert cronsync_in(cron_daemon, other, "apply", "--backend", "crontab").returncode == 0
    crontab, units = cron_daemon.crontab(), unit_texts(systemd_user.unit_dir)

    down = tmp_path / "no-manager"
    down.mkdir(mode=0o700)
    argv = [sys.executable, "-m", "cronsync", "--user-dir", str(user_dir), "apply"]
    result = cron_daemon.run(argv, check=False, env={**os.environ, "XDG_RUNTIME_DIR": str(down)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"this user space ({user_dir}/config/jobs.json) is installed on systemd" in result.stderr
    assert "no systemd user manager answers" in result.stderr and "nothing was changed" in result.stderr
    assert cron_daemon.crontab() == crontab and unit_texts(systemd_user.unit_dir) == units


def test_auto_sticks_to_the_crontab_and_spaces_leave_each_other_alone(
    systemd_user: UserManager, cron_daemon: CronDaemon, user_dir: Path, tmp_path: Path
) -> None:
    other = another_space(user_dir, tmp_path / "other", "Other ")
    cron_daemon.set_crontab(USER_CRONTAB)
    assert cronsync_in(cron_daemon, other, "apply", "--backend", "crontab").returncode == 0
    crontab = cron_daemon.crontab()
    again = cronsync_in(cron_daemon, other, "apply", "--json")  # auto, with a user manager answering
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["backend"] == "crontab" and cron_daemon.crontab() == crontab
    assert not systemd_user.unit_dir.exists() or unit_texts(systemd_user.unit_dir) == {}

    # this space goes to systemd: the other space's crontab entries are not its double runs
    mine = cronsync_in(cron_daemon, user_dir, "apply", "--json")
    assert mine.returncode == 0, mine.stderr
    report = json.loads(mine.stdout)
    assert report["backend"] == "systemd" and not [w for w in report["warnings"] if " will fail: " not in w]
    removed = cronsync_in(cron_daemon, user_dir, "uninstall", "--json")
    assert removed.returncode == 0 and json.loads(removed.stdout)["crontab_entries"] == []
    assert cron_daemon.crontab() == crontab and unit_texts(systemd_user.unit_dir) == {}


def test_moving_a_space_to_the_other_backend_is_explicit(
    systemd_user: UserManager, cron_daemon: CronDaemon, user_dir: Path
) -> None:
    cron_daemon.set_crontab(USER_CRONTAB)
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    crontab = cron_daemon.crontab()
    refused = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "systemd")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    uninstall = f"cronsync --user-dir {user_dir} uninstall --backend crontab"
    apply = f"cronsync --user-dir {user_dir} apply --backend systemd"
    assert "installed on crontab; nothing was changed" in refused.stderr
    assert f"`{uninstall}`, then `{apply}`" in refused.stderr
    assert cron_daemon.crontab() == crontab
    assert not systemd_user.unit_dir.exists() or unit_texts(systemd_user.unit_dir) == {}

    for command in (uninstall, apply):
        moved = cronsync_in(cron_daemon, user_dir, *command.split()[3:])  # after --user-dir DIR
        assert moved.returncode == 0, moved.stderr
    assert cron_daemon.crontab() == USER_CRONTAB
    assert "cronsync-clean-temp-files.timer" in unit_texts(systemd_user.unit_dir)
