"""Shared fixtures. Every test gets its own HOME, XDG dirs and user space under tmp_path."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import EXAMPLE
from tests.support.etcd import EtcdCluster, missing_for_etcd
from tests.support.fleet import Fleet
from tests.support.harness import CronDaemon, UserManager, missing_for_cron, missing_for_user_manager


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point HOME and the XDG dirs at temporary folders so no test writes outside them."""
    home = tmp_path / "home"
    for sub in ("", ".config", ".local/share", "runtime"):
        (home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "runtime"))
    monkeypatch.delenv("CRONSYNC_USER_DIR", raising=False)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    yield home


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """umask 000 in the test process and every child it starts from now on (a daemon a later fixture
    starts too), as some containers and shared machines set it."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A fresh copy of the example user space."""
    target = tmp_path / "USER"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("logs", "state", "__pycache__"))
    return target


def unavailable(reason: str) -> None:
    """Skip, except under CI, where a missing daemon is a failure: CI cannot go green by skipping."""
    if os.environ.get("CI"):
        pytest.fail(f"CI requires this test to run: {reason}")
    pytest.skip(reason)


@pytest.fixture
def systemd_user(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[UserManager]:
    """A real `systemd --user` (and journald) for this test, reachable as the test's own user manager."""
    reason = missing_for_user_manager()
    if reason:
        unavailable(reason)
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    manager = UserManager.start(isolated_home, Path(os.environ["XDG_CONFIG_HOME"]), tmp_path, path=path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(manager.runtime_dir))
    try:
        yield manager
    finally:
        manager.stop()


@pytest.fixture
def stopped_cron(tmp_path: Path) -> Iterator[CronDaemon]:
    """A private crontab spool with no cron daemon serving it: cron installed, not running."""
    reason = missing_for_cron()
    if reason:
        unavailable(reason)
    spool = CronDaemon.start(os.environ, tmp_path, running=False)
    try:
        yield spool
    finally:
        spool.stop()


@pytest.fixture
def cron_daemon(tmp_path: Path) -> Iterator[CronDaemon]:
    """A real Debian cron daemon whose spool is a private tmpfs."""
    reason = missing_for_cron()
    if reason:
        unavailable(reason)
    daemon = CronDaemon.start(os.environ, tmp_path)
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def etcd_cluster(tmp_path: Path) -> Iterator[EtcdCluster]:
    """A real 3-member etcd cluster on free loopback ports, its data under tmp_path; ended by pid."""
    reason = missing_for_etcd()
    if reason:
        unavailable(reason)
    cluster = EtcdCluster.start(tmp_path / "etcd")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def fleet(etcd_cluster: EtcdCluster, tmp_path: Path) -> Iterator[Fleet]:
    """Hosts on one machine sharing etcd_cluster: `fleet.add(name, jobs)` starts one (its own user
    manager and user space); every host is stopped when the test ends."""
    reason = missing_for_user_manager()
    if reason:
        unavailable(reason)
    hosts = Fleet(etcd_cluster, tmp_path / "hosts")
    try:
        yield hosts
    finally:
        hosts.stop()
