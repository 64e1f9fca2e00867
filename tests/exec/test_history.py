"""`cronsync history`: the last runs from the real log written by real `cronsync exec` runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import cronsync
from tests.support.exectools import make_space, run_exec, script_job


def test_history_lists_runs_filters_and_limits(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job("Good Job", "ok.sh"), script_job("Bad Job", "bad.sh")],
        {"log": {"max_bytes": 4096, "keep": 5}},
        scripts={"ok.sh": "#!/bin/sh\necho fine\n", "bad.sh": "#!/bin/sh\nexit 5\n"},
    )
    for job in ("good-job", "bad-job", "good-job", "good-job"):
        run_exec(user, job)
    table = cronsync("history", user_dir=user)
    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["START", "JOB", "TRIGGER", "STATUS", "DURATION", "EXIT"]
    assert [row.split()[2] for row in rows] == ["good-job", "bad-job", "good-job", "good-job"]
    assert rows[1].split()[-3:-2] == ["failure"] and rows[1].split()[-1] == "5"

    by_name = json.loads(cronsync("history", "Good Job", "-n", "2", "--json", user_dir=user).stdout)
    assert [r["job_id"] for r in by_name] == ["good-job", "good-job"]
    everything = json.loads(cronsync("history", "--json", user_dir=user).stdout)
    assert by_name == everything[-2:]

    unknown = cronsync("history", "never-ran", user_dir=user)  # one rule for an unknown job, as run and logs
    assert unknown.returncode == 1 and "no job named or with id 'never-ran'" in unknown.stderr
    assert cronsync("logs", "never-ran", user_dir=user).stderr == unknown.stderr


def test_history_and_logs_work_while_jobs_json_has_an_error(tmp_path: Path) -> None:
    """One job's deleted script blocks no other job: the last valid jobs.json is used, with a warning."""
    scripts = {"ok.sh": "#!/bin/sh\necho fine\n", "other.sh": "#!/bin/sh\n"}
    user = make_space(
        tmp_path, [script_job("Good Job", "ok.sh"), script_job("Other", "other.sh")], scripts=scripts
    )
    assert run_exec(user, "good-job").returncode == 0  # validates: the compiled cache holds both jobs
    (user / "scripts" / "other.sh").unlink()
    assert cronsync("validate", user_dir=user).returncode == 1
    logs = cronsync("logs", "Good Job", "--json", user_dir=user)
    assert logs.returncode == 0, logs.stderr
    assert [json.loads(line)["job_id"] for line in logs.stdout.splitlines()] == ["good-job"]
    assert "has 1 problem(s)" in logs.stderr and "last valid version" in logs.stderr
    assert cronsync("history", "good-job", user_dir=user).returncode == 0
    never = cronsync("history", "Other", user_dir=user)
    assert never.returncode == 0 and "no runs of 'Other'" in never.stdout  # known, never ran


def test_history_reads_rotated_files_in_order(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job("Big", "big.sh")],
        {"log": {"max_bytes": 4096, "keep": 5, "excerpt_bytes": 1500}},
        scripts={"big.sh": "#!/bin/sh\nhead -c 1500 /dev/zero | tr '\\0' 'q'\n"},
    )
    for _ in range(6):
        run_exec(user, "big")
    assert (user / "logs" / "scheduler.log.1").exists()
    runs = json.loads(cronsync("history", "--json", "-n", "100", user_dir=user).stdout)
    assert len(runs) == 6
    assert [r["start"] for r in runs] == sorted(r["start"] for r in runs)


def test_history_shows_the_missed_instants_in_line_with_the_runs(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cronsync.userspace.installed import record_install_times
    from cronsync.userspace.paths import UserSpace

    user = make_space(
        tmp_path,
        [script_job("Often", "ok.sh", cron="* * * * *"), script_job("Daily", "ok.sh")],
        scripts={"ok.sh": "#!/bin/sh\necho fine\n"},
    )
    installed = datetime.now(UTC) - timedelta(minutes=10, seconds=30)
    record_install_times(UserSpace(user), [("often", "create", True), ("daily", "create", True)], installed)
    assert run_exec(user, "often").returncode == 0
    records = json.loads(cronsync("history", "--json", "-n", "100", user_dir=user).stdout)
    missed = [r for r in records if r["status"] == "missed"]
    assert {r["job_id"] for r in missed} == {"often"} and 9 <= len(missed) <= 11
    assert all("start" not in r and r["trigger"] == "timer" for r in missed)
    scheduled = [datetime.fromisoformat(r["scheduled"]) for r in missed]
    assert scheduled == sorted(scheduled) and all(s.second == 0 for s in scheduled)
    ran = next(r for r in records if r["status"] == "success")
    assert all(s < datetime.fromisoformat(ran["start"]) for s in scheduled[:-1])

    table = cronsync("history", "often", user_dir=user).stdout.splitlines()
    assert sum(line.split()[4] == "missed" for line in table[1:]) == len(missed)
    only_daily = json.loads(cronsync("history", "daily", "--json", user_dir=user).stdout)
    assert only_daily == []
