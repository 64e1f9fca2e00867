"""Seeing the fleet against a real etcd cluster: `fleet status`, the heartbeat apply writes, its errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cronsync.core.fleet import claim_key, host_key
from tests.support.cli import cronsync
from tests.support.etcd import EtcdCluster, free_ports, get_value, put_value
from tests.support.fleet import SHARED_JOB, Fleet, claim_value, write_fleet
from tests.support.userspaces import write_jobs

ONE = SHARED_JOB
NAS_ONLY = {**ONE, "name": "Scrub", "cron": "0 3 * * *", "hosts": ["nas"], "run_on": "each"}
EVERYWHERE = {
    "name": "Tidy",
    "cron": "0 0 * * 0",
    "action": "script",
    "payload": {"path": "scripts/clean_tmp.py"},
}
JOBS = [ONE, NAS_ONLY, EVERYWHERE]


def status_json(user_dir: Path, **kwargs: Any) -> dict[str, Any]:
    result = cronsync("fleet", "status", "--json", user_dir=user_dir, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_without_a_fleet_it_says_how_to_configure_one(user_dir: Path) -> None:
    for args in (["fleet", "status"], ["history", "--fleet"]):
        result = cronsync(*args, user_dir=user_dir)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert 'no fleet is configured: settings.json has no "fleet"' in result.stderr
        assert '"fleet": {"etcd": ["http://' in result.stderr
    as_json = cronsync("fleet", "status", "--json", user_dir=user_dir)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["ok"] is False


def test_unreachable_etcd_is_a_clear_error_naming_the_endpoints(user_dir: Path) -> None:
    ports = free_ports(2)
    endpoints = [f"http://127.0.0.1:{port}" for port in ports]
    write_fleet(user_dir, {"etcd": endpoints, "host": "nas", "timeout": "1s"})
    write_jobs(user_dir, JOBS)
    for args in (["fleet", "status"], ["history", "--fleet"]):
        started = time.monotonic()
        result = cronsync(*args, user_dir=user_dir)
        assert time.monotonic() - started < 20
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and "bug" not in result.stderr
        assert result.stderr.startswith("error: etcd unreachable"), result.stderr
        for endpoint in endpoints:
            assert endpoint in result.stderr
        assert "fleet.etcd" in result.stderr
    as_json = cronsync("fleet", "status", "--json", user_dir=user_dir)
    payload = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and payload["ok"] is False
    assert endpoints[0] in payload["errors"][0]["message"]


def test_fleet_status_shows_hosts_digests_and_claimed_runs(fleet: Fleet) -> None:
    nas = fleet.add("nas", JOBS)
    laptop = fleet.add("laptop", JOBS)
    nas_report = nas.apply()
    laptop.apply()
    # hosts targeting: the nas-only job is installed on nas alone
    assert "scrub" in {job["id"] for job in nas_report["jobs"]}
    assert not (laptop.manager.unit_dir / "cronsync-scrub.timer").exists()

    url = fleet.cluster.endpoints[0]
    beat = json.loads(get_value(url, host_key("/cronsync", "nas")) or b"{}")
    import hashlib

    digest = hashlib.sha256(nas.jobs_file.read_bytes()).hexdigest()
    assert beat["host"] == "nas" and beat["config_digest"] == digest
    assert beat["settings_digest"] == hashlib.sha256(nas.settings_file.read_bytes()).hexdigest()
    assert abs(beat["last_seen"] - time.time()) < 60 and beat["version"]

    slots = [f"2026-12-02T09:{minute:02d}:00Z" for minute in range(12)]
    for index, slot in enumerate(slots):
        host = "nas" if index % 3 else "laptop"
        put_value(url, claim_key("/cronsync", "backup", slot), claim_value("backup", slot, host))
    put_value(url, claim_key("/cronsync", "backup", "2026-12-02T09:12:00Z"), b"not json")

    payload = status_json(nas.user_dir, env=nas.env)
    assert set(payload) == {"ok", "hosts", "jobs"} and payload["ok"] is True
    assert [row["host"] for row in payload["hosts"]] == ["laptop", "nas"]
    for row in payload["hosts"]:
        assert set(row) == {"host", "last_seen", "config_digest", "current"}
        assert row["current"] is True and row["config_digest"] == digest
        assert row["last_seen"].endswith("Z")
    jobs = {job["id"]: job for job in payload["jobs"]}
    assert set(jobs) == {"backup", "scrub", "tidy"}  # every job of jobs.json, this host's or not
    backup = jobs["backup"]
    assert set(backup) == {"id", "name", "hosts", "run_on", "last_runs", "next_run"}
    assert backup["hosts"] == ["nas", "laptop"] and backup["run_on"] == "one"
    assert [run["slot"] for run in backup["last_runs"]] == slots[2:]  # the last 10, oldest first
    assert backup["last_runs"][1] == {"slot": slots[3], "host": "laptop", "status": "success"}
    next_run = backup["next_run"]
    assert next_run.endswith(":00Z") and next_run > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert jobs["tidy"]["hosts"] is None and jobs["tidy"]["last_runs"] == []
    assert jobs["scrub"]["hosts"] == ["nas"] and jobs["scrub"]["run_on"] == "each"

    text = nas.cronsync("fleet", "status")
    assert text.returncode == 0, text.stderr
    assert "laptop" in text.stdout and "DIFFERENT" not in text.stdout
    assert f"{slots[-1]}  nas  success" in text.stdout

    # laptop applies another jobs.json: nas sees it is not current, and says so
    laptop.write_jobs([*JOBS, {**EVERYWHERE, "name": "Extra"}])
    laptop.apply()
    payload = status_json(nas.user_dir, env=nas.env)
    current = {row["host"]: row["current"] for row in payload["hosts"]}
    assert current == {"nas": True, "laptop": False}
    text = nas.cronsync("fleet", "status")
    assert "laptop" in text.stdout and "DIFFERENT jobs.json" in text.stdout
    assert "warning: laptop applied another jobs.json" in text.stdout


def test_apply_with_etcd_unreachable_warns_and_installs(fleet: Fleet) -> None:
    nas = fleet.add("nas", JOBS, proxied=True)
    nas.set_fleet(timeout="1s")
    nas.cut()
    result = nas.cronsync("apply", "--backend", "systemd")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: fleet: this host's heartbeat was not written to etcd (etcd unreachable" in result.stderr
    assert nas.proxies[0].url in result.stderr
    assert (nas.manager.unit_dir / "cronsync-backup.timer").exists()
    assert nas.manager.show("cronsync-backup.timer", "ActiveState")["ActiveState"] == "active"
    nas.restore()
    report = nas.apply()
    assert not [w for w in report["warnings"] if "heartbeat" in w]
    assert get_value(fleet.cluster.endpoints[0], host_key("/cronsync", "nas")) is not None


def test_fleet_status_before_any_host_applied(etcd_cluster: EtcdCluster, user_dir: Path) -> None:
    write_fleet(user_dir, {"etcd": etcd_cluster.endpoints, "host": "nas", "prefix": "/other"})
    write_jobs(user_dir, JOBS)
    payload = status_json(user_dir)
    assert payload["hosts"] == []  # nobody applied under /other yet
    assert [job["last_runs"] for job in payload["jobs"]] == [[], [], []]
    text = cronsync("fleet", "status", user_dir=user_dir)
    assert text.returncode == 0, text.stderr
    assert "none has applied yet" in text.stdout and "no claimed runs yet" in text.stdout
