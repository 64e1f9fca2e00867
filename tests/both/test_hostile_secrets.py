"""A Telegram token in USER/config/secrets.env never shows: not in a unit, the crontab, the log, the
events, the journal, nor in any process's command line or environment while the job runs.

apprise's real Telegram plugin sends the message; it cannot reach api.telegram.org from here (and the
tests never leave 127.0.0.1), so HTTPS_PROXY points at a local proxy that records the CONNECT and
refuses it: delivery fails, is retried and logged, and that failure path must not leak either.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import cronsync, cronsync_in
from tests.support.exectools import log_records, make_space, script_job, write_secrets
from tests.support.harness import CronDaemon, UserManager

TOKEN = "7311846529:AAF-hostile-T0ken_never-to-be-seen"
CHAT = "-1001234567890"
JOB_SCRIPT = "import time\nprint('report ready', flush=True)\ntime.sleep(2)\nprint('done')\n"


class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 that records each request line and answers 403."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.received = b""
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.received += data
                self.lines.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


@pytest.fixture
def proxy() -> Iterator[RefusingProxy]:
    server = RefusingProxy()
    try:
        yield server
    finally:
        server.close()


class ProcessWatch:
    """Samples every process's cmdline, and the environ of cronsync's and the job's, while a run goes."""

    def __init__(self, markers: tuple[str, ...]) -> None:
        self.markers = markers
        self.leaks: list[str] = []
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _watch(self) -> None:
        me = str(os.getpid())
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid == me:
                    continue
                cmdline = _read(f"/proc/{pid}/cmdline")
                if TOKEN.encode() in cmdline:
                    self.leaks.append(f"cmdline of {pid}: {cmdline!r}")
                text = cmdline.replace(b"\0", b" ").decode(errors="replace")
                ours = [marker for marker in self.markers if marker in text]
                if ours:
                    self.seen.update(ours)
                    if TOKEN.encode() in _read(f"/proc/{pid}/environ"):
                        self.leaks.append(f"environ of {pid} ({text})")
            time.sleep(0.01)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def telegram_space(root: Path) -> Path:
    user = make_space(
        root,
        [script_job("Daily Report", "report.py", notify={"on": "always", "gateways": ["telegram"]})],
        {"gateways": {"telegram": ["tgram://${TELEGRAM_BOT_TOKEN}/${TELEGRAM_CHAT_ID}"]}},
        scripts={"report.py": JOB_SCRIPT},
    )
    write_secrets(user, f"# from @BotFather\nTELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_CHAT_ID='{CHAT}'\n")
    return user


def everything_written(user: Path, unit_dir: Path) -> dict[str, bytes]:
    files = {}
    for folder in (user / "logs", user / "state", unit_dir):
        for path in folder.rglob("*") if folder.exists() else []:
            if path.is_file() and not path.is_symlink():
                files[str(path)] = path.read_bytes()
    return files


def test_the_token_appears_nowhere(
    systemd_user: UserManager, cron_daemon: CronDaemon, proxy: RefusingProxy, tmp_path: Path
) -> None:
    user = telegram_space(tmp_path)
    assert cronsync("apply", "--backend", "systemd", user_dir=user).returncode == 0
    # the same jobs in a second space on the crontab (one space is installed on one backend)
    cron_user = telegram_space(tmp_path / "cron")
    assert cronsync_in(cron_daemon, cron_user, "apply", "--backend", "crontab").returncode == 0
    systemd_user.systemctl("set-environment", f"HTTPS_PROXY={proxy.url}", f"HTTP_PROXY={proxy.url}")

    with ProcessWatch(("exec daily-report", "report.py")) as watch:
        started = systemd_user.systemctl("start", "cronsync-daily-report.service", check=False)
    assert started.returncode == 0, started.stderr
    assert watch.seen == {"exec daily-report", "report.py"}  # the watch saw cronsync and the job
    assert watch.leaks == []

    # apprise really tried Telegram (through the proxy, which refused), three times
    assert [line.rsplit(" ", 1)[0] for line in proxy.lines] == ["CONNECT api.telegram.org:443"] * 3
    (record,) = log_records(user)
    assert record["status"] == "success" and record["excerpt"] == "report ready\ndone\n"
    (notification,) = record["notifications"]
    assert notification["service"] == "tgram://…" and notification["ok"] is False
    assert notification["attempts"] == 3

    texts = everything_written(user, systemd_user.unit_dir) | everything_written(cron_user, tmp_path / "none")
    assert any(name.endswith("scheduler.log") for name in texts)
    assert any(name.endswith("events.jsonl") for name in texts)
    assert any(name.endswith("cronsync-daily-report.service") for name in texts)
    for name, data in texts.items():
        assert TOKEN.encode() not in data, name
    crontab = cron_daemon.crontab()
    assert "cronsync:daily-report" in crontab and TOKEN not in crontab
    journal = subprocess.run(
        systemd_user.tree.nsenter(["journalctl", "--no-pager", "-o", "export"]),
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    assert b"report ready" in journal and b"notification failed" in journal
    assert TOKEN.encode() not in journal
    assert TOKEN.encode() not in proxy.received
    for command in (
        ["history", "--json"],
        ["logs", "daily-report"],
        ["status", "--json"],
        ["exec", "daily-report", "--dry-run"],
    ):
        shown = cronsync(*command, user_dir=user)
        assert "Traceback" not in shown.stderr and TOKEN not in shown.stdout + shown.stderr, command


def test_a_group_readable_secrets_file_stops_the_run_under_systemd(
    systemd_user: UserManager, proxy: RefusingProxy, tmp_path: Path
) -> None:
    user = telegram_space(tmp_path)
    secrets = user / "config" / "secrets.env"
    secrets.chmod(0o640)
    assert cronsync("apply", "--backend", "systemd", user_dir=user).returncode == 0
    systemd_user.systemctl("set-environment", f"HTTPS_PROXY={proxy.url}")
    started = systemd_user.systemctl("start", "cronsync-daily-report.service", check=False)
    assert started.returncode != 0
    assert systemd_user.show("cronsync-daily-report.service", "ExecMainStatus")["ExecMainStatus"] == "78"
    (record,) = log_records(user)
    assert record["status"] == "failure" and f"chmod 600 {secrets}" in record["error"]
    assert proxy.lines == []  # nothing was sent
    journal = "\n".join(systemd_user.journal("cronsync-daily-report"))
    assert "0640" in journal and TOKEN not in journal
    assert TOKEN not in json.dumps(record)
