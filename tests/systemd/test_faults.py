"""Faults on the real user manager: applies killed with SIGKILL at every phase, applies racing each other
and the auto-sync watcher, a job removed just before its timer fires, a manager that is gone, a read-only
unit directory and a full disk. Gateways that fail are in test_faults_gateways.py."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cronsync.core.ids import job_id
from tests.support.cli import cronsync
from tests.support.exectools import clean_tmp_job
from tests.support.harness import UserManager, wait_for
from tests.support.userspaces import enable_every_job

PAUSE_ENV = "CRONSYNC_DEBUG_PAUSE_AT"  # see cronsync.apply.unitfiles.debug_pause
SCHEDULES = ["*/5 * * * *", "0 9 * * 1-5", "30 2 * * *", "15 */2 * * *", "0 0 1 * *", "@hourly"]
POOL = [f"Fault {i:02d}" for i in range(16)]
WATCHER_UNITS = {"cronsync-sync.path", "cronsync-sync.service"}


def save_jobs(user_dir: Path, jobs: list[dict[str, Any]]) -> None:
    """Save jobs.json the way editors do: a temp file renamed over it."""
    target = user_dir / "config" / "jobs.json"
    temp = target.with_name(".jobs.json.tmp")
    temp.write_text(json.dumps(jobs, indent=2))
    os.rename(temp, target)


def apply_ok(user_dir: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    result = cronsync("apply", "--backend", "systemd", "--json", user_dir=user_dir, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["ok"], report
    return report


def unit_dir_contents(unit_dir: Path) -> dict[str, bytes | str]:
    """Every file in the unit dir (bytes) and every .wants link (its target), by relative path."""
    found: dict[str, bytes | str] = {}
    if not unit_dir.exists():
        return found
    for path in sorted(unit_dir.rglob("*")):
        relative = str(path.relative_to(unit_dir))
        if path.is_symlink():
            found[relative] = os.readlink(path)
        elif path.is_file():
            found[relative] = path.read_bytes()
    return found


def temp_files(unit_dir: Path) -> list[str]:
    return sorted(p.name for p in unit_dir.iterdir() if p.name.startswith("."))


def manager_view(manager: UserManager, units: list[str]) -> dict[str, dict[str, str]]:
    """LoadState, ActiveState, NeedDaemonReload and NextElapse of many units, in one systemctl call."""
    properties = "Id,LoadState,ActiveState,NeedDaemonReload,NextElapseUSecRealtime"
    out = manager.systemctl("show", f"--property={properties}", *units).stdout
    view = {}
    for block in out.split("\n\n"):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if values.get("Id"):
            view[values["Id"]] = values
    return view


def assert_converged(manager: UserManager, user_dir: Path, jobs: list[dict[str, Any]]) -> None:
    """Exactly the desired units are installed, loaded, current, enabled and running as jobs.json says."""
    unit_dir = manager.unit_dir
    assert temp_files(unit_dir) == []
    wanted_ids = {job_id(j["name"]) for j in jobs}
    names = {p.name for p in unit_dir.glob("cronsync-*")}
    assert (
        names == {f"cronsync-{i}.{kind}" for i in wanted_ids for kind in ("timer", "service")} | WATCHER_UNITS
    )
    enabled = {f"cronsync-{job_id(j['name'])}.timer" for j in jobs if j.get("enabled", True)}
    links = {p.name for p in (unit_dir / "timers.target.wants").glob("cronsync-*")}
    assert links == enabled
    plan = json.loads(cronsync("plan", "--backend", "systemd", "--json", user_dir=user_dir).stdout)
    assert plan["changed"] is False, plan
    timers = sorted(f"cronsync-{i}.timer" for i in wanted_ids)
    view = manager_view(manager, [*timers, *(t.replace(".timer", ".service") for t in timers)])
    for state in view.values():
        assert state["LoadState"] == "loaded" and state["NeedDaemonReload"] == "no", state
    for timer in timers:
        if timer in enabled:
            assert view[timer]["ActiveState"] == "active", view[timer]
            assert view[timer]["NextElapseUSecRealtime"] not in ("", "n/a"), view[timer]
        else:
            assert view[timer]["ActiveState"] == "inactive", view[timer]
    watcher = manager.show("cronsync-sync.path", "ActiveState")
    assert watcher["ActiveState"] == "active"


def random_jobs(rng: random.Random) -> list[dict[str, Any]]:
    names = rng.sample(POOL, rng.randint(6, 12))
    return [clean_tmp_job(name, rng.choice(SCHEDULES), enabled=rng.random() > 0.15) for name in sorted(names)]


def apply_argv(user_dir: Path) -> list[str]:
    return [sys.executable, "-m", "cronsync", "--user-dir", str(user_dir), "apply", "--backend", "systemd"]


def apply_paused_at(user_dir: Path, point: str, timeout: float = 60) -> subprocess.Popen[bytes] | None:
    """An apply stopped at `point`, or None when it finished without reaching it (checked: exit 0)."""
    env = {**os.environ, PAUSE_ENV: point}
    process = subprocess.Popen(
        apply_argv(user_dir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    said = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.2)
        if ready:
            chunk = os.read(process.stderr.fileno(), 4096)
            if not chunk:
                break
            said += chunk
            if f"paused at {point}\n".encode() in said:
                return process
    rest = process.stderr.read()
    assert process.wait(timeout=timeout) == 0, (point, said + rest)
    return None


@dataclass
class Trial:
    point: str
    before: dict[str, bytes | str]
    after_kill: dict[str, bytes | str]
    after: dict[str, bytes | str]


def check_no_partial_file(trial: Trial) -> None:
    """Each unit file after the kill is exactly its version before the apply or its version after."""
    for name, content in trial.after_kill.items():
        if Path(name).name.startswith("."):
            continue  # a temp file of the killed writer; the next apply must remove it (checked later)
        assert content in (trial.before.get(name), trial.after.get(name)), (trial.point, name)


def phase_of(point: str) -> str:
    head = point.split(":")[0]
    return {"stage": "write", "stage-mid": "write", "rename": "write", "unlink": "write"}.get(head, head)


def test_sigkill_at_every_phase_leaves_no_partial_file_and_the_next_apply_converges(
    systemd_user: UserManager, user_dir: Path
) -> None:
    rng = random.Random(int(os.environ.get("CRONSYNC_FAULT_SEED", "6")))
    jobs = random_jobs(rng)
    save_jobs(user_dir, jobs)
    apply_ok(user_dir)
    unit_dir = systemd_user.unit_dir
    killed: dict[str, int] = {}
    trials = 0
    while sum(killed.values()) < 32 and trials < 80:
        trials += 1
        # the watcher would apply the new jobs.json on its own; this test kills applies it starts itself
        systemd_user.systemctl("stop", "cronsync-sync.path")
        jobs = random_jobs(rng)
        save_jobs(user_dir, jobs)
        phase = ["write", "write", "unlink", "enable", "reload", "start"][trials % 6]
        point = {
            "write": f"{rng.choice(['stage', 'stage-mid', 'rename'])}:{rng.randint(0, 5)}",
            "unlink": f"unlink:{rng.randint(0, 3)}",
            "enable": "enable",
            "reload": "reload",
            "start": f"start:{rng.randint(0, 5)}",
        }[phase]
        before = unit_dir_contents(unit_dir)
        process = apply_paused_at(user_dir, point)
        if process is not None:
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=10) == -signal.SIGKILL
            killed[phase_of(point)] = killed.get(phase_of(point), 0) + 1
        after_kill = unit_dir_contents(unit_dir)
        systemd_user.systemctl("stop", "cronsync-sync.path")
        apply_ok(user_dir)
        trial = Trial(point, before, after_kill, unit_dir_contents(unit_dir))
        check_no_partial_file(trial)
        assert_converged(systemd_user, user_dir, jobs)
    assert sum(killed.values()) >= 30, killed
    assert all(killed.get(phase, 0) >= 3 for phase in ("write", "enable", "reload", "start")), killed


def test_sigkill_after_random_delays_converges(systemd_user: UserManager, user_dir: Path) -> None:
    """No hook: the kill lands wherever the clock says, inside D-Bus calls and file writes alike."""
    rng = random.Random(int(os.environ.get("CRONSYNC_FAULT_SEED", "7")))
    save_jobs(user_dir, random_jobs(rng))
    began = time.monotonic()
    apply_ok(user_dir)
    full = time.monotonic() - began
    unit_dir = systemd_user.unit_dir
    for _ in range(8):
        systemd_user.systemctl("stop", "cronsync-sync.path")
        jobs = random_jobs(rng)
        save_jobs(user_dir, jobs)
        before = unit_dir_contents(unit_dir)
        process = subprocess.Popen(apply_argv(user_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 1.0) * full)
        process.kill()
        process.wait(timeout=10)
        after_kill = unit_dir_contents(unit_dir)
        systemd_user.systemctl("stop", "cronsync-sync.path")
        apply_ok(user_dir)
        check_no_partial_file(Trial("random", before, after_kill, unit_dir_contents(unit_dir)))
        assert_converged(systemd_user, user_dir, jobs)


def test_two_applies_at_once_are_serialized(systemd_user: UserManager, user_dir: Path) -> None:
    jobs = [clean_tmp_job(name) for name in POOL[:10]]
    save_jobs(user_dir, jobs)
    argv = [*apply_argv(user_dir), "--json"]
    for round_ in range(3):
        applies = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        outputs = [process.communicate(timeout=120) for process in applies]
        assert [process.returncode for process in applies] == [0, 0], outputs
        reports = [json.loads(out) for out, _ in outputs]
        assert all(report["ok"] for report in reports)
        changed = [report["changed"] for report in reports]
        # the second one waited for the first and found nothing left to do (the watcher, installed by
        # the first round, may also have applied a save before both)
        assert changed.count(True) == 1 if round_ == 0 else changed.count(True) <= 1
        assert_converged(systemd_user, user_dir, jobs)
        jobs = [
            clean_tmp_job(name, SCHEDULES[round_ % len(SCHEDULES)]) for name in POOL[round_ : round_ + 10]
        ]
        save_jobs(user_dir, jobs)
    assert wait_for(lambda: idle_watcher(systemd_user), timeout=30)
    apply_ok(user_dir)
    assert_converged(systemd_user, user_dir, jobs)


def idle_watcher(manager: UserManager) -> bool:
    """cronsync-sync.service and the transient unit it hands the apply to (systemd-run) are done."""
    busy = manager.systemctl(
        "list-units", "--no-legend", "--state=active,activating", "cronsync-sync.service", "run-u*.service"
    ).stdout
    return not busy.strip()


def test_an_apply_while_the_path_unit_fires(systemd_user: UserManager, user_dir: Path) -> None:
    jobs = [clean_tmp_job(name) for name in POOL[:8]]
    save_jobs(user_dir, jobs)
    apply_ok(user_dir)
    for round_ in range(3):
        jobs = [clean_tmp_job(name, SCHEDULES[round_]) for name in POOL[round_ * 3 : round_ * 3 + 8]]
        save_jobs(user_dir, jobs)  # the path unit fires and its service applies after a short settle
        time.sleep(round_ * 0.6)  # before, around and during the watcher's own apply
        apply_ok(user_dir)
        assert wait_for(lambda: idle_watcher(systemd_user), timeout=30)
        assert_converged(systemd_user, user_dir, jobs)
    # after the races the watcher still works on its own (it was not left failed or stopped)
    fired = systemd_user.show("cronsync-sync.service", "ExecMainStartTimestampMonotonic")
    jobs = [*jobs, clean_tmp_job("Saved Alone")]
    save_jobs(user_dir, jobs)
    assert wait_for(
        lambda: systemd_user.show("cronsync-saved-alone.timer", "ActiveState")["ActiveState"] == "active",
        timeout=30,
    ), systemd_user.journal("cronsync-sync")
    assert wait_for(lambda: idle_watcher(systemd_user), timeout=30)
    assert systemd_user.show("cronsync-sync.service", "ExecMainStartTimestampMonotonic") != fired
    assert_converged(systemd_user, user_dir, jobs)


def test_a_job_removed_from_jobs_json_just_before_its_timer_fires(
    systemd_user: UserManager, user_dir: Path
) -> None:
    keep, doomed = clean_tmp_job("Keep Me"), clean_tmp_job("Soon Removed")
    save_jobs(user_dir, [keep, doomed])
    apply_ok(user_dir)
    systemd_user.systemctl("stop", "cronsync-sync.path")  # the save lands; the sync has not run yet
    save_jobs(user_dir, [keep])
    # the timer fires now: systemd starts the service, which runs `cronsync exec soon-removed`
    started = systemd_user.systemctl("start", "cronsync-soon-removed.service", check=False)
    assert started.returncode != 0
    service = systemd_user.show("cronsync-soon-removed.service", "Result", "ExecMainStatus")
    assert service["Result"] == "exit-code" and service["ExecMainStatus"] == "78"
    assert wait_for(lambda: systemd_user.journal("cronsync-soon-removed"), timeout=10)
    journal = "\n".join(systemd_user.journal("cronsync-soon-removed"))
    assert "no job 'soon-removed'" in journal and "Traceback" not in journal
    direct = cronsync("exec", "soon-removed", user_dir=user_dir)
    assert direct.returncode == 78 and "no job 'soon-removed'" in direct.stderr
    assert "Traceback" not in direct.stderr
    records = [json.loads(line) for line in (user_dir / "logs" / "scheduler.log").read_text().splitlines()]
    failures = [r for r in records if r["job_id"] == "soon-removed"]
    assert len(failures) == 2 and all(r["status"] == "failure" and r["exit_code"] == 78 for r in failures)
    assert all("soon-removed" in r["error"] for r in failures)
    apply_ok(user_dir)
    assert systemd_user.show("cronsync-soon-removed.timer", "LoadState")["LoadState"] == "not-found"


def assert_intact(manager: UserManager, before: dict[str, bytes | str], timers: list[str]) -> None:
    assert unit_dir_contents(manager.unit_dir) == before
    view = manager_view(manager, timers)
    for timer in timers:
        assert view[timer]["ActiveState"] == "active" and view[timer]["NeedDaemonReload"] == "no", view[timer]


def clear_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_an_unreachable_or_stopped_manager_is_a_clear_error(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    enable_every_job(user_dir)
    apply_ok(user_dir)
    timers = ["cronsync-daily-standup-summary.timer", "cronsync-clean-temp-files.timer"]
    example = json.loads((user_dir / "config" / "jobs.json").read_text())
    # the watcher, which reaches its manager, would apply this save on its own (after ~0.2 s)
    systemd_user.systemctl("stop", "cronsync-sync.path")
    save_jobs(user_dir, [*example, clean_tmp_job("Never Installed")])
    before = unit_dir_contents(systemd_user.unit_dir)
    nowhere = tmp_path / "no-runtime-dir"
    nowhere.mkdir()
    unreachable = {**os.environ, "XDG_RUNTIME_DIR": str(nowhere)}
    for command in (
        ["apply", "--backend", "systemd"],
        ["status", "--backend", "systemd"],
        ["uninstall", "--backend", "systemd"],
        ["run", "clean-temp-files"],
    ):
        result = cronsync(*command, user_dir=user_dir, env=unreachable)
        clear_failure(result, "no systemd user manager answers")
    assert_intact(systemd_user, before, timers)

    systemd_user.stop()  # the manager is gone; its socket file may be left behind
    for command in (["apply"], ["status"]):
        result = cronsync(*command, "--backend", "systemd", user_dir=user_dir)
        clear_failure(result, "no systemd user manager answers")
    assert unit_dir_contents(systemd_user.unit_dir) == before


def in_private_namespace(script: str, *args: str) -> list[str]:
    """argv that runs `sh -c script` with args in a private mount namespace (mounts vanish with it)."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-ec", script, "sh", *args]


