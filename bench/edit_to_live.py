"""From saving jobs.json (by rename, as editors do) to the new timer being live, through auto-sync.

    python bench/edit_to_live.py [--jobs N] [--runs R] [--quick]

Starts a fresh `systemd --user` (the tests' harness: private mount namespace, temporary HOME and
XDG dirs), installs N jobs with `cronsync apply` (which also installs the cronsync-sync.path
watcher), then R times: writes jobs.json with one more job to a temp file, renames it over jobs.json
and polls the manager (D-Bus, every 10 ms) until that job's timer is loaded, active and has a next
elapse time. Baseline, measured in the same run: the same kind of edit applied by hand
(`cronsync apply`, from its start to its exit). Goal: < 2 s.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apply_scale import make_user_space

from tests.support.harness import UserManager, missing_for_user_manager

GOAL_SECONDS = 2.0
POLL_SECONDS = 0.01


def job(name: str) -> dict[str, Any]:
    return {"name": name, "cron": "30 2 * * *", "action": "script", "payload": {"path": "scripts/noop.sh"}}


def save_by_rename(user: Path, jobs: list[dict[str, Any]]) -> None:
    target = user / "config" / "jobs.json"
    temp = target.with_name(".jobs.json.swp")
    temp.write_text(json.dumps(jobs, indent=2))
    os.rename(temp, target)


class Live:
    """The manager's view of one timer, read over its private D-Bus socket (no process per poll)."""

    def __init__(self, runtime_dir: Path) -> None:
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
        from cronsync.adapters import systemd

        manager = systemd.connect()
        if manager is None:
            raise SystemExit("edit_to_live: cannot reach the user manager")
        self.manager = manager

    def is_live(self, timer: str) -> bool:
        state = self.manager.states([timer])[timer]
        return state.loaded and state.active_state == "active" and state.next_elapse_usec > 0


def watcher_state(manager: UserManager) -> str:
    units = ("cronsync-sync.path", "cronsync-sync.service")
    status = manager.systemctl("status", "--no-pager", *units, check=False).stdout
    return "\n".join([*manager.journal("cronsync-sync"), status])


def run(count: int, runs: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory(prefix="cs-bench-") as tmp:
        root = Path(tmp)
        home = root / "home"
        (home / ".config").mkdir(parents=True)
        path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        manager = UserManager.start(home, home / ".config", root, path=path)
        try:
            env = {
                **{k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"},
                "HOME": str(home),
                "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_RUNTIME_DIR": str(manager.runtime_dir),
                "PATH": path,
            }
            user = make_user_space(root)
            jobs = [job(f"Base {i}") for i in range(count)]
            save_by_rename(user, jobs)
            apply = [
                sys.executable,
                "-m",
                "cronsync",
                "--user-dir",
                str(user),
                "apply",
                "--backend",
                "systemd",
            ]
            subprocess.run(apply, env=env, check=True, capture_output=True)
            live = Live(manager.runtime_dir)
            by_watcher, by_hand = [], []
            for i in range(runs):
                jobs.append(job(f"Live {i}"))
                began = time.perf_counter()
                save_by_rename(user, jobs)
                timer = f"cronsync-live-{i}.timer"
                while not live.is_live(timer):
                    if time.perf_counter() - began > 60:
                        raise SystemExit(
                            f"{timer} is not live 60 s after the save:\n{watcher_state(manager)}"
                        )
                    time.sleep(POLL_SECONDS)
                by_watcher.append(time.perf_counter() - began)
                time.sleep(1.5)  # let the watcher finish before the next save

                # baseline: stop the watcher, make the same kind of edit, apply by hand
                manager.systemctl("stop", "cronsync-sync.path")
                jobs.append(job(f"Manual {i}"))
                save_by_rename(user, jobs)
                began = time.perf_counter()
                subprocess.run(apply, env=env, check=True, capture_output=True)  # also restarts the watcher
                by_hand.append(time.perf_counter() - began)
                if not live.is_live(f"cronsync-manual-{i}.timer"):
                    raise SystemExit(f"cronsync-manual-{i}.timer is not live after apply")
            return by_watcher, by_hand
        finally:
            manager.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs installed before the edits")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="10 jobs, 3 runs")
    args = parser.parse_args()
    reason = missing_for_user_manager()
    if reason:
        sys.exit(f"edit_to_live: {reason}")
    count, runs = (10, 3) if args.quick else (args.jobs, args.runs)
    by_watcher, by_hand = run(count, runs)
    watcher, hand = statistics.median(by_watcher), statistics.median(by_hand)
    print(f"jobs installed: {count}; runs: {runs}")
    spread = f"(min {min(by_watcher):.3f}, max {max(by_watcher):.3f})"
    print(f"save -> timer live (auto-sync)   median {watcher:6.3f} s  {spread}")
    print(f"cronsync apply by hand (baseline) median {hand:6.3f} s")
    print(f"ratio auto-sync / by hand                {watcher / hand:6.1f}x")
    verdict = "met" if watcher < GOAL_SECONDS else "NOT met"
    print(f"goal < {GOAL_SECONDS:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
