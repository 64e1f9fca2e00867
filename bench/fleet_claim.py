"""What claiming a run in etcd adds to `cronsync exec` (`run_on: "one"`), against the same job unclaimed.

    python bench/fleet_claim.py [--runs N] [--etcd PATH] [--library-python PATH]

Starts a one-member etcd (Debian's etcd-server) on free loopback ports in a temporary folder, builds a
user space with two jobs running the same `#!/bin/sh` script — "Plain" (run_on "each", the baseline,
measured in the same run) and "Shared" (run_on "one") — and alternates N runs of each through exactly
what units run (`exec <job> --trigger timer`). Between runs the bench deletes the slot's claim, so
that every run of Shared really wins a claim: lease grant, the claim transaction, the outcome and the
lease's revoke. Prints both medians, the claim's cost (goal: under 10 ms median, imports included)
and the ratio. The cost is the median of the differences of runs taken in pairs, back to back.

--library-python PATH: also time importing the etcd v3 client libraries under that Python (a virtualenv
with them installed: `pip install etcd-sdk-python etcd3`), what a library client would cost every exec
before its first request: etcd-sdk-python (`pyetcd`, kept) and python-etcd3 (`etcd3`, its origin, last
released in 2020, which needs PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python with today's protobuf).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_MS = 10.0
CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_etcd(etcd: str, root: Path) -> tuple[subprocess.Popen[bytes], str]:
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    argv = [
        etcd,
        "--name=bench",
        f"--data-dir={root / 'etcd'}",
        f"--listen-client-urls={url}",
        f"--advertise-client-urls={url}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=bench=http://127.0.0.1:{peer}",
    ]
    log = (root / "etcd.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    from cronsync.adapters.etcd import Client, EtcdError

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            Client([url], 1).status()
            return process, url
        except EtcdError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"etcd did not start: {(root / 'etcd.log').read_text()[-2000:]}")


def make_user_space(root: Path, url: str) -> Path:
    user = root / "USER"
    (user / "config").mkdir(parents=True)
    (user / "scripts").mkdir()
    script = user / "scripts" / "hello.sh"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    payload = {"path": "scripts/hello.sh"}
    jobs = [
        {"name": "Plain", "cron": "* * * * *", "action": "script", "payload": payload},
        {"name": "Shared", "cron": "* * * * *", "action": "script", "run_on": "one", "payload": payload},
    ]
    (user / "config" / "jobs.json").write_text(json.dumps(jobs))
    fleet = {"etcd": [url], "host": "bench"}
    (user / "config" / "settings.json").write_text(json.dumps({"fleet": fleet}))
    subprocess.run([sys.executable, "-m", "cronsync", "--user-dir", str(user), "validate"], check=True)
    return user


def launcher_argv() -> list[str]:
    from cronsync.apply.target import launcher_argv as argv

    return list(argv())


def timed(argv: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV, check=False)
    return time.perf_counter() - began


LIBRARIES = {"pyetcd": "etcd-sdk-python", "etcd3": "python-etcd3"}


def library_import_ms(python: str, module: str, runs: int) -> float | None:
    env = {**CHILD_ENV, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    if subprocess.run([python, "-c", f"import {module}"], env=env, capture_output=True).returncode:
        return None
    times, bare = [], []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([python, "-c", f"import {module}"], env=env, check=True)
        times.append(time.perf_counter() - began)
        bare.append(timed([python, "-c", "pass"]))
    return (statistics.median(times) - statistics.median(bare)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--etcd", default=shutil.which("etcd") or "/usr/bin/etcd")
    parser.add_argument("--library-python", help="a Python with python-etcd3 installed, to time its import")
    args = parser.parse_args()
    from cronsync.adapters.etcd import Client

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        process, url = start_etcd(args.etcd, root)
        try:
            user = make_user_space(root, url)
            base = [*launcher_argv(), "--user-dir", str(user), "exec"]
            plain, shared = [*base, "plain", "--trigger", "timer"], [*base, "shared", "--trigger", "timer"]
            client = Client([url], 2)
            for argv in (plain, shared, plain, shared):  # warm the caches
                timed(argv)
                forget_claims(client)
            plain_times, shared_times = [], []
            for _ in range(args.runs):
                plain_times.append(timed(plain))
                shared_times.append(timed(shared))
                forget_claims(client)
            records = [
                json.loads(line) for line in (user / "logs" / "scheduler.log").read_text().splitlines()
            ]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    won = sum(1 for r in records if r["job_id"] == "shared" and r.get("ran_on") == "bench")
    plain_ms, shared_ms = (statistics.median(t) * 1000 for t in (plain_times, shared_times))
    # each pair ran back to back: the median of their differences drifts less with the machine's load
    cost = statistics.median(b - a for a, b in zip(plain_times, shared_times, strict=True)) * 1000
    print(f"runs: {args.runs} each; runs of Shared that won their claim: {won}")
    print(f"exec plain (run_on each)     median {plain_ms:7.1f} ms")
    print(f"exec shared (run_on one)     median {shared_ms:7.1f} ms")
    verdict = "met" if cost < GOAL_MS else "NOT met"
    print(f"claim's cost                 median {cost:7.1f} ms  (goal < {GOAL_MS:.0f} ms: {verdict})")
    print(f"ratio shared/plain                  {shared_ms / plain_ms:7.2f}x")
    if args.library_python:
        for module, project in LIBRARIES.items():
            cost_ms = library_import_ms(args.library_python, module, min(args.runs, 10))
            shown = "not installed" if cost_ms is None else f"{cost_ms:7.1f} ms"
            print(f"import {module} ({project}, gRPC)  median {shown}")


def forget_claims(client: Any) -> None:
    """Delete every claim of the bench's user space, so that the next run of Shared wins one again."""
    from cronsync.adapters.etcd import delete_range_op, prefix_end
    from cronsync.core.fleet import claims_prefix

    prefix = claims_prefix("/cronsync", "shared")
    client.txn([], [delete_range_op(prefix, prefix_end(prefix))], [])


if __name__ == "__main__":
    main()