def test_a_read_only_unit_directory_changes_nothing(systemd_user: UserManager, user_dir: Path) -> None:
    jobs = [clean_tmp_job("Stays"), clean_tmp_job("Edited"), clean_tmp_job("Removed")]
    save_jobs(user_dir, jobs)
    apply_ok(user_dir)
    timers = [f"cronsync-{job_id(j['name'])}.timer" for j in jobs]
    before = unit_dir_contents(systemd_user.unit_dir)
    read_only = 'mount --bind "$1" "$1"; mount -o remount,bind,ro "$1"; shift; exec "$@"'
    apply = [sys.executable, "-m", "cronsync", "--user-dir", str(user_dir), "apply", "--backend", "systemd"]
    systemd_user.systemctl("stop", "cronsync-sync.path")
    for edited in (
        [
            clean_tmp_job("Stays"),
            clean_tmp_job("Edited", "0 4 * * *"),
            clean_tmp_job("Added"),
        ],  # writes and deletes
        [clean_tmp_job("Stays"), clean_tmp_job("Edited")],  # deletes only
    ):
        save_jobs(user_dir, edited)
        argv = in_private_namespace(read_only, str(systemd_user.unit_dir), *apply)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        clear_failure(result, str(systemd_user.unit_dir), "nothing was changed")
        assert_intact(systemd_user, before, timers)
    apply_ok(user_dir)  # writable again: it converges
    assert_converged(systemd_user, user_dir, [clean_tmp_job("Stays"), clean_tmp_job("Edited")])


