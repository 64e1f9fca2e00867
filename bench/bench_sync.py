"""Print how long plan, apply (first, changed, no-op) and status take for N jobs on a real user manager,
through pystemd and through the `systemctl --user` fallback. Needs root (it starts a private user manager
with tests/support/harness.py). Baseline: `cronsync validate`, which loads the same jobs.json and talks to no
scheduler.
Usage: .venv/bin/python bench/bench_sync.py [N]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.harness import UserManager  # noqa: E402


def jobs(count: int, hour: int) -> list[dict[str, object]]:
    return [
        {
            "name": f"Job {i}",
            "cron": f"{i % 60} {hour} * * *",
            "action": "script",
            "payload": {"path": "scripts/clean_tmp.py"},
        }
        for i in range(count)
    ]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr}")
    return elapsed


def median_of(argv: list[str], env: dict[str, str], rounds: int = 5) -> float:
    return statistics.median(timed(argv, env) for _ in range(rounds))


def run(label: str, count: int, env: dict[str, str], user: Path) -> None:
    cli = [sys.executable, "-m", "cronsync", "--user-dir", str(user)]
    jobs_file = user / "config" / "jobs.json"
    jobs_file.write_text(json.dumps(jobs(count, 3)))
    print(f"--- {label}, {count} jobs")
    print(f"{'validate (baseline)':<28} {median_of([*cli, 'validate'], env) * 1000:8.0f} ms")
    print(f"{'plan (nothing installed)':<28} {median_of([*cli, 'plan'], env) * 1000:8.0f} ms")
    print(f"{'apply (all new)':<28} {timed([*cli, 'apply'], env) * 1000:8.0f} ms")
    print(f"{'apply (no-op)':<28} {median_of([*cli, 'apply'], env) * 1000:8.0f} ms")
    print(f"{'status':<28} {median_of([*cli, 'status'], env) * 1000:8.0f} ms")
    jobs_file.write_text(json.dumps(jobs(count, 4)))
    print(f"{'apply (every job changed)':<28} {timed([*cli, 'apply'], env) * 1000:8.0f} ms")
    print(f"{'uninstall':<28} {timed([*cli, 'uninstall', '--backend', 'systemd'], env) * 1000:8.0f} ms")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    work = Path(tempfile.mkdtemp(prefix="cronsync-bench-"))
    home = work / "home"
    (home / ".config").mkdir(parents=True)
    manager = UserManager.start(home, home / ".config", work)
    try:
        user = work / "USER"
        shutil.copytree(REPO / "USER", user, ignore=shutil.ignore_patterns("state", "logs"))
        env = {**os.environ, **manager.env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        run("pystemd (D-Bus)", count, env, user)
        hidden = work / "hide" / "pystemd"
        hidden.mkdir(parents=True)
        (hidden / "__init__.py").write_text("raise ImportError('hidden')\n")
        run("systemctl fallback", count, {**env, "PYTHONPATH": str(hidden.parent)}, user)
    finally:
        manager.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
