"""A real systemd user manager (with journald) and a real cron daemon, each in a private mount namespace.

Neither needs systemd as PID 1. The user manager is reached from outside through
`$XDG_RUNTIME_DIR/systemd/private`; whatever must see the namespace's tmpfs (journald's files, cron's
spool) runs inside it through `nsenter`. `stop()` ends every process left in the namespace, by pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SYSTEMD = "/lib/systemd/systemd"
JOURNALD = "/lib/systemd/systemd-journald"
CRON = "/usr/sbin/cron"

_USER_MANAGER_SCRIPT = textwrap.dedent(
    """\
    set -e
    # A cgroup of its own (where the machine lets us make one): a user manager names its units' cgroups
    # from its own, so two managers started from one cgroup would each take the other's processes for
    # their units' (and stop them as leftovers when a unit of the same name ends).
    for hierarchy in systemd unified; do
      own="/sys/fs/cgroup/$hierarchy$CRONSYNC_TEST_CGROUP"
      if [ -n "$CRONSYNC_TEST_CGROUP" ] && mkdir -p "$own" 2>/dev/null; then
        echo $$ > "$own/cgroup.procs" 2>/dev/null || true
      fi
    done
    mount -t tmpfs tmpfs /run/systemd
    mkdir -p /run/systemd/system
    mount -t tmpfs tmpfs /run/log
    /lib/systemd/systemd-journald &
    for i in $(seq 100); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.05; done
    exec /lib/systemd/systemd --user
    """
)

_CRON_SCRIPT = textwrap.dedent(
    """\
    set -e
    mount -t tmpfs -o mode=1730,gid=crontab tmpfs /var/spool/cron/crontabs
    mount -t tmpfs tmpfs /run
    exec /usr/sbin/cron -f
    """
)


# The same private spool, and no daemon: a machine where cron is installed but not running.
_SPOOL_ONLY_SCRIPT = _CRON_SCRIPT.replace("exec /usr/sbin/cron -f", "exec sleep infinity")


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Poll predicate until it is true (True) or timeout seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def missing_for_user_manager() -> str | None:
    """Why a user manager cannot start here, or None."""
    if os.geteuid() != 0:
        return "the test harness needs root to make a private mount namespace"
    for binary in (SYSTEMD, JOURNALD, "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/systemctl"):
        if not os.path.exists(binary):
            return f"{binary} is missing (run ./install.sh --deps-only)"
    return None


def missing_for_cron() -> str | None:
    if os.geteuid() != 0:
        return "the test harness needs root to make a private mount namespace"
    for binary in (CRON, "/usr/bin/crontab", "/usr/bin/unshare", "/usr/bin/nsenter"):
        if not os.path.exists(binary):
            return f"{binary} is missing (run ./install.sh --deps-only)"
    return None


def _mount_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _pids_in_namespace(namespace: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _mount_namespace(int(entry)) == namespace:
            pids.append(int(entry))
    return pids


def _wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if os.path.exists(f"/proc/{pid}") and not _is_zombie(pid)]
        if alive:
            time.sleep(0.05)
    return alive


def is_gone(pid: int) -> bool:
    """Whether no process has this pid, or only a zombie waiting for its parent to reap it."""
    return not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@dataclass
class Namespaced:
    """A process tree started with `unshare -m` whose namespace we can enter and tear down."""

    process: subprocess.Popen[bytes]
    namespace: str
    log_path: Path
    # An open descriptor of the namespace keeps it alive, so that its id is not given to another test's
    # namespace (tests run in parallel) while this one may still sweep it; closed by stop().
    namespace_fd: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def nsenter(self, argv: Sequence[str]) -> list[str]:
        """argv run inside this mount namespace, in our working directory (nsenter would start it in
        `/`, where `python -m cronsync` finds the installed cronsync instead of this checkout's)."""
        return ["nsenter", "--mount", f"--target={self.pid}", f"--wd={os.getcwd()}", "--", *argv]

    def stop(self) -> None:
        """SIGTERM the main process, then SIGKILL whatever is left in the namespace (once: a second stop
        does nothing)."""
        if self.namespace_fd is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        leftovers = _pids_in_namespace(self.namespace)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait_gone(leftovers, 5)
        os.close(self.namespace_fd)
        self.namespace_fd = None


def _start_namespaced(script: str, env: Mapping[str, str], log_path: Path) -> Namespaced:
    host_namespace = _mount_namespace(os.getpid())
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            # no start_new_session: Debian's `cron -f` as a session leader never runs its jobs
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        namespace = _mount_namespace(process.pid)
        if namespace and namespace != host_namespace:
            try:
                held = os.open(f"/proc/{process.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                break
            if _mount_namespace(process.pid) == namespace:  # the one held is the one seen
                return Namespaced(process, namespace, log_path, held)
            os.close(held)
        if process.poll() is not None:
            break
        time.sleep(0.01)
    process.kill()
    raise RuntimeError(f"could not start a private mount namespace: {log_path.read_text(errors='replace')}")


def _own_cgroup_path() -> str:
    """A new cgroup path below this process's own (cgroup v2's, or v1's name=systemd), for one manager."""
    own = "/"
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            number, controllers, path = line.split(":", 2)
            if number == "0" or controllers == "name=systemd":
                own = path
    return f"{own.rstrip('/')}/cronsync-test-{uuid.uuid4().hex[:12]}"


def _remove_cgroup(path: str) -> None:
    """The manager's cgroups, deepest first, once its processes are gone (an rmdir of a cgroup that still
    has processes fails: then it is left, and is harmless)."""
    for hierarchy in ("systemd", "unified"):
        top = Path(f"/sys/fs/cgroup/{hierarchy}{path}")
        if not top.is_dir():
            continue
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


@dataclass
class UserManager:
    """`systemd --user` with its own journald, reached through XDG_RUNTIME_DIR/systemd/private."""

    runtime_dir: Path
    config_home: Path
    env: dict[str, str]
    tree: Namespaced
    extra_cleanup: list[Path] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.tree.pid

    @property
    def unit_dir(self) -> Path:
        return self.config_home / "systemd" / "user"

    @classmethod
    def start(cls, home: Path, config_home: Path, log_dir: Path, path: str | None = None) -> UserManager:
        # A short runtime dir: the private socket's path must fit in sun_path (108 bytes).
        runtime_dir = Path(tempfile.mkdtemp(prefix="cs-rt-", dir="/tmp"))
        runtime_dir.chmod(0o700)
        env = {
            "CRONSYNC_TEST_CGROUP": _own_cgroup_path(),
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(runtime_dir),
            "XDG_CONFIG_HOME": str(config_home),
            "PATH": path or os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
        }
        tree = _start_namespaced(_USER_MANAGER_SCRIPT, env, log_dir / "user-manager.log")
        manager = cls(runtime_dir, config_home, env, tree, [runtime_dir])
        manager._wait_ready()
        return manager

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60  # generous: a loaded 2-core machine can take a while
        while time.monotonic() < deadline:
            if self.tree.process.poll() is not None:
                break
            if (self.runtime_dir / "systemd" / "private").exists():
                probe = self.systemctl("show", "--property=Version", check=False)
                if probe.returncode == 0 and "Version=" in probe.stdout:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"the user manager did not come up: {self.tree.log_path.read_text(errors='replace')}"
        )

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "XDG_RUNTIME_DIR": str(self.runtime_dir)}
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        return subprocess.run(
            ["systemctl", "--user", *args], env=env, capture_output=True, text=True, check=check, timeout=60
        )

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.systemctl("show", unit, *(f"--property={p}" for p in properties)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, identifier: str) -> list[str]:
        """The MESSAGE of every journal entry with this SyslogIdentifier."""
        result = subprocess.run(
            self.tree.nsenter(["journalctl", "--no-pager", "-o", "cat", "-t", identifier]),
            capture_output=True,
            text=True,
            timeout=60,
        )
        return [line for line in result.stdout.splitlines() if line and not line.startswith("-- ")]

    def restart(self) -> None:
        """Stop the manager and start a new one on the same home, config and runtime dir, as a new login
        (or a boot) does: what its start pulls in (timers.target, paths.target) starts again."""
        self.tree.stop()
        for entry in self.runtime_dir.iterdir():  # the old manager's sockets
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        log = self.tree.log_path.with_name(f"{self.tree.log_path.stem}-restarted.log")
        self.tree = _start_namespaced(_USER_MANAGER_SCRIPT, self.env, log)
        self._wait_ready()

    def stop(self) -> None:
        self.tree.stop()
        _remove_cgroup(self.env["CRONSYNC_TEST_CGROUP"])
        for path in self.extra_cleanup:
            shutil.rmtree(path, ignore_errors=True)


