"""A real etcd cluster (Debian's etcd-server) on free 127.0.0.1 ports, started and ended by the suite.

Each member is one `/usr/bin/etcd` process with its data dir under the test's folder; every process is
ended by its pid (`EtcdCluster.stop`). The election timing is tuned low, so a cluster starts and a new
leader is elected within a second or two, with pre-vote on so that a member frozen and resumed (SIGSTOP,
SIGCONT) does not unseat a healthy leader. The cluster is probed through etcd's own JSON gateway (the
standard library alone), so the harness does not depend on the client it is there to test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ETCD = "/usr/bin/etcd"
HEARTBEAT_MS = 50
ELECTION_MS = 500
# A loaded 2-core machine can take a while to start three Go processes and fsync their first WAL.
START_TIMEOUT = 60.0


def missing_for_etcd() -> str | None:
    """Why an etcd cluster cannot start here, or None."""
    if not os.path.exists(ETCD):
        return f"{ETCD} is missing (run ./install.sh --test-deps: Debian's etcd-server)"
    return None


def free_ports(count: int) -> list[int]:
    """count distinct ports nothing listens on now (the kernel's choice; bound together so none repeats)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def gateway(url: str, path: str, body: dict[str, Any] | None = None, timeout: float = 2.0) -> dict[str, Any]:
    """POST body (JSON) to etcd's gateway at url + path; its JSON answer (OSError when it does not answer)."""
    request = urllib.request.Request(
        url + path, data=json.dumps(body or {}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.loads(response.read() or b"{}")
        return answer


@dataclass
class Member:
    """One etcd process: its name, ports, data dir and log."""

    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    frozen: bool = False
    killed: bool = False  # by the test (kill): its exit is no failure of the cluster

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def status(self, timeout: float = 1.0) -> dict[str, Any] | None:
        """maintenance/status of this member (its id, the leader it knows), or None if it does not answer."""
        if not self.running or self.frozen:
            return None
        try:
            return gateway(self.client_url, "/v3/maintenance/status", timeout=timeout)
        except (OSError, ValueError):
            return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class EtcdCluster:
    """A cluster of etcd members on loopback; `stop()` ends every member by its pid."""

    members: list[Member]
    token: str
    extra_args: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, root: Path, size: int = 3, *, attempts: int = 3) -> EtcdCluster:
        """size members under root, started together, once one of them is the leader and all answer.
        A port taken between choosing and binding it (another suite on the machine) is tried again."""
        failure = ""
        for attempt in range(attempts):
            cluster = cls._configure(root / f"etcd-{attempt}", size)
            try:
                cluster._launch_all()
                cluster.wait_ready(START_TIMEOUT)
                return cluster
            except RuntimeError as exc:
                failure = str(exc)
                logs = "\n".join(m.log()[-2000:] for m in cluster.members)
                cluster.stop()
                if "address already in use" not in logs:
                    raise
        raise RuntimeError(f"etcd did not start in {attempts} attempts: {failure}")

    @classmethod
    def _configure(cls, root: Path, size: int) -> EtcdCluster:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        ports = free_ports(2 * size)
        members = [
            Member(
                name=f"m{i}",
                client_port=ports[2 * i],
                peer_port=ports[2 * i + 1],
                data_dir=root / f"m{i}.etcd",
                log_path=root / f"m{i}.log",
            )
            for i in range(size)
        ]
        return cls(members, token=f"cronsync-test-{uuid.uuid4().hex[:12]}")

    @property
    def endpoints(self) -> list[str]:
        """Every member's client URL (what settings.json's fleet.etcd lists)."""
        return [member.client_url for member in self.members]

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    def _argv(self, member: Member, state: str) -> list[str]:
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        return [
            ETCD,
            f"--name={member.name}",
            f"--data-dir={member.data_dir}",
            f"--listen-client-urls={member.client_url}",
            f"--advertise-client-urls={member.client_url}",
            f"--listen-peer-urls={member.peer_url}",
            f"--initial-advertise-peer-urls={member.peer_url}",
            f"--initial-cluster={initial}",
            f"--initial-cluster-state={state}",
            f"--initial-cluster-token={self.token}",
            f"--heartbeat-interval={HEARTBEAT_MS}",
            f"--election-timeout={ELECTION_MS}",
            "--pre-vote=true",
            "--logger=zap",
            "--log-outputs=stderr",
            "--log-level=warn",
            *self.extra_args,
        ]

    def _launch(self, member: Member, state: str) -> None:
        # A data dir that exists is a member that had joined: it starts from its own WAL.
        env = {"PATH": "/usr/bin:/bin", "HOME": str(member.data_dir.parent)}
        with open(member.log_path, "ab") as log:
            member.process = subprocess.Popen(
                self._argv(member, state),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a ^C to pytest reaches the test, which ends the member by pid
            )
        member.frozen = False

    def _launch_all(self) -> None:
        """One after the other, each once the one before serves its peers: a new member asks each peer
        whether it has joined, and a peer that listens but does not answer yet costs it a second."""
        for member in self.members:
            self._launch(member, "new")
            self._wait_serving_peers(member, START_TIMEOUT)

    def _wait_serving_peers(self, member: Member, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(member.peer_url + "/version", timeout=1):
                    return
            except (OSError, ValueError):
                if member.process is not None and member.process.poll() is not None:
                    break
                time.sleep(0.02)
        raise RuntimeError(f"{member.name} does not serve its peers:\n{member.log()[-3000:]}")

    # --- watching it -----------------------------------------------------------------------------------

    def leader(self, timeout: float = 1.0) -> Member | None:
        """The member the answering members agree leads (by raft member id), or None."""
        ids: dict[str, Member] = {}
        leaders = set()
        for member in self.members:
            status = member.status(timeout)
            if status is None:
                continue
            ids[str(status.get("header", {}).get("member_id"))] = member
            if status.get("leader"):
                leaders.add(str(status["leader"]))
        if len(leaders) != 1:
            return None
        return ids.get(leaders.pop())

    def wait_leader(self, timeout: float = 30.0, *, not_: Member | None = None) -> Member:
        """The leader once there is one (other than not_, when given): RuntimeError after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None and leader is not not_ and self.writable(leader):
                return leader
            self._check_alive()
            time.sleep(0.05)
        raise RuntimeError(f"no etcd leader within {timeout}s:\n{self._logs()}")

    def writable(self, member: Member) -> bool:
        """Whether a write through this member commits (a quorum answers)."""
        try:
            gateway(member.client_url, "/v3/kv/put", {"key": _b64("/harness/probe"), "value": _b64("1")})
        except (OSError, ValueError):
            return False
        return True

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until a leader commits writes and every running, unfrozen member answers."""
        deadline = time.monotonic() + timeout
        self.wait_leader(timeout)
        while time.monotonic() < deadline:
            live = [m for m in self.members if m.running and not m.frozen]
            if all(m.status() is not None for m in live):
                return
            self._check_alive()
            time.sleep(0.05)
        raise RuntimeError(f"etcd members did not all answer within {timeout}s:\n{self._logs()}")

    def _check_alive(self) -> None:
        dead = [m for m in self.members if m.process is not None and m.process.poll() is not None]
        if any(not m.killed for m in dead):
            raise RuntimeError(f"an etcd member exited:\n{self._logs()}")

    def _logs(self) -> str:
        return "\n".join(f"--- {m.name} ({m.client_url}):\n{m.log()[-3000:]}" for m in self.members)

    # --- faults ----------------------------------------------------------------------------------------

    def kill(self, member: Member) -> None:
        """SIGKILL the member (a crash); its data dir stays, so restart() brings it back."""
        if member.process is None:
            return
        member.killed = True
        if member.process.poll() is None:
            member.process.kill()  # SIGKILL ends a stopped process too
        member.process.wait(timeout=30)
        member.frozen = False

    def freeze(self, member: Member) -> None:
        """SIGSTOP: the process is there, holds its ports, and answers nothing."""
        assert member.running, f"{member.name} is not running"
        os.kill(member.process.pid, signal.SIGSTOP)  # type: ignore[union-attr]
        member.frozen = True

    def thaw(self, member: Member) -> None:
        """SIGCONT after freeze()."""
        if member.running and member.frozen:
            os.kill(member.process.pid, signal.SIGCONT)  # type: ignore[union-attr]
        member.frozen = False

    def restart(self, member: Member, timeout: float = START_TIMEOUT) -> None:
        """Start a killed (or still running: it is killed first) member again on its own data dir, and wait
        until it answers."""
        self.kill(member)
        member.killed = False
        self._launch(member, "existing")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if member.status() is not None:
                return
            if member.process is not None and member.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{member.name} did not come back:\n{member.log()[-3000:]}")

    def stop(self) -> None:
        """End every member by its pid. SIGKILL: the data is thrown away, and a graceful stop of a whole
        cluster makes each leader wait for a successor that is stopping too (seconds per member)."""
        for member in self.members:
            process = member.process
            if process is not None and process.poll() is None:
                process.kill()
        for member in self.members:
            if member.process is not None:
                member.process.wait(timeout=30)
            member.frozen = False


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def get_value(url: str, key: str) -> bytes | None:
    """The value of key read through the member at url (the harness's own reader, for assertions)."""
    import base64

    answer = gateway(url, "/v3/kv/range", {"key": _b64(key)})
    kvs = answer.get("kvs") or []
    return base64.b64decode(kvs[0].get("value", "")) if kvs else None


def range_prefix(url: str, prefix: str) -> list[tuple[str, bytes]]:
    """Every (key, value) under prefix, sorted by key, read through the member at url."""
    import base64

    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    answer = gateway(url, "/v3/kv/range", {"key": _b64(prefix), "range_end": _b64(end)})
    return [
        (base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")))
        for kv in answer.get("kvs") or []
    ]


def put_value(url: str, key: str, value: bytes) -> None:
    import base64

    gateway(url, "/v3/kv/put", {"key": _b64(key), "value": base64.b64encode(value).decode()})


def first_answering(urls: Sequence[str]) -> str:
    """The first of urls whose member answers (for a harness read while some members are down)."""
    for url in urls:
        try:
            gateway(url, "/v3/maintenance/status", timeout=1.0)
        except (OSError, ValueError):
            continue
        return url
    raise RuntimeError(f"no etcd member answers at {', '.join(urls)}")