def test_a_full_disk_changes_nothing(systemd_user: UserManager, user_dir: Path, tmp_path: Path) -> None:
    """A 1 MiB tmpfs holds the user space and the unit directory, mounted in the manager's private
    namespace (so the manager reads the same files); cronsync runs inside that namespace too."""
    small = tmp_path / "small"
    small.mkdir()
    unit_dir = systemd_user.unit_dir
    unit_dir.mkdir(parents=True, exist_ok=True)
    setup = (
        'mount -t tmpfs -o size=1m tmpfs "$1"; mkdir "$1/units"; cp -a "$3" "$1/USER"; '
        'mount --bind "$1/units" "$2"'
    )
    nsenter = systemd_user.tree.nsenter
    subprocess.run(nsenter(["sh", "-ec", setup, "sh", str(small), str(unit_dir), str(user_dir)]), check=True)
    user = small / "USER"
    seen = Path(f"/proc/{systemd_user.pid}/root")  # the namespace's view of the file system

    def inside(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "cronsync", "--user-dir", str(user), *args]
        return subprocess.run(nsenter(argv), capture_output=True, text=True, timeout=120)

    def contents() -> dict[str, bytes | str]:
        return unit_dir_contents(seen / unit_dir.relative_to("/"))

    def save(jobs: list[dict[str, Any]]) -> None:
        target = seen / (user / "config" / "jobs.json").relative_to("/")
        target.write_text(json.dumps(jobs))

    jobs = [clean_tmp_job("On Tmpfs"), clean_tmp_job("Edited On Tmpfs")]
    save(jobs)
    first = inside("apply", "--backend", "systemd")
    assert first.returncode == 0, first.stderr
    timers = ["cronsync-on-tmpfs.timer", "cronsync-edited-on-tmpfs.timer"]
    before = contents()
    assert "cronsync-on-tmpfs.timer" in before
    systemd_user.systemctl("stop", "cronsync-sync.path")
    save(
        [
            clean_tmp_job("On Tmpfs"),
            clean_tmp_job("Edited On Tmpfs", "0 4 * * *"),
            clean_tmp_job("Added On Tmpfs"),
        ]
    )
    filler = small / "filler"
    fill = subprocess.run(nsenter(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"]), capture_output=True)
    assert b"No space left on device" in fill.stderr
    result = inside("apply", "--backend", "systemd")
    clear_failure(result, "No space left on device", "nothing was changed")
    assert contents() == before
    view = manager_view(systemd_user, timers)
    assert all(v["ActiveState"] == "active" and v["NeedDaemonReload"] == "no" for v in view.values()), view
    subprocess.run(nsenter(["rm", str(filler)]), check=True)
    again = inside("apply", "--backend", "systemd")
    assert again.returncode == 0, again.stderr
    assert systemd_user.show("cronsync-added-on-tmpfs.timer", "ActiveState")["ActiveState"] == "active"
    assert not [name for name in contents() if Path(name).name.startswith(".")]