@dataclass
class CronDaemon:
    """Debian's `cron -f` with a tmpfs spool, so the host's crontabs are never touched."""

    tree: Namespaced

    @property
    def pid(self) -> int:
        return self.tree.pid

    @classmethod
    def start(cls, env: Mapping[str, str], log_dir: Path, *, running: bool = True) -> CronDaemon:
        """The daemon on its private spool; with running=False only the spool (cron is not started)."""
        script = _CRON_SCRIPT if running else _SPOOL_ONLY_SCRIPT
        tree = _start_namespaced(script, env, log_dir / "cron.log")
        daemon = cls(tree)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if tree.process.poll() is not None:
                break
            probe = daemon.run(["crontab", "-l"], check=False)
            if "no crontab" in probe.stderr or probe.returncode == 0:
                # cron notices a new crontab by the spool's mtime in whole seconds: a crontab written in
                # the second of its first scan would go unseen, so let that second pass.
                time.sleep(1.1)
                return daemon
            time.sleep(0.05)
        daemon.stop()
        raise RuntimeError(f"cron did not come up: {tree.log_path.read_text(errors='replace')}")

    def nsenter(self, argv: Sequence[str]) -> list[str]:
        return self.tree.nsenter(argv)

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """argv inside the daemon's namespace, where its spool is."""
        return subprocess.run(
            self.nsenter(argv),
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
            env=dict(env) if env is not None else None,
        )

    def crontab(self) -> str:
        """The user's crontab as cron sees it ("" when there is none)."""
        result = self.run(["crontab", "-l"], check=False)
        return result.stdout if result.returncode == 0 else ""

    def set_crontab(self, text: str) -> None:
        self.run(["crontab", "-"], input=text)

    def stop(self) -> None:
        self.tree.stop()
