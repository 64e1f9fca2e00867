"""`history --fleet` (this host's log merged with the runs other hosts claimed in etcd) and doctor's fleet
checks (etcd reachable, clock skew against etcd and the other hosts, config drift), on a real cluster."""

from __future__ import annotations

import hashlib
import json
import re
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

from cronsync.core.fleet import claim_key, host_key
from tests.support.cli import cronsync
from tests.support.etcd import EtcdCluster, free_ports, put_value
from tests.support.fleet import SHARED_JOB, claim_value, write_fleet
from tests.support.httpsink import HttpSink, Request
from tests.support.userspaces import write_jobs

ONE = SHARED_JOB
EACH = {"name": "Tidy", "cron": "0 0 * * 0", "action": "script", "payload": {"path": "scripts/clean_tmp.py"}}


def configure(user_dir: Path, endpoints: list[str], **fleet: Any) -> None:
    write_fleet(user_dir, {"etcd": endpoints, "host": "nas", **fleet})
    write_jobs(user_dir, [ONE, EACH])


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(epoch))


def slot(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(epoch))


def claim(job: str, at: float, host: str, status: str = "success") -> bytes:
    return claim_value(job, slot(at), host, status, at)


def log(user_dir: Path, *records: dict[str, Any]) -> None:
    logs = user_dir / "logs"
    logs.mkdir(exist_ok=True, mode=0o700)
    with open(logs / "scheduler.log", "a") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def test_history_fleet_merges_this_log_with_claimed_runs(etcd_cluster: EtcdCluster, user_dir: Path) -> None:
    configure(user_dir, etcd_cluster.endpoints)
    url = etcd_cluster.endpoints[1]
    base = time.time() - 3600
    # A real run of the each-job on this host, in its own log
    ran = cronsync("exec", "tidy", user_dir=user_dir)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # minute 0: nas ran backup (its log has it, with the slot); minute 1: laptop ran it (nas skipped it);
    # minute 2: laptop's run failed; minute 3: nas's claim, but nas's log lost the record (rotated away)
    log(
        user_dir,
        {"job_id": "backup", "job_name": "Backup", "trigger": "timer", "status": "success",
         "start": iso(base), "duration": 0.5, "exit_code": 0, "slot": slot(base)},
        {"job_id": "backup", "job_name": "Backup", "trigger": "timer", "status": "skipped",
         "start": iso(base + 60), "duration": 0.01, "exit_code": 75, "ran_on": "laptop"},
    )  # fmt: skip
    put_value(url, claim_key("/cronsync", "backup", slot(base)), claim("backup", base, "nas"))
    put_value(url, claim_key("/cronsync", "backup", slot(base + 60)), claim("backup", base + 60, "laptop"))
    failed = claim("backup", base + 120, "laptop", "failure")
    put_value(url, claim_key("/cronsync", "backup", slot(base + 120)), failed)
    put_value(url, claim_key("/cronsync", "backup", slot(base + 180)), claim("backup", base + 180, "nas"))

    result = cronsync("history", "--fleet", "--json", user_dir=user_dir)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    seen = [(r["job_id"], r.get("slot"), r["host"], r["status"]) for r in records]
    assert seen == [
        ("backup", slot(base), "nas", "success"),  # once: this host's own record
        ("backup", slot(base + 60), "laptop", "success"),  # laptop's claim, not nas's skip
        ("backup", slot(base + 120), "laptop", "failure"),
        ("backup", slot(base + 180), "nas", "success"),  # only etcd remembers it
        ("tidy", None, "nas", "success"),
    ]
    assert records[0].get("source") is None and records[1]["source"] == "etcd"
    assert records[2]["exit_code"] == 1

    text = cronsync("history", "--fleet", user_dir=user_dir)
    assert text.returncode == 0, text.stderr
    header, *lines = text.stdout.splitlines()
    assert header.rstrip().endswith("HOST")
    assert len(lines) == 5 and lines[1].rstrip().endswith("laptop") and lines[-1].rstrip().endswith("nas")

    only = json.loads(cronsync("history", "backup", "--fleet", "-n", "2", "--json", user_dir=user_dir).stdout)
    assert [(r["slot"], r["host"]) for r in only] == [(slot(base + 120), "laptop"), (slot(base + 180), "nas")]
    local = json.loads(cronsync("history", "--json", user_dir=user_dir).stdout)
    ran_here = [r for r in local if r["status"] != "missed"]  # this log alone: what nas did not run
    assert len(ran_here) == 3 and all("host" not in r for r in local)
    assert not [r for r in records if r["status"] == "missed"]  # whether a run_on "one" time ran: etcd


