"""`cronsync exec` of a `run_on: "one"` job against a real etcd cluster, driven directly (`--trigger
timer`), several user spaces standing for several hosts: who wins a slot, what the others log, etcd
unreachable, a host frozen past its lease, and jobs that are not for this host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from cronsync.core.fleet import claim_key, running_key
from tests.support.cli import cronsync
from tests.support.etcd import EtcdCluster, free_ports, get_value, put_value
from tests.support.exectools import exec_argv, log_records, make_space, run_exec
from tests.support.harness import is_gone, wait_for

# A schedule whose latest time stays the same while a test runs: every run of it claims one slot.
YEARLY = "0 0 1 1 *"
NAP = '#!/bin/sh\necho $$ > "$CRONSYNC_USER_DIR/job.pid"\nsleep "${NAP:-0}"\necho done\n'


def fleet_job(**extra: Any) -> dict[str, Any]:
    job = {"name": "Backup", "cron": YEARLY, "action": "script", "payload": {"path": "scripts/nap.sh"}}
    job.update(run_on="one", **extra)
    return job


def host_space(root: Path, host: str, endpoints: list[str], job: dict[str, Any], **fleet: Any) -> Path:
    settings = {"fleet": {"etcd": endpoints, "host": host, "failover_delay": "1s", **fleet}}
    return make_space(root / host, [job], settings, {"nap.sh": NAP})


def slot_of_now() -> str:
    return f"{time.gmtime().tm_year}-01-01T00:00:00Z"  # YEARLY's latest time, in UTC: the test is in UTC


def claim(cluster: EtcdCluster, slot: str) -> dict[str, Any] | None:
    value = get_value(cluster.endpoints[0], claim_key("/cronsync", "backup", slot))
    return None if value is None else json.loads(value)


def long_job_on_two_hosts(cluster: EtcdCluster, root: Path) -> tuple[Path, Path]:
    """nas and laptop (in that order of preference) sharing a job that runs a minute, on a 2 s lease."""
    job = fleet_job(hosts=["nas", "laptop"], payload={"path": "scripts/nap.sh", "env": {"NAP": "60"}})
    nas = host_space(root, "nas", cluster.endpoints, job, lease_ttl="2s")
    return nas, host_space(root, "laptop", cluster.endpoints, job, lease_ttl="2s")


def test_one_host_wins_the_slot_and_the_others_log_a_skip_naming_it(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    job = fleet_job(hosts=["nas", "laptop", "vps"])
    spaces = {h: host_space(tmp_path, h, etcd_cluster.endpoints, job) for h in ("vps", "laptop", "nas")}
    runs = {h: subprocess.Popen(exec_argv(u, "backup", "--trigger", "timer")) for h, u in spaces.items()}
    codes = {host: run.wait(timeout=60) for host, run in runs.items()}
    assert codes == {"nas": 0, "laptop": 75, "vps": 75}  # the first of hosts claims at once
    slot = slot_of_now()
    (won,) = log_records(spaces["nas"])
    assert won["status"] == "success" and won["slot"] == slot and won["ran_on"] == "nas"
    for host in ("laptop", "vps"):
        (skipped,) = log_records(spaces[host])
        assert skipped["status"] == "skipped" and skipped["ran_on"] == "nas" and skipped["slot"] == slot
        assert "nas claimed the run scheduled for" in skipped["error"]
    recorded = claim(etcd_cluster, slot)
    assert recorded is not None and recorded["host"] == "nas" and recorded["status"] == "success"
    assert recorded["exit_code"] == 0 and recorded["run_id"] == won["run_id"]
    again = run_exec(spaces["nas"], "backup", "--trigger", "timer")  # a timer re-fired for the same slot
    assert again.returncode == 75 and log_records(spaces["nas"])[-1]["ran_on"] == "nas"
    manual = run_exec(spaces["vps"], "backup", "--trigger", "manual")  # `cronsync run`: never claimed
    assert manual.returncode == 0 and "slot" not in log_records(spaces["vps"])[-1]


def test_a_host_further_down_waits_then_runs_a_slot_nobody_claimed(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    job = fleet_job(hosts=["nas", "laptop"])
    laptop = host_space(tmp_path, "laptop", etcd_cluster.endpoints, job)
    started = time.monotonic()
    result = run_exec(laptop, "backup", "--trigger", "timer")  # nas is down: nobody claims before it
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1.0  # its failover delay: one place down the list
    (record,) = log_records(laptop)
    assert record["ran_on"] == "laptop" and record["failover_wait"] == 1.0
    recorded = claim(etcd_cluster, slot_of_now())
    assert recorded is not None and recorded["host"] == "laptop"


def test_etcd_unreachable_skips_by_default_and_runs_when_told(tmp_path: Path) -> None:
    nowhere = [f"http://127.0.0.1:{port}" for port in free_ports(2)]
    skip = host_space(tmp_path, "nas", nowhere, fleet_job(), timeout="1s")
    result = run_exec(skip, "backup", "--trigger", "timer")
    assert result.returncode == 75 and "Traceback" not in result.stderr
    (record,) = log_records(skip)
    assert record["status"] == "skipped" and not (skip / "job.pid").exists()
    assert "etcd unreachable" in record["error"] and all(url in record["error"] for url in nowhere)
    assert "when_unreachable: skip" in record["error"]
    run = host_space(tmp_path, "vps", nowhere, fleet_job(), timeout="1s", when_unreachable="run")
    result = run_exec(run, "backup", "--trigger", "timer")
    assert result.returncode == 0, result.stderr
    (record,) = log_records(run)
    assert record["status"] == "success" and "ran without a claim" in record["fleet_error"]
    assert "ran without a claim" in result.stderr


def test_a_host_frozen_past_its_lease_kills_its_job_on_resume_and_the_slot_never_runs_twice(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    nas, laptop = long_job_on_two_hosts(etcd_cluster, tmp_path)
    running = running_key("/cronsync", "backup")
    frozen = subprocess.Popen(exec_argv(nas, "backup", "--trigger", "timer"), start_new_session=True)
    try:
        assert wait_for(lambda: get_value(etcd_cluster.endpoints[0], running) is not None, 30)
        job_pid = int((nas / "job.pid").read_text())
        for group in (frozen.pid, os.getpgid(job_pid)):  # the whole host: exec and its job
            os.killpg(group, signal.SIGSTOP)
        assert wait_for(lambda: get_value(etcd_cluster.endpoints[0], running) is None, 30)  # lease lapsed
        other = run_exec(laptop, "backup", "--trigger", "timer")  # the same slot, on another host
        assert other.returncode == 75 and log_records(laptop)[-1]["ran_on"] == "nas"
        for group in (os.getpgid(job_pid), frozen.pid):
            os.killpg(group, signal.SIGCONT)
        code = frozen.wait(timeout=60)
    finally:
        if frozen.poll() is None:
            os.killpg(frozen.pid, signal.SIGKILL)
            frozen.wait()
    assert code != 0
    (record,) = log_records(nas)
    assert record["status"] == "failure" and "could not renew its fleet lease" in record["error"]
    assert is_gone(job_pid)
    recorded = claim(etcd_cluster, slot_of_now())
    assert recorded is not None and recorded["host"] == "nas" and recorded["status"] == "killed"


def test_a_claim_forgets_the_job_s_claims_older_than_the_history_kept(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    url = etcd_cluster.endpoints[0]
    year = time.gmtime().tm_year
    old, recent = "2000-01-01T00:00:00Z", f"{year - 1}-12-22T00:00:00Z"  # 35 days are kept; 10 days ago stays
    other_job = claim_key("/cronsync", "another", old)
    for key in (claim_key("/cronsync", "backup", old), claim_key("/cronsync", "backup", recent), other_job):
        put_value(url, key, b'{"host": "vps", "status": "success"}')
    nas = host_space(tmp_path, "nas", etcd_cluster.endpoints, fleet_job())
    assert run_exec(nas, "backup", "--trigger", "timer").returncode == 0
    assert claim(etcd_cluster, old) is None
    assert claim(etcd_cluster, recent) is not None and claim(etcd_cluster, slot_of_now()) is not None
    assert get_value(url, other_job) is not None  # another job's history is its own


def test_a_host_that_dies_mid_run_leaves_its_slot_claimed_and_seen_as_interrupted(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    nas, laptop = long_job_on_two_hosts(etcd_cluster, tmp_path)
    running = running_key("/cronsync", "backup")

    def last_run() -> dict[str, Any]:
        shown = cronsync("fleet", "status", "--json", user_dir=laptop)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        (backup,) = json.loads(shown.stdout)["jobs"]
        run: dict[str, Any] = backup["last_runs"][-1]
        return run

    dying = subprocess.Popen(exec_argv(nas, "backup", "--trigger", "timer"), start_new_session=True)
    try:
        assert wait_for(lambda: get_value(etcd_cluster.endpoints[0], running) is not None, 30)
        assert last_run() == {"slot": slot_of_now(), "host": "nas", "status": "running"}
        job_pid = int((nas / "job.pid").read_text())
        for group in (dying.pid, os.getpgid(job_pid)):  # the machine goes: exec first, so it writes nothing
            os.killpg(group, signal.SIGKILL)
    finally:
        dying.wait()
    assert wait_for(lambda: get_value(etcd_cluster.endpoints[0], running) is None, 30)  # lease lapsed
    recorded = claim(etcd_cluster, slot_of_now())
    assert recorded is not None and recorded["status"] == "running"  # nobody wrote its outcome
    assert wait_for(lambda: last_run()["status"] == "interrupted", 30)
    history = cronsync("history", "--fleet", "--json", user_dir=laptop)
    assert history.returncode == 0, history.stdout + history.stderr
    (run,) = [record for record in json.loads(history.stdout) if record.get("slot") == slot_of_now()]
    assert run["host"] == "nas" and run["status"] == "interrupted"
    other = run_exec(laptop, "backup", "--trigger", "timer")  # the slot stays claimed: it never runs twice
    assert other.returncode == 75 and log_records(laptop)[-1]["ran_on"] == "nas"
