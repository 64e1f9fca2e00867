"""How much wall time `cronsync exec` adds to running a trivial script job directly.

    python bench/exec_overhead.py [--runs N] [--python PATH | --installed]

Builds a throw-away user space with one `#!/bin/sh` job, compiles it (`cronsync validate` writes
USER/state/compiled.json, as `cronsync apply` does), then alternates N direct runs (`sh hello.sh`)
with N `cronsync --user-dir U exec hello` runs and prints the medians, their difference (the
overhead; goal: under 20 ms) and their ratio.

It times exactly what units and crontab entries run (`cronsync.sync.launcher_argv`) for the cronsync
installed beside this Python, or beside --python. --installed first builds a regular install of this
checkout into a temporary virtualenv, as install.sh does, and times that (without dependencies: with
a current compiled.json, exec imports none).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MS = 20.0


def make_user_space(root: Path) -> Path:
    user = root / "USER"
    (user / "config").mkdir(parents=True)
    (user / "scripts").mkdir()
    job = {"name": "Hello", "cron": "0 3 * * *", "action": "script", "payload": {"path": "scripts/hello.sh"}}
    (user / "config" / "jobs.json").write_text(json.dumps([job]))
    (user / "config" / "settings.json").write_text("{}")
    script = user / "scripts" / "hello.sh"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    return user


# Installed cronsync has its bytecode compiled by pip; a developer shell that sets
# PYTHONDONTWRITEBYTECODE would make every run recompile the editable source instead.
CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=CHILD_ENV)
    return time.perf_counter() - began


def launcher_argv(python: str) -> list[str]:
    """What the units of the cronsync installed beside `python` run (asked of that cronsync)."""
    ask = "from cronsync.sync import launcher_argv; print(*launcher_argv(), sep='\\0')"
    answer = subprocess.run([python, "-I", "-c", ask], capture_output=True, text=True, check=True)
    return answer.stdout.rstrip("\n").split("\0")


def regular_install(root: Path) -> str:
    """A non-editable install of this checkout in a fresh virtualenv; its Python."""
    venv = root / "venv"
    checkout = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(checkout)]
    subprocess.run(pip, check=True, env=CHILD_ENV)
    return str(venv / "bin" / "python")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--python", default=sys.executable, help="the Python whose cronsync to time")
    parser.add_argument("--installed", action="store_true", help="time a regular install (see above)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        python = regular_install(Path(tmp)) if args.installed else args.python
        user = make_user_space(Path(tmp))
        compile_config = [sys.executable, "-m", "cronsync", "--user-dir", str(user), "validate"]
        subprocess.run(compile_config, check=True, stdout=subprocess.DEVNULL)
        direct = ["sh", str(user / "scripts" / "hello.sh")]
        # exactly what a unit's ExecStart and a crontab entry run
        via_exec = [*launcher_argv(python), "--user-dir", str(user), "exec", "hello"]
        for argv in (direct, via_exec, via_exec):  # warm the page cache and the bytecode cache
            timed(argv)
        bare_python = [python, "-I", "-S", "-c", "pass"]
        direct_times, exec_times, python_times = [], [], []
        for _ in range(args.runs):
            direct_times.append(timed(direct))
            exec_times.append(timed(via_exec))
            python_times.append(timed(bare_python))
        runs_logged = len((user / "logs" / "scheduler.log").read_text().splitlines())
    direct_ms = statistics.median(direct_times) * 1000
    exec_ms = statistics.median(exec_times) * 1000
    overhead = exec_ms - direct_ms
    print(f"cronsync exec runs: {' '.join(via_exec)}")
    print(f"runs: {args.runs} each (runs logged: {runs_logged})")
    print(f"direct (sh hello.sh)     median {direct_ms:7.1f} ms")
    print(f"cronsync exec hello      median {exec_ms:7.1f} ms")
    print(
        f"overhead                 median {overhead:7.1f} ms  (goal < {GOAL_MS:.0f} ms: "
        f"{'met' if overhead < GOAL_MS else 'NOT met'})"
    )
    print(f"ratio exec/direct               {exec_ms / direct_ms:7.1f}x")
    python_ms = statistics.median(python_times) * 1000
    print(f"for scale: the same Python starting and doing nothing (python -I -S -c pass): {python_ms:.1f} ms")
    print(f"so cronsync's own share of the overhead (beyond starting Python): {overhead - python_ms:.1f} ms")


if __name__ == "__main__":
    main()
