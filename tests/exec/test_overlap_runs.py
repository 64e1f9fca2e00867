"""No run doubled: a run's lock lasts as long as any of its processes (even when its `cronsync exec` is
SIGKILLed); a scheduled time that fell while the previous run ran is skipped (systemd re-fires it at the
end of the run); a queued run's start and duration are the run's own, its wait logged apart; a hung hook
holds neither exec for long nor the job's lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from cronsync.adapters.process import groups_holding
from cronsync.exec.overlap import JOB_FD_FLOOR
from cronsync.userspace.paths import UserSpace
from tests.support.exectools import exec_argv, log_records, make_space, run_exec, script_job

# Holds (the shell and a grandchild in the background) while the file `hold` exists; else returns at once.
HOLDING = """#!/bin/sh
[ -e {hold} ] || {{ echo quick; exit 0; }}
sleep 300 &
echo "$$ $!" > {pids}
wait
"""


def holding_space(tmp_path: Path, **job: Any) -> tuple[Path, Path, Path]:
    hold, pids = tmp_path / "hold", tmp_path / "pids"
    user = make_space(
        tmp_path,
        [script_job("Holds", "holds.sh", **job)],
        scripts={"holds.sh": HOLDING.format(hold=hold, pids=pids)},
    )
    hold.touch()
    return user, hold, pids


def start_and_kill_exec(user: Path, pids: Path) -> tuple[int, int]:
    """Start a run, SIGKILL its `cronsync exec` once the job runs: (the job's shell, its grandchild)."""
    runner = subprocess.Popen(exec_argv(user, "holds"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(pids)
    runner.kill()
    runner.wait(timeout=10)
    shell, grandchild = (int(pid) for pid in pids.read_text().split())
    return shell, grandchild


def test_sigkill_of_exec_leaves_the_job_locked_while_any_of_its_processes_lives(tmp_path: Path) -> None:
    user, hold, pids = holding_space(tmp_path)
    shell, grandchild = start_and_kill_exec(user, pids)
    try:
        blocked = run_exec(user, "holds")
        assert blocked.returncode == 75, blocked.stderr
        assert "processes of the previous run are still running" in blocked.stderr
        _kill(shell)  # the job's own process gone: its background grandchild still holds the run
        assert run_exec(user, "holds").returncode == 75
    finally:
        _kill(shell)
        _kill(grandchild)
    hold.unlink()
    assert _eventually(lambda: run_exec(user, "holds").returncode == 0)
    records = log_records(user)
    assert [r["status"] for r in records][:2] == ["skipped", "skipped"]
    assert records[-1]["status"] == "success" and records[-1]["excerpt"] == "quick\n"
    assert "cronsync exec has ended" in records[0]["error"]


def test_queue_after_a_killed_exec_waits_for_the_processes_and_logs_the_wait(tmp_path: Path) -> None:
    user, hold, pids = holding_space(tmp_path, overlap="queue")
    shell, grandchild = start_and_kill_exec(user, pids)
    hold.unlink()
    queued = subprocess.Popen(
        exec_argv(user, "holds"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(1.5)
        assert queued.poll() is None  # waiting: the killed run's processes still live
    finally:
        _kill(shell)
        _kill(grandchild)
    out, err = queued.communicate(timeout=30)
    assert queued.returncode == 0 and out == "quick\n", err
    assert "waiting for it (overlap: queue)" in err
    (record,) = log_records(user)
    assert record["status"] == "success" and record["waited"] >= 1.0
    assert record["duration"] < record["waited"]  # the run itself, not the wait


def test_replace_after_a_killed_exec_stops_what_it_left_then_runs(tmp_path: Path) -> None:
    """Nothing is left to stop the old run itself (its exec was SIGKILLed): the new run stops the
    processes that still hold the job, SIGKILL after the grace for those that ignore SIGTERM."""
    hold, pids = tmp_path / "hold", tmp_path / "pids"
    stubborn = "#!/bin/sh\ntrap '' TERM\n" + HOLDING.removeprefix("#!/bin/sh\n")
    user = make_space(
        tmp_path,
        [script_job("Holds", "holds.sh", overlap="replace")],
        scripts={"holds.sh": stubborn.format(hold=hold, pids=pids)},
    )
    hold.touch()
    shell, grandchild = start_and_kill_exec(user, pids)
    hold.unlink()
    try:
        replacing = run_exec(user, "holds")
        assert _gone(shell, 2) and _gone(grandchild, 2)  # stopped before the new run began (or reaped soon)
    finally:
        _kill(shell)
        _kill(grandchild)
    assert replacing.returncode == 0 and replacing.stdout == "quick\n", replacing.stderr
    assert "stopped 1 process group(s) left of the previous run" in replacing.stderr
    (record,) = log_records(user)
    assert record["status"] == "success" and record["stopped_leftovers"] == 1, record
    assert record["waited"] >= 5.0  # the grace SIGTERM gets, then SIGKILL


def test_only_groups_holding_the_lock_where_a_job_gets_it_are_found(tmp_path: Path) -> None:
    """What replace may stop: another group holding the file at JOB_FD_FLOOR or above; not one holding
    it at a low number (a command that peeks at the lock), and never this process's own group."""
    path = tmp_path / "held"
    path.touch()
    hold = (
        "import os, sys, time\nos.dup2(os.open(sys.argv[1], os.O_RDONLY), int(sys.argv[2]))\ntime.sleep(60)"
    )
    high, low = (
        subprocess.Popen([sys.executable, "-c", hold, str(path), fd], start_new_session=True)
        for fd in (str(JOB_FD_FLOOR + 3), "7")
    )
    ours = os.open(path, os.O_RDONLY)
    ours_high = fcntl.fcntl(ours, fcntl.F_DUPFD, JOB_FD_FLOOR)
    try:
        assert _eventually(lambda: groups_holding(str(path), JOB_FD_FLOOR) == {high.pid})
        high.kill()
        high.wait()
        assert groups_holding(str(path), JOB_FD_FLOOR) == set()
        assert groups_holding(str(path), 0) == {low.pid}
    finally:
        os.close(ours)
        os.close(ours_high)
        for child in (high, low):
            child.kill()
            child.wait()


def test_a_queued_run_logs_its_wait_apart_from_its_start_and_duration(tmp_path: Path) -> None:
    user, hold, pids = holding_space(tmp_path, overlap="queue")
    first = subprocess.Popen(exec_argv(user, "holds"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(pids)
        hold.unlink()  # the queued run returns at once
        second = subprocess.Popen(exec_argv(user, "holds"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.5)
    finally:
        for pid in pids.read_text().split():
            _kill(int(pid))
        first.wait(timeout=30)
    second.communicate(timeout=30)
    assert second.returncode == 0
    ran, queued = log_records(user)
    assert "waited" not in ran
    assert queued["waited"] >= 1.0 and queued["duration"] < queued["waited"]
    assert _epoch(queued["start"]) >= _epoch(ran["end"]) - 0.01  # it started when the other ended


def test_the_hook_runs_after_the_lock_is_released_and_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    hooked, child = tmp_path / "hooked", tmp_path / "hook-child"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {child}\ntouch {hooked}\nwait\n")
    hook.chmod(0o755)
    user = make_space(
        tmp_path,
        [script_job("Hooked", "h.sh")],
        {"hooks": {"job_completed": [str(hook)], "timeout": "2s"}},
        scripts={"h.sh": "#!/bin/sh\necho done\n"},
    )
    began = time.monotonic()
    first = subprocess.Popen(exec_argv(user, "hooked"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for(hooked)
    second = run_exec(user, "hooked")  # while the first run's hook hangs
    assert second.returncode == 0, second.stderr  # not 75: the hook holds no lock
    _, err = first.communicate(timeout=30)
    assert first.returncode == 0
    assert time.monotonic() - began < 20  # the 2 s timeout, not the hook's 300 s
    assert "ran longer than 2s (hooks.timeout) and was stopped" in err.decode()
    assert _gone(int(child.read_text()))  # the hook's whole process group was stopped
    assert [r["status"] for r in log_records(user)] == ["success", "success"]


def test_a_skipped_run_waits_for_its_hook_no_longer_than_the_timeout(tmp_path: Path) -> None:
    hook = tmp_path / "hook.sh"
    hook.write_text("#!/bin/sh\nexec sleep 300\n")
    hook.chmod(0o755)
    user, _, pids = holding_space(tmp_path)
    settings = {"hooks": {"job_completed": [str(hook)], "timeout": 1}}
    (user / "config" / "settings.json").write_text(json.dumps(settings))
    first = subprocess.Popen(exec_argv(user, "holds"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(pids)
        began = time.monotonic()
        skipped = run_exec(user, "holds")
        assert skipped.returncode == 75
        assert time.monotonic() - began < 20  # its 1 s timeout, not 60 s
    finally:
        for pid in pids.read_text().split():
            _kill(int(pid))
        first.wait(timeout=30)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _eventually(check: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _wait_for(path: Path, timeout: float = 20) -> None:
    """Until `path` exists (the pids file: with both pids in it)."""
    deadline = time.monotonic() + timeout
    while not path.exists() or (path.name == "pids" and len(path.read_text().split()) < 2):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


# --- a timer that elapsed during the previous run (systemd starts the service again as it ends) ------

EVERY_MINUTE_SLOW = "#!/bin/sh\n[ -e {slow} ] && sleep 3\necho ran\n"


def minute_space(tmp_path: Path, **job: Any) -> tuple[Path, Path]:
    slow = tmp_path / "slow"
    user = make_space(
        tmp_path,
        [script_job("Minutely", "m.sh", cron="* * * * *", **job)],
        scripts={"m.sh": EVERY_MINUTE_SLOW.format(slow=slow)},
    )
    slow.touch()
    return user, slow


def zone_with_a_minute_at(epoch: float) -> dict[str, str]:
    """An environment whose local clock (TZ with an offset in seconds) starts a minute at `epoch` (a
    whole second): what a whole minute's wait would give, without the wait."""
    offset = -int(epoch) % 60  # local = UTC + offset
    return {**os.environ, "TZ": f"CRS-00:00:{offset:02d}"}


def a_minute_during_the_last_run(user: Path) -> dict[str, str]:
    """A clock on which a scheduled minute began in the middle of the job's last run (3 s long)."""
    last = log_records(user)[-1]
    start, end = _epoch(last["start"]), _epoch(last["end"])
    return zone_with_a_minute_at(int((start + end) / 2))


def test_a_scheduled_time_that_fell_during_the_run_is_skipped_and_the_next_one_runs(
    tmp_path: Path,
) -> None:
    user, slow = minute_space(tmp_path)
    assert run_exec(user, "minutely").returncode == 0  # 3 s
    slow.unlink()
    clock = a_minute_during_the_last_run(user)
    refired = run_exec(user, "minutely", env=clock)  # as systemd starts it, as soon as the run ended
    assert refired.returncode == 75, refired.stderr
    assert "fell while the previous run was still running" in refired.stderr
    again = run_exec(user, "minutely", "--trigger", "timer", env=clock)
    assert again.returncode == 75  # still that minute's: the skip did not count as a run
    ended = _epoch(log_records(user)[0]["end"])
    next_minute = zone_with_a_minute_at(int(ended) + 1)  # a minute began after the slow run ended
    time.sleep(max(0.0, int(ended) + 1.1 - time.time()))
    assert run_exec(user, "minutely", "--trigger", "timer", env=next_minute).returncode == 0
    assert run_exec(user, "minutely", "--trigger", "manual", env=clock).returncode == 0  # asked for
    records = log_records(user)
    assert [r["status"] for r in records] == ["success", "skipped", "skipped", "success", "success"]
    assert "(overlap: skip)" in records[1]["error"] and records[1]["exit_code"] == 75


def test_with_queue_the_time_that_fell_during_the_run_runs_right_after(tmp_path: Path) -> None:
    user, slow = minute_space(tmp_path, overlap="queue")
    assert run_exec(user, "minutely").returncode == 0
    slow.unlink()
    assert run_exec(user, "minutely", env=a_minute_during_the_last_run(user)).returncode == 0
    assert [r["status"] for r in log_records(user)] == ["success", "success"]


def test_a_stale_run_request_does_not_label_a_later_timer_run_manual(tmp_path: Path) -> None:
    user = make_space(tmp_path, [script_job("Asked", "a.sh")], scripts={"a.sh": "#!/bin/sh\n"})
    space = UserSpace(user)
    space.request_manual_run("asked")
    old = time.time() - 120  # left by a start that did not happen
    os.utime(space.run_request_file("asked"), (old, old))
    assert run_exec(user, "asked").returncode == 0
    assert not space.run_request_file("asked").exists()
    space.request_manual_run("asked")
    assert run_exec(user, "asked").returncode == 0
    assert [r["trigger"] for r in log_records(user)] == ["timer", "manual"]
