"""The fleet harness itself: a real etcd cluster that elects a leader, survives losing it, and a proxy
that really cuts a host off; several user managers side by side."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.support.etcd import EtcdCluster, first_answering, gateway, get_value, put_value
from tests.support.fleet import Fleet
from tests.support.harness import is_gone
from tests.support.tcpproxy import TcpProxy


def test_the_cluster_elects_one_leader_and_replicates(etcd_cluster: EtcdCluster) -> None:
    leader = etcd_cluster.wait_leader()
    assert len(etcd_cluster.members) == 3
    assert all(m.status() is not None for m in etcd_cluster.members)
    follower = next(m for m in etcd_cluster.members if m is not leader)
    put_value(follower.client_url, "/t/a", b"one")
    assert all(get_value(url, "/t/a") == b"one" for url in etcd_cluster.endpoints)
    assert len(set(etcd_cluster.endpoints)) == 3
    assert all(url.startswith("http://127.0.0.1:") for url in etcd_cluster.endpoints)


def test_the_cluster_survives_its_leader_killed(etcd_cluster: EtcdCluster) -> None:
    old = etcd_cluster.wait_leader()
    put_value(old.client_url, "/t/before", b"kept")
    started = time.monotonic()
    etcd_cluster.kill(old)
    assert not old.running
    new = etcd_cluster.wait_leader(timeout=15, not_=old)
    assert new is not old
    assert time.monotonic() - started < 15
    put_value(new.client_url, "/t/after", b"written")
    assert get_value(new.client_url, "/t/before") == b"kept"

    etcd_cluster.restart(old)  # it rejoins from its data dir and catches up
    deadline = time.monotonic() + 15
    while get_value(old.client_url, "/t/after") != b"written" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert get_value(old.client_url, "/t/after") == b"written"


def test_a_frozen_leader_is_replaced_and_rejoins_when_thawed(etcd_cluster: EtcdCluster) -> None:
    old = etcd_cluster.wait_leader()
    etcd_cluster.freeze(old)
    with pytest.raises(OSError):
        gateway(old.client_url, "/v3/maintenance/status", timeout=0.5)  # it holds its port, says nothing
    new = etcd_cluster.wait_leader(timeout=15, not_=old)
    put_value(new.client_url, "/t/while-frozen", b"x")
    etcd_cluster.thaw(old)
    etcd_cluster.wait_ready(15)
    assert first_answering(etcd_cluster.endpoints)


def test_stop_ends_every_member_by_its_pid(tmp_path: Path) -> None:
    from tests.support.etcd import missing_for_etcd

    if missing_for_etcd():
        pytest.skip(str(missing_for_etcd()))
    cluster = EtcdCluster.start(tmp_path / "own")
    etcd_cluster_pids = [m.pid for m in cluster.members]
    cluster.freeze(cluster.members[1])  # even a stopped one
    cluster.stop()
    for pid in etcd_cluster_pids:
        assert pid is not None
        assert is_gone(pid)
    assert all(str(m.data_dir).startswith(str(tmp_path)) for m in cluster.members)


def test_the_proxy_forwards_cuts_stalls_and_restores(etcd_cluster: EtcdCluster) -> None:
    member = etcd_cluster.members[0]
    proxy = TcpProxy(member.client_port).start()
    try:
        put_value(proxy.url, "/t/via", b"proxy")
        assert get_value(member.client_url, "/t/via") == b"proxy"

        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)  # a kept-alive connection
        time.sleep(0.2)
        proxy.cut()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        held.settimeout(2)
        with pytest.raises(OSError):  # reset: the open connection is gone too
            held.sendall(b"POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            if not held.recv(100):
                raise ConnectionResetError("closed")
        held.close()
        assert get_value(member.client_url, "/t/via") == b"proxy"  # only this path is cut

        proxy.stall()
        started = time.monotonic()
        with pytest.raises(OSError):  # TimeoutError: the answer never comes
            gateway(proxy.url, "/v3/maintenance/status", timeout=0.5)
        assert time.monotonic() - started < 3

        proxy.restore()
        assert get_value(proxy.url, "/t/via") == b"proxy"
    finally:
        proxy.close()


def test_hosts_run_their_own_user_managers_side_by_side(fleet: Fleet) -> None:
    jobs: list[dict[str, object]] = [
        {"name": "tick", "cron": "* * * * *", "action": "script", "payload": {"path": "scripts/clean_tmp.py"}}
    ]
    nas = fleet.add("nas", jobs)
    laptop = fleet.add("laptop", jobs, proxied=True)
    assert nas.manager.runtime_dir != laptop.manager.runtime_dir
    assert nas.manager.pid != laptop.manager.pid
    for host in (nas, laptop):
        assert host.manager.systemctl("show", "--property=Version").returncode == 0
        assert host.settings()["fleet"]["host"] == host.name
        assert json.loads(host.jobs_file.read_text()) == jobs
        assert str(host.user_dir).startswith(str(host.home))
    assert nas.settings()["fleet"]["etcd"] == fleet.cluster.endpoints
    assert laptop.settings()["fleet"]["etcd"] == [p.url for p in laptop.proxies]
    put_value(laptop.settings()["fleet"]["etcd"][1], "/t/laptop", b"1")
    laptop.cut()
    with pytest.raises(OSError):
        gateway(laptop.settings()["fleet"]["etcd"][0], "/v3/maintenance/status", timeout=1)
    assert get_value(nas.settings()["fleet"]["etcd"][0], "/t/laptop") == b"1"
    # a unit one manager loads is not another's
    nas.manager.unit_dir.mkdir(parents=True, exist_ok=True)
    (nas.manager.unit_dir / "only-nas.service").write_text("[Service]\nType=oneshot\nExecStart=/bin/true\n")
    nas.manager.systemctl("daemon-reload")
    assert nas.manager.show("only-nas.service", "LoadState")["LoadState"] == "loaded"
    assert laptop.manager.show("only-nas.service", "LoadState")["LoadState"] == "not-found"
