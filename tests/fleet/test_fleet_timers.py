"""`run_on: "one"` with real timers: several hosts, each a real systemd user manager, fire the same job
at the same times, and exactly one of them runs each scheduled time (slot), through a preferred host
going down and coming back, the etcd leader killed mid-run, and a host cut off from etcd."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from cronsync.core.fleet import claims_prefix, running_key
from tests.support.etcd import EtcdCluster, first_answering, get_value, range_prefix
from tests.support.fleet import Fleet, Host
from tests.support.harness import wait_for

NAP = '#!/bin/sh\nsleep "${NAP:-0}"\necho ran\n'
RAN = ("success", "failure", "timeout")


def shared_job(cron: str, hosts: list[str], nap: float = 0) -> dict[str, Any]:
    payload = {"path": "scripts/nap.sh", "env": {"NAP": str(nap)}}
    return {
        "name": "Digest",
        "cron": cron,
        "action": "script",
        "payload": payload,
        "hosts": hosts,
        "run_on": "one",
    }


def start(hosts_of: Fleet, names: list[str], job: dict[str, Any], **options: Any) -> list[Host]:
    """Hosts `names` with this one job, its script in place, applied (their timers running)."""
    hosts = hosts_of.add_all(names, [job], **options)
    for host in hosts:
        script = host.user_dir / "scripts" / "nap.sh"
        script.write_text(NAP)
        script.chmod(0o755)
        host.apply()
    return hosts


def claims(cluster: EtcdCluster) -> dict[str, dict[str, Any]]:
    """Each claimed slot of the Digest job: its claim, as etcd holds it."""
    deadline = time.monotonic() + 30
    while True:  # a member without a leader (an election going on) answers 503: ask again
        live = [m.client_url for m in cluster.members if m.running]
        try:
            found = range_prefix(first_answering(live), claims_prefix("/cronsync", "digest"))
            break
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    return {key.rsplit("/", 1)[1]: json.loads(value) for key, value in found}


def finished(cluster: EtcdCluster) -> dict[str, dict[str, Any]]:
    return {slot: claim for slot, claim in claims(cluster).items() if claim["status"] != "running"}


def runs_by_slot(hosts: list[Host]) -> dict[str, list[tuple[str, str]]]:
    """Every host's log records of the job, by slot: (host, status)."""
    slots: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for host in hosts:
        for record in host.records():
            if record.get("job_id") == "digest" and "slot" in record:
                slots[record["slot"]].append((host.name, record["status"]))
    return dict(slots)


def assert_once_per_slot(hosts: list[Host], cluster: EtcdCluster) -> dict[str, str]:
    """Each finished slot ran on exactly one host (the one its claim names); the host of each slot."""
    by_slot = runs_by_slot(hosts)
    winners = {}
    for slot, claim in finished(cluster).items():
        ran = [host for host, status in by_slot.get(slot, []) if status in RAN]
        assert ran == [claim["host"]], (slot, by_slot.get(slot), claim)
        winners[slot] = claim["host"]
    for slot, seen in by_slot.items():
        assert sum(status in RAN for _, status in seen) <= 1, (slot, seen)
    return winners


def stop_timers(hosts: list[Host]) -> None:
    for host in hosts:
        host.manager.systemctl("stop", "cronsync-digest.timer", check=False)


def test_three_hosts_run_each_slot_exactly_once_and_the_first_host_wins(
    fleet: Fleet, etcd_cluster: EtcdCluster
) -> None:
    hosts = start(
        fleet,
        ["nas", "laptop", "vps"],
        shared_job("*/3 * * * * *", ["nas", "laptop", "vps"]),
        fleet={"failover_delay": "2s"},
    )
    assert wait_for(lambda: len(finished(etcd_cluster)) >= 4, 90), claims(etcd_cluster)
    stopped = time.time()
    stop_timers(hosts)
    time.sleep(5)  # the last runs' skips (vps waits 4 s)
    winners = assert_once_per_slot(hosts, etcd_cluster)
    # while all three fired, the first of hosts won every slot (the last ones: the others' timers went on)
    before = {
        slot: host for slot, host in winners.items() if claims(etcd_cluster)[slot]["claimed_at"] < stopped
    }
    assert len(before) >= 4 and set(before.values()) == {"nas"}, winners
    skipped = [h for seen in runs_by_slot(hosts).values() for h, status in seen if status == "skipped"]
    assert {"laptop", "vps"} <= set(skipped)


