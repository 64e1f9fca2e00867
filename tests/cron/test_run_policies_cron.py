"""Run policies under cron, where exec is all there is: `retries` through the installed entry's command,
and, driven as cron's entries start exec (cron's namespace and environment, `exec --trigger timer`) on
schedules with seconds to keep it fast, `overlap: "replace"` and a `group` of 1."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.support.cli import CRONSYNC_ARGV, cronsync_in
from tests.support.exectools import log_records, make_space, script_job
from tests.support.harness import CronDaemon, wait_for

FLAKY = (
    "#!/bin/sh\nn=$(( $(cat {count} 2>/dev/null || echo 0) + 1 ))\necho $n > {count}\n"
    'echo "attempt $n"\n[ $n -ge 3 ]\n'
)
LONG = '#!/bin/sh\nsleep 300 &\necho "$$ $(ps -o pgid= -p $$) $!" >> {pids}\nwait\n'
STAMPED = (
    '#!/bin/sh\necho "start $(date +%s.%N) {name}" >> {stamps}\nsleep 1\n'
    'echo "end $(date +%s.%N) {name}" >> {stamps}\n'
)


def exec_in_cron(daemon: CronDaemon, user: Path, job: str) -> subprocess.Popen[str]:
    """`cronsync exec <job>` started in cron's namespace, as its entry starts it, in the background."""
    argv = [*CRONSYNC_ARGV, "--user-dir", str(user), "exec", job, "--trigger", "timer"]
    return subprocess.Popen(daemon.nsenter(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_retries_under_cron_make_one_run_of_three_attempts(cron_daemon: CronDaemon, tmp_path: Path) -> None:
    job = script_job("Flaky", "flaky.sh", retries={"count": 2, "delay": "1s"})
    user = make_space(tmp_path, [job], scripts={"flaky.sh": FLAKY.format(count=tmp_path / "count")})
    assert cronsync_in(cron_daemon, user, "apply", "--backend", "crontab").returncode == 0
    ran = cronsync_in(cron_daemon, user, "run", "--backend", "crontab", "flaky")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "attempt 1 failure (exit 1); retrying in 1s" in ran.stderr
    (record,) = log_records(user)
    assert record["status"] == "success" and record["exit_code"] == 0
    assert [a["status"] for a in record["attempts"]] == ["failure", "failure", "success"]


def test_retries_stop_at_count_and_the_run_fails_once(cron_daemon: CronDaemon, tmp_path: Path) -> None:
    job = script_job("Flaky", "flaky.sh", retries={"count": 1, "delay": 0})
    user = make_space(tmp_path, [job], scripts={"flaky.sh": FLAKY.format(count=tmp_path / "count")})
    assert cronsync_in(cron_daemon, user, "validate").returncode == 0
    ran = exec_in_cron(cron_daemon, user, "flaky")
    _, err = ran.communicate(timeout=60)
    assert ran.returncode == 1, err
    assert "no retries left (retries.count: 1)" in err
    (record,) = log_records(user)
    assert record["status"] == "failure" and len(record["attempts"]) == 2


def test_replace_under_cron_stops_the_old_run_and_logs_both(cron_daemon: CronDaemon, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    job = script_job("Long", "long.sh", cron="*/4 * * * * *", overlap="replace")
    user = make_space(tmp_path, [job], scripts={"long.sh": LONG.format(pids=pids)})
    assert cronsync_in(cron_daemon, user, "validate").returncode == 0
    old = exec_in_cron(cron_daemon, user, "long")
    assert wait_for(pids.exists, 20)
    time.sleep(4 - time.time() % 4 + 0.1)  # the next scheduled time has come: its run starts
    new = exec_in_cron(cron_daemon, user, "long")
    try:
        _, err = old.communicate(timeout=30)
        assert old.returncode == 143, err
        assert "replaced: the next scheduled run was due" in err
        assert wait_for(lambda: len(pids.read_text().splitlines()) >= 2, 20)
        shell, group, grandchild = (int(v) for v in pids.read_text().splitlines()[0].split())
        assert shell == group
        for pid in (shell, grandchild):
            assert not os.path.exists(f"/proc/{pid}"), f"process {pid} of the old run lives"
    finally:
        new.terminate()
        new.communicate(timeout=30)
    first, second = log_records(user)
    assert first["status"] == "replaced" and first["exit_code"] == 143
    assert second["replaced"] == first["run_id"] and second["waited"] >= 0, second
    assert second["start"] >= first["end"]


def test_a_group_of_one_under_cron_runs_one_at_a_time_and_skips_as_overlap_says(
    cron_daemon: CronDaemon, tmp_path: Path
) -> None:
    stamps = tmp_path / "stamps"
    names = ("first", "second")
    jobs = [script_job(name, f"{name}.sh", group="llm", overlap="queue") for name in names]
    jobs.append(script_job("skipper", "skipper.sh", group="llm"))  # overlap: skip
    scripts = {f"{name}.sh": STAMPED.format(name=name, stamps=stamps) for name in (*names, "skipper")}
    user = make_space(tmp_path, jobs, {"groups": {"llm": 1}}, scripts=scripts)
    assert cronsync_in(cron_daemon, user, "validate").returncode == 0
    runs = [exec_in_cron(cron_daemon, user, name) for name in (*names, "first", "second")]
    assert wait_for(stamps.exists, 20)
    skipped = cronsync_in(cron_daemon, user, "exec", "skipper", "--trigger", "timer")
    for run in runs:
        _, err = run.communicate(timeout=60)
        assert run.returncode == 0, err  # a second `first` queues behind the first (overlap: queue)
    assert skipped.returncode == 75, skipped.stderr
    assert "group 'llm' already runs 1 job(s) at once, its limit (overlap: skip)" in skipped.stderr
    lines = [line.split() for line in stamps.read_text().splitlines()]
    assert [kind for kind, _, _ in lines] == ["start", "end"] * 4, lines  # never two started at once
    for (_, start, name), (_, end, same) in zip(lines[::2], lines[1::2], strict=True):
        assert name == same and float(end) > float(start)
    for (_, end, _), (_, start, _) in zip(lines[1::2], lines[2::2], strict=False):
        assert float(start) >= float(end), lines
    ran = [r for r in log_records(user) if r["status"] == "success"]
    assert any(r["group_waited"] > 0 for r in ran)
