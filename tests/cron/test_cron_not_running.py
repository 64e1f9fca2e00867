"""Never "ok" when nothing will run: plan, apply and status warn while no cron daemon serves the crontab."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.support.cli import cronsync_in
from tests.support.harness import CronDaemon

START = "systemctl enable --now cron" if Path("/run/systemd/system").is_dir() else "/usr/sbin/cron"
START = START if os.geteuid() == 0 else f"sudo {START}"


def test_plan_apply_and_status_warn_with_the_command_that_starts_cron(
    stopped_cron: CronDaemon, user_dir: Path
) -> None:
    warning = f"the cron daemon is not running, so no entry will run; start it: {START}"
    plan = cronsync_in(stopped_cron, user_dir, "plan", "--backend", "crontab", "--json")
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["warnings"] == [warning]
    applied = cronsync_in(stopped_cron, user_dir, "apply", "--backend", "crontab")
    assert applied.returncode == 0 and f"warning: {warning}" in applied.stderr
    assert "exec clean-temp-files" in stopped_cron.crontab()  # installed, and said not to run
    status = cronsync_in(stopped_cron, user_dir, "status", "--backend", "crontab", "--json")
    assert json.loads(status.stdout)["warnings"] == [warning]
    doctor = json.loads(cronsync_in(stopped_cron, user_dir, "doctor", "--json").stdout)
    (cron,) = [finding for finding in doctor["findings"] if finding["check"] == "cron"]
    assert cron["level"] == "error" and cron["fix"] == START


def test_no_warning_while_cron_runs(cron_daemon: CronDaemon, user_dir: Path) -> None:
    plan = cronsync_in(cron_daemon, user_dir, "plan", "--backend", "crontab", "--json")
    assert plan.returncode == 0 and json.loads(plan.stdout)["warnings"] == []
    status = cronsync_in(cron_daemon, user_dir, "status", "--backend", "crontab", "--json")
    assert json.loads(status.stdout)["warnings"] == []
