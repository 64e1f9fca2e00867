"""How `cronsync apply` and `cronsync status` grow with the number of jobs, on a real user manager.

    python bench/apply_scale.py [--sizes 10,100,1000] [--runs N] [--quick]

For each size it starts a fresh `systemd --user` (the tests' harness: private mount namespace,
temporary HOME and XDG dirs), writes N script jobs and times, each as the median of --runs runs:
  - first apply (all units written, one daemon-reload, every timer enabled and started), after an
    untimed `cronsync uninstall`;
  - no-op apply, which must write no file and skip daemon-reload (checked: the JSON report and the
    unit files' mtimes);
  - apply after editing one job's schedule;
  - `cronsync status --json`.
Baselines measured in the same run: `systemctl --user daemon-reload` with every unit loaded, and
`cronsync validate` of the same jobs.json (Python start-up, imports and parsing, nothing installed).
Goals at 1,000 jobs: first apply < 5 s, no-op < 0.5 s, one-job edit < 1 s, status < 1 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.harness import UserManager, missing_for_user_manager

GOALS_AT_1000 = {"first apply": 5.0, "no-op apply": 0.5, "one-job edit": 1.0, "status": 1.0}
SCHEDULES = ["*/5 * * * *", "0 9 * * 1-5", "30 2 * * *", "15 */2 * * *", "0 0 1 * *", "@hourly"]


def jobs(count: int, edited: int = -1, edit_round: int = 0) -> list[dict[str, Any]]:
    result = []
    for i in range(count):
        cron = SCHEDULES[i % len(SCHEDULES)]
        if i == edited:
            cron = f"{edit_round % 60} 4 * * *"
        job = {"name": f"Job {i:04d}", "cron": cron, "action": "script"}
        job["payload"] = {"path": "scripts/noop.sh", "args": [str(i)]}
        result.append(job)
    return result


def make_user_space(root: Path) -> Path:
    """An empty user space with one no-op script (edit_to_live.py uses it too)."""
    user = root / "USER"
    (user / "config").mkdir(parents=True)
    (user / "scripts").mkdir()
    script = user / "scripts" / "noop.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    (user / "config" / "settings.json").write_text("{}")
    return user


def write_jobs(user: Path, data: list[dict[str, Any]]) -> None:
    (user / "config" / "jobs.json").write_text(json.dumps(data, indent=2))


class Bench:
    """One user manager and one user space with `count` jobs."""

    def __init__(self, root: Path, count: int) -> None:
        self.count = count
        home = root / "home"
        config_home = home / ".config"
        config_home.mkdir(parents=True)
        path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        self.manager = UserManager.start(home, config_home, root, path=path)
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"},
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(config_home),
            "XDG_RUNTIME_DIR": str(self.manager.runtime_dir),
            "PATH": path,
        }
        self.user = make_user_space(root)
        write_jobs(self.user, jobs(count))

    def cronsync(self, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        argv = [sys.executable, "-m", "cronsync", "--user-dir", str(self.user), *args]
        began = time.perf_counter()
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - began
        if result.returncode != 0:
            raise SystemExit(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return elapsed, result

    def apply(self) -> tuple[float, dict[str, Any]]:
        elapsed, result = self.cronsync("apply", "--backend", "systemd", "--json")
        report: dict[str, Any] = json.loads(result.stdout)
        if not report["ok"]:
            raise SystemExit(f"apply reported a failure: {result.stdout[:2000]}")
        return elapsed, report

    def daemon_reload(self) -> float:
        began = time.perf_counter()
        self.manager.systemctl("daemon-reload")
        return time.perf_counter() - began

    def units_loaded(self) -> str:
        """When the manager last (re)loaded its units: changes with every daemon-reload."""
        return self.manager.systemctl("show", "--property=UnitsLoadTimestampMonotonic").stdout

    def unit_mtimes(self) -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in self.manager.unit_dir.iterdir() if p.is_file()}

    def loaded_timers(self) -> int:
        out = self.manager.systemctl("list-timers", "--all", "--no-legend", "cronsync-*").stdout
        return sum(1 for line in out.splitlines() if "cronsync-" in line)

    def wait_watcher_idle(self) -> None:
        """Until the auto-sync watcher (cronsync-sync.service and the transient apply it starts,
        after its settle time) is done with the last save."""
        time.sleep(1.2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            units = ("cronsync-sync.service", "run-u*.service")
            out = self.manager.systemctl(
                "list-units", "--no-legend", "--state=active,activating", *units
            ).stdout
            if not out.strip():
                return
            time.sleep(0.1)
        raise SystemExit(f"the auto-sync watcher is still busy after 60 s: {out}")

    def stop(self) -> None:
        self.manager.stop()


def median_of(runs: int, measure: Callable[[int], float]) -> float:
    return statistics.median(measure(i) for i in range(runs))


def bench_size(count: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="cs-bench-") as tmp:
        bench = Bench(Path(tmp), count)
        try:
            return measure_all(bench, runs)
        finally:
            bench.stop()


def measure_all(bench: Bench, runs: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    figures["validate (baseline)"] = median_of(runs, lambda _: bench.cronsync("validate")[0])

    def first_apply(_: int) -> float:
        bench.cronsync("uninstall", "--backend", "systemd")
        elapsed, report = bench.apply()
        assert report["reloaded"] and len(report["files_written"]) == 2 * bench.count + 2, report
        return elapsed

    figures["first apply"] = median_of(runs, first_apply)
    timers = bench.loaded_timers()
    if timers != bench.count:
        raise SystemExit(f"{timers} cronsync timers loaded, expected {bench.count}")
    figures["daemon-reload (baseline)"] = median_of(runs, lambda _: bench.daemon_reload())

    def noop_apply(_: int) -> float:
        before, loaded = bench.unit_mtimes(), bench.units_loaded()
        elapsed, report = bench.apply()
        untouched = bench.unit_mtimes() == before and bench.units_loaded() == loaded
        if report["changed"] or report["reloaded"] or report["files_written"] or not untouched:
            raise SystemExit(f"the no-op apply changed something: {json.dumps(report)[:2000]}")
        return elapsed

    figures["no-op apply"] = median_of(runs, noop_apply)
    checked = "no file written (mtimes), no daemon-reload (the manager's UnitsLoadTimestamp)"
    print(f"  no-op apply, checked on each of {runs} runs: {checked}")

    def one_job_edit(round_: int) -> float:
        bench.wait_watcher_idle()  # the watcher of the last round's save must not apply this one
        write_jobs(bench.user, jobs(bench.count, edited=bench.count // 2, edit_round=round_ + 1))
        elapsed, report = bench.apply()
        if (
            report["files_written"] != [f"cronsync-job-{bench.count // 2:04d}.timer"]
            or not report["reloaded"]
        ):
            raise SystemExit(f"the one-job edit wrote {report['files_written']}")
        return elapsed

    figures["one-job edit"] = median_of(runs, one_job_edit)
    print(
        f"  one-job edit, checked on each of {runs} runs: exactly one timer file written, one daemon-reload"
    )

    def status(_: int) -> float:
        elapsed, result = bench.cronsync("status", "--json")
        rows = json.loads(result.stdout)["jobs"]
        if len(rows) != bench.count or any(
            row["installed"] != "in-sync" or not row["next_run"] for row in rows
        ):
            raise SystemExit("status did not report every job in sync with a next run")
        return elapsed

    figures["status"] = median_of(runs, status)
    return figures


def machine() -> str:
    version = subprocess.run(["systemctl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()[1].split()[1]
    return f"{os.cpu_count()} cores, {memory} RAM, {version}, Python {sys.version.split()[0]}"


def report(results: dict[int, dict[str, float]], runs: int) -> None:
    sizes = sorted(results)
    names = list(results[sizes[0]])
    print(f"\nmachine: {machine()}")
    print(f"medians of {runs} runs, seconds; ratio = the figure / the baseline named in brackets\n")
    print(f"{'':26}" + "".join(f"{n:>12} jobs" for n in sizes) + "   growth per 10x jobs")
    for name in names:
        row = [results[n][name] for n in sizes]
        growth = "   " + "  ".join(f"x{b / a:5.1f}" for a, b in itertools.pairwise(row))
        print(f"{name:26}" + "".join(f"{v:17.3f}" for v in row) + growth)
    print()
    for name in ("first apply", "no-op apply", "one-job edit", "status"):
        baseline = "daemon-reload (baseline)" if name == "first apply" else "validate (baseline)"
        ratios = "".join(f"{results[n][name] / results[n][baseline]:16.1f}x" for n in sizes)
        print(f"{name + ' / ' + baseline.split()[0]:26}{ratios}")
    if 1000 in results:
        print()
        for name, goal in GOALS_AT_1000.items():
            value = results[1000][name]
            verdict = "met" if value < goal else "NOT met"
            print(f"goal at 1000 jobs: {name:14} < {goal:4} s: {value:6.3f} s  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated job counts")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="10 and 100 jobs, 3 runs")
    args = parser.parse_args()
    reason = missing_for_user_manager()
    if reason:
        sys.exit(f"apply_scale: {reason}")
    sizes = [10, 100] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = 3 if args.quick else args.runs
    results = {}
    for count in sizes:
        print(f"{count} jobs ...", flush=True)
        results[count] = bench_size(count, runs)
        print("  " + ", ".join(f"{k} {v:.3f} s" for k, v in results[count].items()), flush=True)
    report(results, runs)


if __name__ == "__main__":
    main()