def doctor_findings(user_dir: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    result = cronsync("doctor", "--json", user_dir=user_dir)
    assert "Traceback" not in result.stderr, result.stderr
    payload = json.loads(result.stdout)
    return result.returncode, {f["check"]: f for f in payload["findings"]}


def test_doctor_checks_etcd_other_hosts_clocks_and_drift(etcd_cluster: EtcdCluster, user_dir: Path) -> None:
    configure(user_dir, etcd_cluster.endpoints)
    url = etcd_cluster.endpoints[0]
    digest = hashlib.sha256((user_dir / "config" / "jobs.json").read_bytes()).hexdigest()
    _, findings = doctor_findings(user_dir)
    assert findings["etcd"]["level"] == "ok" and etcd_cluster.endpoints[0] in findings["etcd"]["message"]
    assert findings["clock"]["level"] == "ok"
    mine = findings["fleet config"]
    assert mine["level"] == "warning" and "no heartbeat" in mine["message"] and "apply" in mine["fix"]
    assert "fleet clocks" not in findings

    def beat(host: str, config_digest: str, last_seen: float) -> bytes:
        return json.dumps({"host": host, "last_seen": last_seen, "config_digest": config_digest}).encode()

    put_value(url, host_key("/cronsync", "nas"), beat("nas", digest, time.time()))
    put_value(url, host_key("/cronsync", "vps"), beat("vps", digest, time.time() - 86400))  # old, not fast
    _, findings = doctor_findings(user_dir)
    assert findings["fleet config"]["level"] == "ok" and "2 host(s)" in findings["fleet config"]["message"]
    assert "fleet clocks" not in findings

    put_value(url, host_key("/cronsync", "laptop"), beat("laptop", "0" * 64, time.time() + 600))
    _, findings = doctor_findings(user_dir)
    drift = findings["fleet config"]
    assert drift["level"] == "warning" and "laptop" in drift["message"] and "vps" not in drift["message"]
    assert "same jobs.json" in drift["fix"] and "apply" in drift["fix"]
    clocks = findings["fleet clocks"]
    assert clocks["level"] == "warning" and "laptop (" in clocks["message"] and "ahead" in clocks["message"]
    assert "timedatectl" in clocks["fix"]


def test_doctor_says_etcd_is_unreachable_with_the_fix(user_dir: Path) -> None:
    endpoints = [f"http://127.0.0.1:{port}" for port in free_ports(2)]
    configure(user_dir, endpoints, timeout="1s")
    code, findings = doctor_findings(user_dir)
    assert code == 1
    assert findings["etcd"]["level"] == "error"
    assert all(e in findings["etcd"]["message"] for e in endpoints)
    assert "fleet.etcd" in findings["etcd"]["fix"]


def test_doctor_without_a_fleet_checks_no_etcd(user_dir: Path) -> None:
    _, findings = doctor_findings(user_dir)
    assert not {"etcd", "clock", "fleet clocks", "fleet config"} & set(findings)


def test_doctor_measures_this_clock_against_etcds(user_dir: Path) -> None:
    """An etcd (a real HTTP server speaking its gateway) whose clock is an hour ahead of this one."""

    def answer(request: Request) -> tuple[int, bytes, dict[str, str]]:
        body = {"version": "3.4.23"} if request.path == "/v3/maintenance/status" else {"kvs": []}
        return 200, json.dumps(body).encode(), {"Date": formatdate(time.time() + 3600, usegmt=True)}

    with HttpSink() as etcd:
        etcd.handler = answer
        configure(user_dir, [etcd.url])
        _, findings = doctor_findings(user_dir)
    clock = findings["clock"]
    assert clock["level"] == "warning", clock
    assert "behind etcd's" in clock["message"]
    # the Date is to the second, and a loaded machine takes a moment to answer: an hour, give or take 2 s
    seconds = int(re.search(r"this clock is (\d+)s behind", clock["message"]).group(1))  # type: ignore[union-attr]
    assert abs(seconds - 3600) <= 2, clock
    assert "timedatectl set-ntp true" in clock["fix"]


def test_what_exec_claims_is_what_the_fleet_sees(etcd_cluster: EtcdCluster, tmp_path: Path) -> None:
    """Two machines' `cronsync exec` of one run_on "one" time (as their timers run it): fleet status and
    history --fleet on either show the one run, by the host that won it."""
    import shutil

    from tests.support.cli import EXAMPLE

    spaces = {}
    for host in ("nas", "laptop"):
        space = tmp_path / host
        shutil.copytree(EXAMPLE, space, ignore=shutil.ignore_patterns("logs", "state", "__pycache__"))
        configure(space, etcd_cluster.endpoints, host=host)
        spaces[host] = space
    won = cronsync("exec", "backup", user_dir=spaces["nas"])
    lost = cronsync("exec", "backup", user_dir=spaces["laptop"])
    assert won.returncode == 0, won.stdout + won.stderr
    assert lost.returncode == 75, lost.stdout + lost.stderr

    for host, space in spaces.items():
        status = json.loads(cronsync("fleet", "status", "--json", user_dir=space).stdout)
        backup = next(job for job in status["jobs"] if job["id"] == "backup")
        assert [(run["host"], run["status"]) for run in backup["last_runs"]] == [("nas", "success")], host
        assert {"nas", "laptop"} <= {row["host"] for row in status["hosts"]}  # exec's heartbeats
        assert all(row["current"] for row in status["hosts"])
        history = json.loads(cronsync("history", "backup", "--fleet", "--json", user_dir=space).stdout)
        assert [(r["host"], r["status"]) for r in history] == [("nas", "success")], (host, history)
        assert history[0]["slot"] == backup["last_runs"][0]["slot"]
