"""Several "hosts" on one machine: each a real systemd user manager with its own HOME, XDG dirs, runtime
dir and user space, whose settings.json names its own `fleet.host` and the cluster's endpoints (or, for a
host the test can cut off, the endpoints of loopback proxies in front of the members). Every host has the
same jobs.json, as a fleet shares one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.cli import EXAMPLE, cronsync
from tests.support.etcd import EtcdCluster
from tests.support.harness import UserManager
from tests.support.tcpproxy import TcpProxy, proxies_for
from tests.support.userspaces import write_jobs

# A run_on "one" job of two hosts, every minute (the fleet tests that drive exec, status and history).
SHARED_JOB: dict[str, Any] = {
    "name": "Backup",
    "cron": "* * * * *",
    "action": "script",
    "payload": {"path": "scripts/clean_tmp.py", "args": ["--dry-run"]},
    "hosts": ["nas", "laptop"],
    "run_on": "one",
}


def claim_value(job: str, slot: str, host: str, status: str = "success", at: float | None = None) -> bytes:
    """A finished claim as exec writes it (exec/claim.py), for a test to put in etcd."""
    claimed = time.time() if at is None else at
    value = {"job": job, "slot": slot, "host": host, "claimed_at": claimed, "status": status}
    value.update(exit_code=0 if status == "success" else 1, duration=0.5, ended_at=claimed + 0.5)
    return json.dumps(value).encode()


def write_fleet(user_dir: Path, fleet: dict[str, Any] | None) -> None:
    """settings.json's "fleet" replaced by `fleet` (None: removed), the rest kept."""
    settings_file = user_dir / "config" / "settings.json"
    settings = json.loads(settings_file.read_text())
    settings.pop("fleet", None)
    if fleet is not None:
        settings["fleet"] = fleet
    settings_file.write_text(json.dumps(settings, indent=2))


@dataclass
class Host:
    """One machine of the fleet: its user manager, user space and (when proxied) its own way to etcd."""

    name: str
    home: Path
    user_dir: Path
    manager: UserManager
    proxies: list[TcpProxy] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """The environment a command on this host runs in (its HOME, XDG dirs and user manager)."""
        dropped = ("CRONSYNC_USER_DIR", "DBUS_SESSION_BUS_ADDRESS")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local/share"),
            XDG_RUNTIME_DIR=str(self.manager.runtime_dir),
        )
        return env

    @property
    def settings_file(self) -> Path:
        return self.user_dir / "config" / "settings.json"

    @property
    def jobs_file(self) -> Path:
        return self.user_dir / "config" / "jobs.json"

    def cronsync(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real CLI on this host."""
        return cronsync(*args, user_dir=self.user_dir, env=self.env)

    def apply(self, *extra: str) -> dict[str, Any]:
        """`cronsync apply --backend systemd --json` on this host, asserted to succeed: its report."""
        result = self.cronsync("apply", "--backend", "systemd", "--json", *extra)
        assert result.returncode == 0, f"{self.name}: {result.stdout}{result.stderr}"
        report: dict[str, Any] = json.loads(result.stdout)
        return report

    def settings(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.settings_file.read_text())
        return data

    def set_fleet(self, **changes: Any) -> None:
        """Change this host's fleet settings (a value None removes the key)."""
        fleet = {**self.settings().get("fleet", {}), **changes}
        write_fleet(self.user_dir, {k: v for k, v in fleet.items() if v is not None})

    def write_jobs(self, jobs: object) -> None:
        write_jobs(self.user_dir, jobs)

    def records(self) -> list[dict[str, Any]]:
        """Every run record of this host's logs/scheduler.log."""
        log = self.user_dir / "logs" / "scheduler.log"
        if not log.exists():
            return []
        out = []
        for line in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def cut(self) -> None:
        """Cut this host off from etcd (its proxies reset and refuse): needs proxied=True."""
        assert self.proxies, f"{self.name} reaches etcd directly; start it with proxied=True to cut it"
        for proxy in self.proxies:
            proxy.cut()

    def stall(self) -> None:
        """This host's packets to etcd go nowhere: connections hang until the client's timeout."""
        assert self.proxies, f"{self.name} reaches etcd directly; start it with proxied=True"
        for proxy in self.proxies:
            proxy.stall()

    def restore(self) -> None:
        for proxy in self.proxies:
            proxy.restore()

    def stop(self) -> None:
        self.manager.stop()
        for proxy in self.proxies:
            proxy.close()


@dataclass
class Fleet:
    """The hosts a test started, and the cluster they share; stop() ends every process they started."""

    cluster: EtcdCluster
    root: Path
    hosts: list[Host] = field(default_factory=list)

    def __getitem__(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def add(
        self,
        name: str,
        jobs: object,
        *,
        proxied: bool = False,
        fleet: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Host:
        """A new host `name` with its own user manager, jobs.json `jobs` (the same on every host) and
        settings.json with `fleet.host` = name and the cluster's endpoints (or its own proxies')."""
        home = self.root / name / "home"
        for sub in ("", ".config", ".local/share"):
            (home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        user_dir = home / ".config" / "cronsync"
        shutil.copytree(EXAMPLE, user_dir, ignore=shutil.ignore_patterns("logs", "state", "__pycache__"))
        proxies = proxies_for([m.client_port for m in self.cluster.members]) if proxied else []
        path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        try:
            manager = UserManager.start(home, home / ".config", self.root / name, path=path)
        except BaseException:
            for proxy in proxies:
                proxy.close()
            raise
        host = Host(name, home, user_dir, manager, proxies)
        self.hosts.append(host)
        endpoints = [p.url for p in proxies] if proxies else self.cluster.endpoints
        example = json.loads(host.settings_file.read_text())
        written = {**example, **(settings or {}), "fleet": {"etcd": endpoints, "host": name, **(fleet or {})}}
        host.settings_file.write_text(json.dumps(written, indent=2))
        host.write_jobs(jobs)
        return host

    def add_all(self, names: Iterable[str], jobs: object, **options: Any) -> list[Host]:
        return [self.add(name, jobs, **options) for name in names]

    def write_jobs(self, jobs: object, hosts: Sequence[Host] | None = None) -> None:
        """The same jobs.json on every host (or on those given)."""
        for host in hosts if hosts is not None else self.hosts:
            host.write_jobs(jobs)

    def stop(self) -> None:
        for host in self.hosts:
            host.stop()