def test_the_next_host_takes_over_while_the_preferred_one_is_down_and_gives_back_when_it_returns(
    fleet: Fleet, etcd_cluster: EtcdCluster
) -> None:
    nas, laptop = start(
        fleet,
        ["nas", "laptop"],
        shared_job("*/4 * * * * *", ["nas", "laptop"]),
        fleet={"failover_delay": "1s"},
    )
    assert wait_for(lambda: any(c["host"] == "nas" for c in finished(etcd_cluster).values()), 60)
    nas.manager.tree.stop()  # the machine goes down: its manager and timers with it
    down_at = time.time()

    def taken_over() -> bool:
        return (
            sum(c["host"] == "laptop" and c["claimed_at"] > down_at for c in finished(etcd_cluster).values())
            >= 2
        )

    assert wait_for(taken_over, 60), claims(etcd_cluster)
    nas.manager.restart()  # back up: its timers start with the manager
    back_at = time.time()

    def given_back() -> bool:
        return any(c["host"] == "nas" and c["claimed_at"] > back_at for c in finished(etcd_cluster).values())

    assert wait_for(given_back, 60), claims(etcd_cluster)
    stop_timers([nas, laptop])
    time.sleep(2)
    assert_once_per_slot([nas, laptop], etcd_cluster)


def test_the_etcd_leader_killed_mid_run_still_leaves_one_run_per_slot(
    fleet: Fleet, etcd_cluster: EtcdCluster
) -> None:
    hosts = start(
        fleet,
        ["nas", "laptop"],
        shared_job("*/5 * * * * *", ["nas", "laptop"], nap=3),
        fleet={"failover_delay": "1s"},
    )
    running = running_key("/cronsync", "digest")
    assert wait_for(lambda: get_value(first_answering(etcd_cluster.endpoints), running) is not None, 60)
    before = set(claims(etcd_cluster))
    leader = etcd_cluster.wait_leader()
    etcd_cluster.kill(leader)
    assert wait_for(lambda: len(finished(etcd_cluster)) >= len(before) + 2, 90), claims(etcd_cluster)
    stop_timers(hosts)
    time.sleep(5)
    winners = assert_once_per_slot(hosts, etcd_cluster)
    interrupted = finished(etcd_cluster)[max(before)]
    assert interrupted["status"] == "success", interrupted  # the run that was going when the leader died
    assert len(winners) >= 3


def test_a_host_cut_off_from_etcd_skips_while_the_others_run_and_with_run_it_runs_and_says_so(
    fleet: Fleet, etcd_cluster: EtcdCluster
) -> None:
    job = shared_job("*/3 * * * * *", ["island", "nas"])
    island = start(fleet, ["island"], job, proxied=True, fleet={"failover_delay": "1s", "timeout": "1s"})[0]
    nas = start(fleet, ["nas"], job, fleet={"failover_delay": "1s"})[0]
    island.cut()
    cut_at = time.time()

    def nas_ran_twice() -> bool:
        return (
            sum(c["host"] == "nas" and c["claimed_at"] > cut_at + 1 for c in finished(etcd_cluster).values())
            >= 2
        )

    assert wait_for(nas_ran_twice, 60), claims(etcd_cluster)
    unreachable = [r for r in island.records() if r.get("fleet_error") and r["start"] > _iso(cut_at + 1)]
    assert unreachable and all(r["status"] == "skipped" for r in unreachable), unreachable
    assert "etcd unreachable" in unreachable[-1]["error"]
    island.set_fleet(when_unreachable="run")
    island.apply()
    told_at = time.time()

    def island_ran() -> bool:
        return any(
            r.get("status") == "success"
            and "ran without a claim" in r.get("fleet_error", "")
            and r["start"] > _iso(told_at)
            for r in island.records()
        )

    assert wait_for(island_ran, 60), island.records()[-3:]
    stop_timers([island, nas])


def _iso(epoch: float) -> str:
    """An epoch as the log records write their start (local time, which the tests run in UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(epoch))


def test_a_job_for_some_hosts_is_installed_on_those_only(fleet: Fleet) -> None:
    job = {
        "name": "Scrub",
        "cron": "0 3 * * *",
        "action": "script",
        "payload": {"path": "scripts/nap.sh"},
        "hosts": ["nas"],
    }
    everywhere = {**job, "name": "Tidy", "hosts": None}
    del everywhere["hosts"]
    nas, laptop = fleet.add_all(["nas", "laptop"], [job, everywhere])
    for host in (nas, laptop):
        (host.user_dir / "scripts" / "nap.sh").write_text(NAP)
        (host.user_dir / "scripts" / "nap.sh").chmod(0o755)
        host.apply()
    assert (nas.manager.unit_dir / "cronsync-scrub.timer").exists()
    assert not (laptop.manager.unit_dir / "cronsync-scrub.timer").exists()
    assert (laptop.manager.unit_dir / "cronsync-tidy.timer").exists()
    listed = json.loads(laptop.cronsync("status", "--json").stdout)
    assert [row["id"] for row in listed["jobs"]] == ["tidy"]
