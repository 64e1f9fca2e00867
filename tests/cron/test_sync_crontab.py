"""The crontab backend against a real cron daemon: the user's own lines are never touched."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from crontab import CronTab

from cronsync.core import crontab_block as crontab
from cronsync.core.render import CrontabEntry
from tests.support.cli import cronsync_in
from tests.support.harness import CronDaemon
from tests.support.userspaces import USER_CRONTAB, enable_every_job, jobs_of, write_jobs


def managed(text: str, user_dir: Path) -> dict[str, crontab.InstalledEntry]:
    return crontab.split(text, user_dir / "config" / "jobs.json").entries()


def test_split_and_compose_keep_every_user_byte(tmp_path: Path) -> None:
    entry = CrontabEntry("a", "*/5 * * * * /bin/cronsync exec a # cronsync:a", True)
    jobs_file = tmp_path / "jobs.json"
    text = crontab.compose(crontab.split(USER_CRONTAB, jobs_file), [entry], jobs_file)
    assert text.startswith(USER_CRONTAB)
    cut = crontab.split(text, jobs_file)
    assert cut.user_text() == USER_CRONTAB
    assert cut.jobs_file == str(tmp_path / "jobs.json")
    assert list(cut.entries()) == ["a"]
    assert crontab.compose(cut, [], jobs_file) == USER_CRONTAB
    # a block in the middle stays in the middle
    head = "".join(USER_CRONTAB.splitlines(keepends=True)[:3])
    middle = head + text[len(USER_CRONTAB) :] + USER_CRONTAB[len(head) :]
    assert crontab.split(middle, jobs_file).user_text() == USER_CRONTAB
    assert crontab.compose(crontab.split(middle, jobs_file), [entry], jobs_file) == middle


def test_apply_and_uninstall_leave_the_users_lines_alone(
    cron_daemon: CronDaemon, user_dir: Path, tmp_path: Path
) -> None:
    enable_every_job(user_dir)
    cron_daemon.set_crontab(USER_CRONTAB)
    applied = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab")
    assert applied.returncode == 0, applied.stderr
    installed = cron_daemon.crontab()
    assert installed.startswith(USER_CRONTAB)
    entries = {job.comment: job for job in CronTab(tab=installed) if job.comment.startswith("cronsync:")}
    assert set(entries) == {"cronsync:daily-standup-summary", "cronsync:clean-temp-files"}
    daily = entries["cronsync:daily-standup-summary"]
    assert str(daily.slices) == "0 9 * * 1-5"
    assert daily.command.split()[-2:] == ["exec", "daily-standup-summary"]
    assert f"--user-dir {user_dir}" in daily.command and daily.enabled

    again = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab", "--json")
    report = json.loads(again.stdout)
    assert report["changed"] is False and report["files_written"] == []
    assert cron_daemon.crontab() == installed

    removed = cronsync_in(cron_daemon, user_dir, "uninstall", "--backend", "crontab")
    assert removed.returncode == 0, removed.stderr
    assert cron_daemon.crontab() == USER_CRONTAB


def test_no_crontab_before_means_none_after_uninstall(cron_daemon: CronDaemon, user_dir: Path) -> None:
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    assert "cronsync:clean-temp-files" in cron_daemon.crontab()
    assert cronsync_in(cron_daemon, user_dir, "uninstall").returncode == 0
    assert "no crontab" in cron_daemon.run(["crontab", "-l"], check=False).stderr


def test_edit_disable_and_remove_change_only_those_entries(cron_daemon: CronDaemon, user_dir: Path) -> None:
    enable_every_job(user_dir)
    cron_daemon.set_crontab(USER_CRONTAB)
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    before = managed(cron_daemon.crontab(), user_dir)
    jobs = jobs_of(user_dir)
    jobs[0]["enabled"] = False
    jobs[1]["cron"] = "*/5 * * * *"
    jobs.append(
        {
            "name": "New One",
            "cron": "0 12 * * *",
            "action": "script",
            "payload": {"path": "scripts/clean_tmp.py"},
        }
    )
    write_jobs(user_dir, jobs)
    planned = json.loads(cronsync_in(cron_daemon, user_dir, "plan", "--backend", "crontab", "--json").stdout)
    actions = {job["id"]: (job["action"], job["changes"]) for job in planned["jobs"]}
    assert actions == {
        "daily-standup-summary": ("update", ["enabled: true -> false"]),
        "clean-temp-files": ("update", ["schedule"]),
        "new-one": ("create", []),
    }
    assert (
        cron_daemon.crontab().startswith(USER_CRONTAB) and managed(cron_daemon.crontab(), user_dir) == before
    )  # plan wrote nothing

    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    after = managed(cron_daemon.crontab(), user_dir)
    assert after["daily-standup-summary"].enabled is False
    assert after["clean-temp-files"].expression == "*/5 * * * *"
    assert after["new-one"].expression == "0 12 * * *"

    write_jobs(user_dir, [job for job in jobs if job["name"] != "New One"])
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    text = cron_daemon.crontab()
    print(repr(text))
    assert set(managed(text, user_dir)) == {"daily-standup-summary", "clean-temp-files"}
    assert text.startswith(USER_CRONTAB)


def test_invalid_jobs_change_nothing(cron_daemon: CronDaemon, user_dir: Path) -> None:
    enable_every_job(user_dir)
    cron_daemon.set_crontab(USER_CRONTAB)
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    installed = cron_daemon.crontab()
    write_jobs(
        user_dir,
        [
            {
                "name": "A",
                "cron": "61 * * * *",
                "action": "script",
                "payload": {"path": "scripts/clean_tmp.py"},
            },
            {"name": "B", "cron": "* * * * *", "action": "nope"},
        ],
    )
    result = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab")
    assert result.returncode == 1
    assert "job #1 ('A'), field 'cron'" in result.stderr and "job #2 ('B')" in result.stderr
    assert "Traceback" not in result.stderr
    assert cron_daemon.crontab() == installed


def test_a_foreign_time_zone_installs_an_emulated_entry(cron_daemon: CronDaemon, user_dir: Path) -> None:
    """Debian's cron has no CRON_TZ: the entry fires at every candidate minute of the machine's zone (UTC
    here; Kolkata is +05:30) and `exec --guard` runs the job only at its times in Asia/Kolkata."""
    jobs = jobs_of(user_dir)
    jobs[0].update(cron="0 9 * * 1-5", timezone="Asia/Kolkata")
    jobs[1].update(cron="0 0 L * *")
    write_jobs(user_dir, jobs)
    result = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab")
    assert result.returncode == 0, result.stderr
    entries = {job.comment: job for job in CronTab(tab=cron_daemon.crontab()) if job.comment}
    zoned, last_day = entries["cronsync:daily-standup-summary"], entries["cronsync:clean-temp-files"]
    assert str(zoned.slices) == "30 * * * *" and zoned.command.split()[-1] == "--guard"
    assert str(last_day.slices) == "0 0 28-31 * *" and last_day.command.split()[-1] == "--guard"
    # The entry's own command, as cron runs it, off the job's times: nothing runs, nothing is logged.
    now_in_kolkata = time.gmtime(time.time() + 5.5 * 3600)
    jobs[0]["cron"] = f"* {(now_in_kolkata.tm_hour + 12) % 24} * * *"
    write_jobs(user_dir, jobs)
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    entry = next(job for job in CronTab(tab=cron_daemon.crontab()) if job.comment == zoned.comment)
    cron_environment = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "HOME": str(Path.home())}
    ran = cron_daemon.run(["sh", "-c", entry.command], check=False, env=cron_environment)
    assert ran.returncode == 0 and ran.stdout == ran.stderr == ""
    assert not (user_dir / "logs" / "scheduler.log").exists()


def test_what_cron_cannot_start_is_refused_on_the_cron_field(cron_daemon: CronDaemon, user_dir: Path) -> None:
    jobs = jobs_of(user_dir)
    jobs[0]["cron"] = "*/5 * * * * *"
    jobs[1]["cron"] = "@every 90m"
    write_jobs(user_dir, jobs)
    result = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab")
    assert result.returncode == 1
    assert "job #1 ('Daily Standup Summary'), field 'cron'" in result.stderr, result.stderr
    assert "cron starts entries at second 0 of a minute" in result.stderr
    assert "'@every 90m' is an interval from the last start" in result.stderr
    assert cron_daemon.crontab() == ""


def test_auto_uses_crontab_when_no_user_manager_answers(
    cron_daemon: CronDaemon, user_dir: Path, tmp_path: Path
) -> None:
    empty_runtime = tmp_path / "no-manager"
    empty_runtime.mkdir(mode=0o700)
    argv = [sys.executable, "-m", "cronsync", "--user-dir", str(user_dir), "plan", "--json"]
    env = {**os.environ, "XDG_RUNTIME_DIR": str(empty_runtime)}
    result = cron_daemon.run(argv, check=False, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["backend"] == "crontab"
    refused = cron_daemon.run([*argv[:-2], "apply", "--backend", "systemd"], check=False, env=env)
    assert refused.returncode == 1 and "no systemd user manager answers" in refused.stderr


def test_run_executes_the_entry_with_a_run_request(cron_daemon: CronDaemon, user_dir: Path) -> None:
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    result = cronsync_in(cron_daemon, user_dir, "run", "--backend", "crontab", "Clean Temp Files")
    assert "Traceback" not in result.stderr
    records = [json.loads(line) for line in (user_dir / "logs" / "scheduler.log").read_text().splitlines()]
    assert [(r["job_id"], r["trigger"]) for r in records] == [("clean-temp-files", "manual")]
    assert records[0]["status"] == "success" and result.returncode == 0, result.stderr
    missing = cronsync_in(cron_daemon, user_dir, "run", "--backend", "crontab", "nope")
    assert missing.returncode == 1 and "no job named or with id 'nope'" in missing.stderr


def test_naming_the_other_backend_is_refused_with_the_commands_that_move_the_space(
    cron_daemon: CronDaemon, user_dir: Path, tmp_path: Path
) -> None:
    from cronsync.core.render import marker
    from cronsync.userspace.paths import systemd_user_unit_dir

    unit_dir = systemd_user_unit_dir()
    unit_dir.mkdir(parents=True)
    timer = unit_dir / "cronsync-old.timer"
    timer.write_text(marker(user_dir / "config" / "jobs.json") + "\n[Timer]\n")
    cron_daemon.set_crontab(USER_CRONTAB)
    result = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"({user_dir}/config/jobs.json) is installed on systemd; nothing was changed" in result.stderr
    assert f"`cronsync --user-dir {user_dir} uninstall --backend systemd`, then" in result.stderr
    assert f"`cronsync --user-dir {user_dir} apply --backend crontab`" in result.stderr
    assert cron_daemon.crontab() == USER_CRONTAB and timer.exists()

    # a space on both backends (an older cronsync's switch) is warned, with this space's --user-dir
    other = tmp_path / "other"
    shutil.copytree(user_dir, other)
    (unit_dir / "cronsync-theirs.timer").write_text(marker(other / "config" / "jobs.json") + "\n[Timer]\n")
    timer.unlink()
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    timer.write_text(marker(user_dir / "config" / "jobs.json") + "\n[Timer]\n")
    both = cronsync_in(cron_daemon, user_dir, "plan", "--backend", "crontab")
    assert both.returncode == 0, both.stderr
    assert "warning: this user space's cronsync systemd timers are still installed" in both.stderr
    assert f"`cronsync --user-dir {user_dir} uninstall --backend systemd`" in both.stderr
    # another space's timers are not this space's concern
    timer.unlink()
    alone = cronsync_in(cron_daemon, user_dir, "plan", "--backend", "crontab")
    assert alone.returncode == 0 and "still installed" not in alone.stderr, alone.stderr


def test_an_entry_really_fires(cron_daemon: CronDaemon, user_dir: Path) -> None:
    write_jobs(
        user_dir,
        [
            {
                "name": "Every Minute",
                "cron": "* * * * *",
                "action": "script",
                "payload": {"path": "scripts/clean_tmp.py", "args": ["--help"]},
            }
        ],
    )
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    log = user_dir / "logs" / "scheduler.log"
    deadline = time.monotonic() + 75
    while time.monotonic() < deadline and not log.exists():
        time.sleep(0.5)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e.get("job_id") == "every-minute" and "status" in e for e in entries)
