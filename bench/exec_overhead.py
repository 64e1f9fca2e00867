"""How much wall time `cronsync exec` adds to running a trivial script job directly.

    python bench/exec_overhead.py [--runs N] [--python PATH | --installed] [--jobs N]

Builds a throw-away user space with one `#!/bin/sh` job, compiles it (`cronsync validate` writes
USER/state/compiled.json, as `cronsync apply` does), then alternates N direct runs (`sh hello.sh`)
with N `cronsync --user-dir U exec hello` runs and prints the medians, their difference (the
overhead; goal: under 20 ms) and their ratio. It also times `exec --guard` of a job whose time it is not
(what a crontab entry that fires on a superset of its job's times costs when it does nothing).

--jobs N builds two user spaces instead, one with 10 jobs and one with N (every job runs the same
hello.sh), waits until their jobs.json is older than compiled.RACY_SECONDS before compiling them (so
that exec trusts the stat of jobs.json, as it does for a jobs.json saved a while ago), and alternates
the direct run with `exec hello` in each: it prints the overhead at 10 jobs (the baseline, measured
in the same run) and at N jobs, and their ratio (goal: at most 1.2x).

It times exactly what units and crontab entries run (`cronsync.apply.target.launcher_argv`) for the cronsync
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
GOAL_RATIO = 1.2  # --jobs: the overhead at N jobs over the overhead at 10
BASELINE_JOBS = 10


def make_user_space(root: Path, jobs: int = 1, guarded: bool = False) -> Path:
    """USER under root with `jobs` jobs: Hello, then Job 1, Job 2, ... all running hello.sh; with
    `guarded`, also Elsewhere, whose time in Asia/Tokyo it never is when the benchmark runs."""
    user = root / "USER"
    (user / "config").mkdir(parents=True)
    (user / "scripts").mkdir()
    names = ["Hello", *(f"Job {n}" for n in range(1, jobs))]
    listed = [
        {"name": name, "cron": "0 3 * * *", "action": "script", "payload": {"path": "scripts/hello.sh"}}
        for name in names
    ]
    if guarded:
        hour = (time.gmtime().tm_hour + 9 + 12) % 24  # twelve hours from Tokyo's now
        elsewhere = {"name": "Elsewhere", "cron": f"* {hour} * * *", "timezone": "Asia/Tokyo"}
        listed.append({**elsewhere, "action": "script", "payload": {"path": "scripts/hello.sh"}})
    (user / "config" / "jobs.json").write_text(json.dumps(listed))
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
    ask = "from cronsync.apply.target import launcher_argv; print(*launcher_argv(), sep='\\0')"
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


def compile_config(user: Path) -> None:
    """`cronsync validate`, which writes USER/state/compiled.json as `cronsync apply` does."""
    argv = [sys.executable, "-m", "cronsync", "--user-dir", str(user), "validate"]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def wait_until_settled(users: list[Path]) -> None:
    """Until every jobs.json and settings.json is RACY_SECONDS old: exec trusts their stat only then."""
    from cronsync.userspace.compiled import RACY_SECONDS

    newest = max(
        max(path.stat().st_mtime, path.stat().st_ctime)
        for user in users
        for path in (user / "config" / "jobs.json", user / "config" / "settings.json")
    )
    time.sleep(max(0.0, newest + RACY_SECONDS + 0.1 - time.time()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--python", default=sys.executable, help="the Python whose cronsync to time")
    parser.add_argument("--installed", action="store_true", help="time a regular install (see above)")
    parser.add_argument(
        "--jobs", type=int, help=f"compare exec among N jobs with exec among {BASELINE_JOBS} (see above)"
    )
    args = parser.parse_args()
    if args.jobs is not None:
        scale(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        python = regular_install(Path(tmp)) if args.installed else args.python
        user = make_user_space(Path(tmp), guarded=True)
        compile_config(user)
        direct = ["sh", str(user / "scripts" / "hello.sh")]
        # exactly what a unit's ExecStart and a crontab entry run
        via_exec = [*launcher_argv(python), "--user-dir", str(user), "exec", "hello"]
        guarded = [*via_exec[:-1], "elsewhere", "--guard"]
        for argv in (direct, via_exec, via_exec, guarded):  # warm the page cache and the bytecode cache
            timed(argv)
        bare_python = [python, "-I", "-S", "-c", "pass"]
        direct_times, exec_times, python_times, guarded_times = [], [], [], []
        for _ in range(args.runs):
            direct_times.append(timed(direct))
            exec_times.append(timed(via_exec))
            python_times.append(timed(bare_python))
            guarded_times.append(timed(guarded))
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
    guarded_ms = statistics.median(guarded_times) * 1000
    print(
        f"exec elsewhere --guard, not its time (nothing runs, nothing logged): median {guarded_ms:.1f} ms, "
        f"{guarded_ms - python_ms:.1f} ms beyond starting Python"
    )


def scale(args: argparse.Namespace) -> None:
    """--jobs N: the overhead among N jobs against the overhead among BASELINE_JOBS, in one run."""
    sizes = [BASELINE_JOBS, args.jobs]
    with tempfile.TemporaryDirectory() as tmp:
        python = regular_install(Path(tmp)) if args.installed else args.python
        users = [make_user_space(Path(tmp) / f"jobs-{size}", size) for size in sizes]
        wait_until_settled(users)
        for user in users:
            compile_config(user)
        compiled = [user / "state" / "compiled.json" for user in users]
        written = [path.stat().st_mtime_ns for path in compiled]
        direct = ["sh", str(users[0] / "scripts" / "hello.sh")]
        launcher = launcher_argv(python)
        via_exec = [[*launcher, "--user-dir", str(user), "exec", "hello"] for user in users]
        for argv in (direct, *via_exec, *via_exec):  # warm the page cache and the bytecode cache
            timed(argv)
        direct_times: list[float] = []
        exec_times: list[list[float]] = [[] for _ in sizes]
        for _ in range(args.runs):
            direct_times.append(timed(direct))
            for argv, times in zip(via_exec, exec_times, strict=True):
                times.append(timed(argv))
        rewritten = [
            path.stat().st_mtime_ns != before for path, before in zip(compiled, written, strict=True)
        ]
        jobs_bytes = (users[1] / "config" / "jobs.json").stat().st_size
        compiled_bytes = compiled[1].stat().st_size
    direct_ms = statistics.median(direct_times) * 1000
    overheads = [statistics.median(times) * 1000 - direct_ms for times in exec_times]
    print(f"cronsync exec runs: {' '.join(via_exec[1])}")
    sizes_seen = f"jobs.json {jobs_bytes:,} B, compiled.json {compiled_bytes:,} B"
    print(f"runs: {args.runs} each; at {args.jobs} jobs: {sizes_seen}")
    print(f"direct (sh hello.sh)               median {direct_ms:7.1f} ms")
    for size, overhead in zip(sizes, overheads, strict=True):
        print(f"overhead of exec among {size:>6} jobs median {overhead:7.1f} ms")
    ratio = overheads[1] / overheads[0]
    print(
        f"ratio {args.jobs} jobs / {BASELINE_JOBS} jobs             {ratio:7.2f}x  (goal <= {GOAL_RATIO}x: "
        f"{'met' if ratio <= GOAL_RATIO else 'NOT met'})"
    )
    if any(rewritten):
        print("note: exec rewrote compiled.json during the runs (it did not find it current)")


if __name__ == "__main__":
    main()
