"""Run policies on the real user manager: `retries` (one run, its attempts), `overlap: "replace"` (the run
still going is stopped when the next is due: its process group gone, both runs logged), `group` (never
two of a group of 1 at once, by the jobs' own timestamps). Schedules with seconds keep it fast."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from tests.support.cli import apply_json, cronsync
from tests.support.exectools import log_records, make_space, script_job
from tests.support.harness import UserManager, is_gone, wait_for

# Fails on its first two attempts, succeeds on the third (the attempts counted in a file).
FLAKY = (
    "#!/bin/sh\nn=$(( $(cat {count} 2>/dev/null || echo 0) + 1 ))\necho $n > {count}\n"
    'echo "attempt $n"\n[ $n -ge 3 ]\n'
)
# Writes its pid, its process group and a grandchild's pid (in that group), and runs until it is stopped.
LONG = '#!/bin/sh\nsleep 300 &\necho "$$ $(ps -o pgid= -p $$) $!" >> {pids}\nwait\n'
# Writes when it starts and ends, by its own clock.
STAMPED = (
    '#!/bin/sh\necho "start $(date +%s.%N) {name}" >> {stamps}\nsleep 1.5\n'
    'echo "end $(date +%s.%N) {name}" >> {stamps}\n'
)


def quiet_watcher(manager: UserManager) -> None:
    manager.systemctl("stop", "cronsync-sync.path", check=False)


def stop_timers(manager: UserManager, *job_ids: str) -> None:
    for job_id in job_ids:
        manager.systemctl("stop", f"cronsync-{job_id}.timer", f"cronsync-{job_id}.service", check=False)


def test_a_job_failing_twice_then_succeeding_is_one_run_of_three_attempts(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    job = script_job("Flaky", "flaky.sh", retries={"count": 2, "delay": "1s", "backoff": 2})
    user = make_space(tmp_path, [job], scripts={"flaky.sh": FLAKY.format(count=tmp_path / "count")})
    apply_json(user)
    quiet_watcher(systemd_user)
    ran = cronsync("run", "flaky", user_dir=user)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "flaky: success (exit 0)" in ran.stdout
    (record,) = log_records(user)
    assert record["status"] == "success" and record["exit_code"] == 0 and record["trigger"] == "manual"
    attempts = record["attempts"]
    assert [(a["attempt"], a["status"], a["exit_code"]) for a in attempts] == [
        (1, "failure", 1),
        (2, "failure", 1),
        (3, "success", 0),
    ]
    assert all(a["duration"] < 5 for a in attempts)
    assert record["duration"] >= 3  # the delays, 1 s then 2 s, are part of the run
    assert record["excerpt"] == "attempt 3\n"  # the last attempt's output


def test_replace_stops_the_running_run_when_the_next_is_due_and_logs_both(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    job = script_job("Long", "long.sh", cron="*/4 * * * * *", overlap="replace")
    user = make_space(tmp_path, [job], scripts={"long.sh": LONG.format(pids=pids)})
    apply_json(user)
    quiet_watcher(systemd_user)
    try:
        assert wait_for(lambda: len(log_records(user)) >= 1 and pids.exists(), 30), log_records(user)
        assert wait_for(lambda: len(pids.read_text().splitlines()) >= 2, 30)
    finally:
        stop_timers(systemd_user, "long")
    old, new, *_ = log_records(user)
    assert old["status"] == "replaced" and old["exit_code"] == 143, old
    assert "next scheduled run was due" in old["error"]
    assert new["replaced"] == old["run_id"] and new["trigger"] == "timer", new
    assert new["start"] >= old["end"]
    first_run = pids.read_text().splitlines()[0].split()
    shell, group, grandchild = (int(value) for value in first_run)
    assert shell == group  # the job leads its own process group
    for pid in (shell, grandchild):
        assert is_gone(pid), f"process {pid} of the old run lives"
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the old run's process group {group} is still there")


def test_a_group_of_one_never_runs_two_of_its_jobs_at_once(systemd_user: UserManager, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    jobs = [
        script_job(name, f"{name}.sh", cron="*/2 * * * * *", group="llm", overlap="queue")
        for name in ("first", "second")
    ]
    scripts = {f"{name}.sh": STAMPED.format(name=name, stamps=stamps) for name in ("first", "second")}
    user = make_space(tmp_path, jobs, {"groups": {"llm": 1}}, scripts=scripts)
    apply_json(user)
    quiet_watcher(systemd_user)
    try:
        assert wait_for(lambda: len(_intervals(stamps)) >= 6, 60), (
            stamps.read_text() if stamps.exists() else ""
        )
    finally:
        stop_timers(systemd_user, "first", "second")
    intervals = _intervals(stamps)
    assert {name for _, _, name in intervals} == {"first", "second"}
    for (_, end, _), (start, _, _) in itertools.pairwise(intervals):
        assert start >= end, intervals  # each began after the one before it ended
    records = [r for r in log_records(user) if r["status"] != "skipped"]
    assert all("group_waited" in r for r in records)
    assert any(r["group_waited"] > 0 for r in records)  # some waited for the other, apart from their run
    waited = next(r for r in records if r["group_waited"] > 0)
    assert waited["duration"] < 5  # the wait is not in the run's own duration


def _intervals(stamps: Path) -> list[tuple[float, float, str]]:
    """(start, end, job) of each finished run, in order of start."""
    if not stamps.exists():
        return []
    started: dict[str, float] = {}
    done = []
    for line in stamps.read_text().splitlines():
        kind, at, name = line.split()
        if kind == "start":
            assert name not in started, f"{name} started twice at once"
            started[name] = float(at)
        else:
            done.append((started.pop(name), float(at), name))
    return sorted(done)
