"""`validate` says what the backend would refuse: an error for the backend the space is installed on (apply
would fail on it), a warning naming the backend before the space is installed anywhere."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import cronsync_in
from tests.support.harness import CronDaemon
from tests.support.userspaces import jobs_of, write_jobs

# Every 10 seconds: a systemd timer can, cron's minutes cannot (nor can exec's guard make them).
SECONDS = "*/10 * * * * *"


def with_seconds(user_dir: Path) -> None:
    jobs = jobs_of(user_dir)
    jobs[1]["cron"] = SECONDS
    write_jobs(user_dir, jobs)


def test_before_install_a_crontab_only_problem_is_a_warning(cron_daemon: CronDaemon, user_dir: Path) -> None:
    with_seconds(user_dir)
    result = cronsync_in(cron_daemon, user_dir, "validate")
    assert result.returncode == 0, result.stderr
    assert "2 job(s), all valid" in result.stdout
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("warning: ") and "job #2 ('Clean Temp Files'), field 'cron'" in warning
    assert "(only with --backend crontab; the other backend can run it)" in warning
    report = json.loads(cronsync_in(cron_daemon, user_dir, "validate", "--json").stdout)
    assert report["ok"] and [
        w.split(": the crontab backend cannot run this schedule")[0] for w in report["warnings"]
    ] == [f"{user_dir}/config/jobs.json, job #2 ('Clean Temp Files'), field 'cron'"]


def test_installed_on_crontab_its_refusal_is_an_error_as_apply_would_say(
    cron_daemon: CronDaemon, user_dir: Path
) -> None:
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    installed = cron_daemon.crontab()
    with_seconds(user_dir)
    validated = cronsync_in(cron_daemon, user_dir, "validate")
    applied = cronsync_in(cron_daemon, user_dir, "apply")
    assert validated.returncode == applied.returncode == 1, validated.stdout + applied.stdout
    assert "all valid" not in validated.stdout
    where = f"{user_dir}/config/jobs.json, job #2 ('Clean Temp Files'), field 'cron'"
    error = f"error: {where}: the crontab backend"
    assert validated.stderr.startswith(error) and applied.stderr.startswith(error), validated.stderr
    assert cron_daemon.crontab() == installed


def test_installed_on_crontab_status_shows_the_rest_and_the_refusal_as_a_warning(
    cron_daemon: CronDaemon, user_dir: Path
) -> None:
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    with_seconds(user_dir)
    shown = cronsync_in(cron_daemon, user_dir, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    rows = {row["id"]: row for row in report["jobs"]}
    assert rows["daily-standup-summary"]["installed"] == "in-sync"
    refused = rows["clean-temp-files"]
    assert refused["installed"] == "refused" and "crontab backend cannot run" in refused["will_fail"][0]
    assert any("refuses job 'Clean Temp Files'" in warning for warning in report["warnings"])
    text = cronsync_in(cron_daemon, user_dir, "status")
    assert text.returncode == 0 and "installed: refused" in text.stdout, text.stderr
