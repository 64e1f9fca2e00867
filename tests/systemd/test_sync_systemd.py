"""plan/apply and the everyday commands against a real systemd user manager."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cronsim
import pytest

from cronsync.userspace.paths import UserSpace
from tests.support.cli import CRONSYNC_ARGV, apply_json, cronsync
from tests.support.exectools import (
    clean_tmp_job,
    log_records,
    make_space,
    run_exec,
    script_job,
    write_secrets,
)
from tests.support.harness import UserManager, wait_for
from tests.support.hostile import shown_environment
from tests.support.userspaces import jobs_of, mtimes, write_jobs

CLEAN = {
    "name": "Clean Temp Files",
    "cron": "0 0 * * 0",
    "action": "script",
    "payload": {"path": "scripts/clean_tmp.py"},
}
EXAMPLE_TIMERS = ["cronsync-daily-standup-summary.timer", "cronsync-clean-temp-files.timer"]


def shown_time(value: str) -> datetime:
    """`systemctl show` times: `Fri 2026-11-27 09:00:00 UTC`."""
    return datetime.strptime(" ".join(value.split()[1:3]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def expected_next(cron: str) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    result: datetime = next(cronsim.CronSim(cron, now))
    return result


class Sentinel:
    """A loaded unit whose file changed on disk: NeedDaemonReload stays `yes` until someone reloads."""

    def __init__(self, manager: UserManager) -> None:
        self.manager = manager
        path = manager.unit_dir / "reload-sentinel.service"
        manager.unit_dir.mkdir(parents=True, exist_ok=True)
        # active (RemainAfterExit) so that the manager keeps it loaded instead of collecting it
        path.write_text("[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
        manager.systemctl("daemon-reload")
        manager.systemctl("start", "reload-sentinel.service")
        path.write_text("[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n# changed\n")
        assert self.reloaded() is False

    def reloaded(self) -> bool:
        return self.manager.show("reload-sentinel.service", "NeedDaemonReload")["NeedDaemonReload"] == "no"


def test_apply_installs_running_timers_with_the_right_next_elapse(
    systemd_user: UserManager, user_dir: Path
) -> None:
    report = apply_json(user_dir)
    assert report["ok"] and report["reloaded"]
    assert {job["id"]: job["action"] for job in report["jobs"]} == {
        "daily-standup-summary": "create",
        "clean-temp-files": "create",
        "sync": "create",
    }
    for timer, cron in zip(EXAMPLE_TIMERS, ["0 9 * * 1-5", "0 0 * * 0"], strict=True):
        state = systemd_user.show(timer, "ActiveState", "UnitFileState", "NextElapseUSecRealtime")
        assert state["ActiveState"] == "active" and state["UnitFileState"] == "enabled"
        assert shown_time(state["NextElapseUSecRealtime"]) == expected_next(cron)
    watcher = systemd_user.show("cronsync-sync.path", "ActiveState", "UnitFileState")
    assert watcher == {"ActiveState": "active", "UnitFileState": "enabled"}


def test_second_apply_writes_nothing_and_does_not_reload(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    before = mtimes(systemd_user.unit_dir)
    sentinel = Sentinel(systemd_user)
    report = apply_json(user_dir)
    assert report["changed"] is False and report["reloaded"] is False and report["files_written"] == []
    assert {job["action"] for job in report["jobs"]} == {"unchanged"}
    assert mtimes(systemd_user.unit_dir) == {
        **before,
        "reload-sentinel.service": mtimes(systemd_user.unit_dir)["reload-sentinel.service"],
    }
    assert not sentinel.reloaded()
    plan = json.loads(cronsync("plan", "--json", user_dir=user_dir).stdout)
    assert plan["changed"] is False


def test_edit_remove_disable_change_exactly_those_units(systemd_user: UserManager, user_dir: Path) -> None:
    write_jobs(
        user_dir,
        [
            clean_tmp_job("Keep"),
            clean_tmp_job("Edit Me"),
            clean_tmp_job("Remove Me"),
            clean_tmp_job("Disable Me"),
        ],
    )
    apply_json(user_dir)
    systemd_user.systemctl("stop", "cronsync-sync.path")  # this apply, not the watcher's, is under test
    unit_dir = systemd_user.unit_dir
    before = mtimes(unit_dir)
    write_jobs(
        user_dir,
        [
            clean_tmp_job("Keep"),
            clean_tmp_job("Edit Me", "0 9 * * 1-5"),
            clean_tmp_job("Disable Me", enabled=False),
            clean_tmp_job("Added"),
        ],
    )
    plan = json.loads(cronsync("plan", "--json", "--diff", user_dir=user_dir).stdout)
    actions = {job["id"]: job["action"] for job in plan["jobs"]}
    assert actions == {
        "keep": "unchanged",
        "edit-me": "update",
        "disable-me": "update",
        "added": "create",
        "remove-me": "delete",
        "sync": "unchanged",
    }
    edit = next(job for job in plan["jobs"] if job["id"] == "edit-me")
    assert edit["changes"] == ["cronsync-edit-me.timer: OnCalendar"]
    assert "+OnCalendar=" in edit["diff"]
    assert mtimes(unit_dir) == before  # plan wrote nothing

    report = apply_json(user_dir)
    after = mtimes(unit_dir)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert changed == {
        "cronsync-edit-me.timer",
        "cronsync-remove-me.timer",
        "cronsync-remove-me.service",
        "cronsync-added.timer",
        "cronsync-added.service",
    }
    assert report["files_deleted"] == ["cronsync-remove-me.service", "cronsync-remove-me.timer"]
    edited = systemd_user.show("cronsync-edit-me.timer", "NextElapseUSecRealtime", "ActiveState")
    assert shown_time(edited["NextElapseUSecRealtime"]) == expected_next("0 9 * * 1-5")
    assert systemd_user.show("cronsync-remove-me.timer", "LoadState")["LoadState"] == "not-found"
    disabled = systemd_user.show("cronsync-disable-me.timer", "ActiveState", "UnitFileState")
    assert disabled == {"ActiveState": "inactive", "UnitFileState": "disabled"}
    assert (unit_dir / "cronsync-disable-me.service").exists()
    assert systemd_user.show("cronsync-added.timer", "ActiveState")["ActiveState"] == "active"
    assert not (unit_dir / "timers.target.wants" / "cronsync-remove-me.timer").exists()


def test_hostile_names_paths_and_env_reach_systemd_exactly(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    weird = tmp_path / 'it\'s 50% "odd" $HOME; \\back ${X} %h'
    shutil.copytree(user_dir, weird / "USER")
    hostile_env = {
        "NEWLINE": "one\ntwo",
        "QUOTES": "\"double\" 'single'",
        "SPECIAL": "100% $HOME ${PATH} %n; \\ \\n",
        "TRAIL": "ends\\",
        "CTRL": "a\tb\x01c\x7fd\u0085e",
    }
    jobs = [
        clean_tmp_job(
            'Tricky %n "name" $USER; \\', payload={"path": "scripts/clean_tmp.py", "env": hostile_env}
        )
    ]
    write_jobs(weird / "USER", jobs)
    apply_json(weird / "USER")
    service = "cronsync-tricky-n-name-user.service"
    shown = systemd_user.show(service, "ExecStart", "Description")
    # --value: one property per call, because systemd prints U+0085 raw and str.splitlines splits there
    environment = systemd_user.systemctl("show", service, "--property=Environment", "--value").stdout
    assert shown_environment(environment.removesuffix("\n")) == hostile_env
    argv = [*CRONSYNC_ARGV, "--user-dir", str(weird / "USER"), "exec", "tricky-n-name-user"]
    # systemd keeps `$$` (its escape for `$`) in the stored argv and replaces it when it executes
    assert f"argv[]={' '.join(a.replace('$', '$$') for a in argv)} ;" in shown["ExecStart"]
    assert shown["Description"] == 'Tricky %n "name" $USER; \\ (cronsync job tricky-n-name-user)'
    # the watcher of this user dir works too: its path and the transient apply's argv survive escaping
    path_unit = systemd_user.show("cronsync-sync.path", "Paths")["Paths"]
    assert path_unit == f"{weird / 'USER' / 'config'} (PathChanged)"
    write_jobs(weird / "USER", [*jobs, clean_tmp_job("Seen By The Watcher")])
    watched = "cronsync-seen-by-the-watcher.timer"
    assert wait_for(
        lambda: systemd_user.show(watched, "ActiveState")["ActiveState"] == "active", timeout=20
    ), "\n".join(systemd_user.journal("cronsync-sync"))


def test_invalid_jobs_change_nothing(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    before = mtimes(systemd_user.unit_dir)
    sentinel = Sentinel(systemd_user)
    write_jobs(
        user_dir,
        [
            clean_tmp_job("A", "61 * * * *"),
            {"name": "B", "cron": "* * * * *", "action": "nope"},
            clean_tmp_job("A"),
        ],
    )
    result = cronsync("apply", user_dir=user_dir)
    assert result.returncode == 1
    assert "job #0 ('A'), field 'cron'" in result.stderr
    assert "job #1 ('B')" in result.stderr and "unknown action 'nope'" in result.stderr
    assert "job #2 ('A'), field 'name': duplicate name" in result.stderr
    assert "Traceback" not in result.stderr
    assert {k: v for k, v in mtimes(systemd_user.unit_dir).items() if k in before} == before
    assert not sentinel.reloaded()
    assert systemd_user.show(EXAMPLE_TIMERS[0], "ActiveState")["ActiveState"] == "active"


def test_an_apply_killed_before_reload_converges(systemd_user: UserManager, user_dir: Path) -> None:
    from cronsync.adapters.systemd import connect
    from cronsync.apply.systemd import SystemdBackend
    from cronsync.config import load_config
    from cronsync.userspace.files import atomic_write
    from cronsync.userspace.paths import systemd_user_unit_dir

    apply_json(user_dir)
    jobs = jobs_of(user_dir)
    jobs[1]["cron"] = "30 6 * * *"
    write_jobs(user_dir, jobs)
    space = UserSpace(user_dir)
    manager = connect()
    assert manager is not None
    plan = SystemdBackend(manager, systemd_user_unit_dir()).plan(load_config(space))
    for name, text in plan.writes.items():  # what a killed apply leaves: new files, no reload, no restart
        atomic_write(systemd_user.unit_dir / name, text, 0o644)
    assert not list(systemd_user.unit_dir.glob(".*"))  # no temp file left behind
    report = apply_json(user_dir)
    assert report["reloaded"] is True and report["files_written"] == []
    shown = systemd_user.show("cronsync-clean-temp-files.timer", "NextElapseUSecRealtime", "NeedDaemonReload")
    assert shown["NeedDaemonReload"] == "no"
    assert shown_time(shown["NextElapseUSecRealtime"]) == expected_next("30 6 * * *")


def test_applies_are_serialized_by_a_lock(systemd_user: UserManager, user_dir: Path) -> None:
    space = UserSpace(user_dir)
    space.state_dir.mkdir(parents=True, exist_ok=True)
    with open(space.apply_lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiting = subprocess.Popen(
            [sys.executable, "-m", "cronsync", "--user-dir", str(user_dir), "apply"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(2)
            assert waiting.poll() is None, waiting.communicate()
            assert (
                not list(systemd_user.unit_dir.glob("cronsync-*")) if systemd_user.unit_dir.exists() else True
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "create" in out and systemd_user.show(EXAMPLE_TIMERS[0], "ActiveState")["ActiveState"] == "active"


def test_auto_sync_sees_in_place_and_rename_saves(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    jobs_file = user_dir / "config" / "jobs.json"

    def active(timer: str) -> bool:
        return systemd_user.show(timer, "ActiveState")["ActiveState"] == "active"

    jobs = jobs_of(user_dir)
    jobs.append(clean_tmp_job("Saved In Place"))
    with open(jobs_file, "w") as handle:  # what `echo > file` and many editors do
        handle.write(json.dumps(jobs, indent=2))
    assert wait_for(lambda: active("cronsync-saved-in-place.timer"), timeout=20)

    jobs.append(clean_tmp_job("Saved By Rename"))
    temp = jobs_file.with_name(".jobs.json.swp")
    temp.write_text(json.dumps(jobs, indent=2))
    os.rename(temp, jobs_file)  # what vim, VS Code and most editors do
    assert wait_for(lambda: active("cronsync-saved-by-rename.timer"), timeout=20)

    before = mtimes(systemd_user.unit_dir)
    jobs_file.write_text('[{"name": "Broken", "cron": "99 * * * *"')
    assert wait_for(
        lambda: any("invalid JSON" in line for line in systemd_user.journal("cronsync-sync")), timeout=20
    ), (
        "\n".join(systemd_user.journal("cronsync-sync")),
        systemd_user.systemctl("status", "cronsync-sync.service", check=False).stdout,
        subprocess.run(
            systemd_user.tree.nsenter(["journalctl", "--no-pager", "-o", "short-precise"]),
            capture_output=True,
            text=True,
        ).stdout[-6000:],
    )
    assert mtimes(systemd_user.unit_dir) == before
    assert active("cronsync-saved-by-rename.timer")


def test_a_burst_of_saves_leads_to_the_last_one_and_never_trips_the_start_limit(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    jobs_file = user_dir / "config" / "jobs.json"
    base = jobs_of(user_dir)
    for i in range(40):
        temp = jobs_file.with_name(f".save{i}")
        temp.write_text(json.dumps([*base, clean_tmp_job(f"Burst {i}")]))
        os.rename(temp, jobs_file)
        time.sleep(0.05)

    def settled() -> bool:
        units = {p.name for p in systemd_user.unit_dir.glob("cronsync-burst-*.timer")}
        if units != {"cronsync-burst-39.timer"}:
            return False
        return systemd_user.show("cronsync-burst-39.timer", "ActiveState")["ActiveState"] == "active"

    assert wait_for(settled, timeout=40), (
        sorted(p.name for p in systemd_user.unit_dir.glob("cronsync-burst-*.timer")),
        systemd_user.systemctl("status", "cronsync-sync.service", "cronsync-sync.path", check=False).stdout,
        subprocess.run(
            systemd_user.tree.nsenter(["journalctl", "--no-pager", "-o", "short-precise"]),
            capture_output=True,
            text=True,
        ).stdout[-12000:],
    )
    assert systemd_user.show("cronsync-sync.service", "Result")["Result"] == "success"
    assert systemd_user.show("cronsync-sync.path", "ActiveState", "Result") == {
        "ActiveState": "active",
        "Result": "success",
    }
    assert systemd_user.show("cronsync-burst-39.timer", "ActiveState")["ActiveState"] == "active"


def test_status_reports_schedules_and_drift(systemd_user: UserManager, user_dir: Path) -> None:
    jobs = jobs_of(user_dir)
    jobs[1]["description"] = "Deletes old files from /tmp"
    write_jobs(user_dir, jobs)
    apply_json(user_dir)
    rows = {
        row["id"]: row for row in json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
    }
    clean = rows["clean-temp-files"]
    assert clean["installed"] == "in-sync" and clean["enabled"] is True and clean["schedule"] == "0 0 * * 0"
    assert clean["description"] == "Deletes old files from /tmp"
    assert clean["schedule_description"] == "At 00:00 on Sunday"
    assert datetime.fromisoformat(clean["next_run"]) == expected_next("0 0 * * 0")
    assert clean["last_run"] is None
    unit = systemd_user.unit_dir / "cronsync-clean-temp-files.timer"
    unit.write_text(unit.read_text().replace("Persistent=true", "Persistent=false"))
    listed = json.loads(cronsync("list", "--json", user_dir=user_dir).stdout)["jobs"]
    clean = next(row for row in listed if row["id"] == "clean-temp-files")
    assert clean["installed"] == "differs" and clean["changes"] == [
        "cronsync-clean-temp-files.timer: Persistent"
    ]
    text = cronsync("status", user_dir=user_dir).stdout
    assert "Deletes old files from /tmp" in text and "installed: differs" in text


def test_run_starts_the_service_and_marks_the_run_manual(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    before = systemd_user.show("cronsync-clean-temp-files.service", "ExecMainStartTimestampMonotonic")
    result = cronsync("run", "Clean Temp Files", user_dir=user_dir)
    assert "started cronsync-clean-temp-files.service" in result.stdout, result.stderr
    after = systemd_user.show(
        "cronsync-clean-temp-files.service", "ExecMainStartTimestampMonotonic", "Result"
    )
    assert after["ExecMainStartTimestampMonotonic"] != before["ExecMainStartTimestampMonotonic"]
    assert after["Result"] == "success" and result.returncode == 0, result.stderr
    records = [json.loads(line) for line in UserSpace(user_dir).log_file.read_text().splitlines()]
    assert [(r["job_id"], r["trigger"]) for r in records] == [("clean-temp-files", "manual")]
    assert not UserSpace(user_dir).run_request_file("clean-temp-files").exists()  # exec consumed it
    rows = json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
    clean = next(row for row in rows if row["id"] == "clean-temp-files")
    assert clean["last_run"] is not None and clean["last_result"] == after["Result"]
    unknown = cronsync("run", "No Such Job", user_dir=user_dir)
    assert unknown.returncode == 1 and "no job named or with id 'No Such Job'" in unknown.stderr


def test_logs_reads_the_journal_by_identifier(systemd_user: UserManager, user_dir: Path) -> None:
    subprocess.run(
        systemd_user.tree.nsenter(
            ["systemd-cat", "-t", "cronsync-clean-temp-files", "echo", "hello from the job"]
        ),
        check=True,
    )
    subprocess.run(
        systemd_user.tree.nsenter(["systemd-cat", "-t", "cronsync-other", "echo", "not this one"]), check=True
    )
    assert wait_for(lambda: systemd_user.journal("cronsync-clean-temp-files"), timeout=10)
    argv = [
        sys.executable,
        "-m",
        "cronsync",
        "--user-dir",
        str(user_dir),
        "logs",
        "clean-temp-files",
        "-n",
        "5",
    ]
    result = subprocess.run(systemd_user.tree.nsenter(argv), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "hello from the job" in result.stdout and "not this one" not in result.stdout


def test_logs_falls_back_to_scheduler_log(user_dir: Path) -> None:
    log = UserSpace(user_dir).log_file
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = [{"job_id": "clean-temp-files", "status": "ok", "n": i} for i in range(5)]
    lines.insert(2, {"job_id": "daily-standup-summary", "status": "failed"})
    log.write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
    result = cronsync("logs", "Clean Temp Files", "-n", "3", "--json", user_dir=user_dir)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["n"] for line in result.stdout.splitlines()] == [2, 3, 4]


def test_logs_without_a_journal_prints_readable_lines(tmp_path: Path) -> None:
    user = make_space(
        tmp_path, [script_job("Talks", "talks.sh")], scripts={"talks.sh": "#!/bin/sh\necho hello there\n"}
    )
    assert run_exec(user, "talks").returncode == 0
    shown = cronsync("logs", "talks", user_dir=user)
    assert shown.returncode == 0, shown.stderr
    header, row, output = shown.stdout.splitlines()
    (record,) = log_records(user)
    assert header.split() == ["START", "JOB", "TRIGGER", "STATUS", "DURATION", "EXIT"]
    assert row.split()[2:5] == ["talks", "timer", "success"] and row.split()[-1] == "0"
    assert row.startswith(record["start"][:19].replace("T", " "))
    assert output.strip() == "hello there" and "{" not in shown.stdout


def editor_script(tmp_path: Path, *versions: str) -> Path:
    """An $EDITOR that writes the next of `versions` into the file it is given, one per call."""
    (tmp_path / "versions.json").write_text(json.dumps(list(versions)))
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import json, sys, pathlib\n"
        f"state = pathlib.Path({str(tmp_path / 'calls')!r})\n"
        "calls = int(state.read_text()) if state.exists() else 0\n"
        f"versions = json.loads(pathlib.Path({str(tmp_path / 'versions.json')!r}).read_text())\n"
        "pathlib.Path(sys.argv[1]).write_text(versions[calls])\n"
        "state.write_text(str(calls + 1))\n"
    )
    return editor


def test_edit_validates_offers_a_re_edit_and_applies(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    jobs_file = user_dir / "config" / "jobs.json"
    good = json.dumps([*jobs_of(user_dir), clean_tmp_job("From The Editor")])
    editor = editor_script(tmp_path, '[{"name": "x", "cron": "nope"}]', good)
    env = {**os.environ, "EDITOR": f"{sys.executable} {editor}", "VISUAL": "", "TMPDIR": str(tmp_path)}
    result = cronsync("edit", user_dir=user_dir, input="y\n", env=env)
    assert result.returncode == 0, result.stderr
    assert "job #0 ('x')" in result.stderr and "Edit again?" in result.stderr
    assert (tmp_path / "calls").read_text() == "2"
    assert jobs_file.read_text() == good
    assert systemd_user.show("cronsync-from-the-editor.timer", "ActiveState")["ActiveState"] == "active"


def test_edit_keeps_jobs_json_when_the_user_gives_up(user_dir: Path, tmp_path: Path) -> None:
    jobs_file = user_dir / "config" / "jobs.json"
    original = jobs_file.read_bytes()
    editor = editor_script(tmp_path, "[not json")
    env = {**os.environ, "EDITOR": f"{sys.executable} {editor}", "VISUAL": "", "TMPDIR": str(tmp_path)}
    result = cronsync("edit", user_dir=user_dir, input="n\n", env=env)
    assert result.returncode == 1
    assert "invalid JSON" in result.stderr and "jobs.json left unchanged" in result.stderr
    assert jobs_file.read_bytes() == original


def test_an_aborted_edit_says_where_the_edit_is_kept(user_dir: Path, tmp_path: Path) -> None:
    original = (user_dir / "config" / "jobs.json").read_bytes()
    editor = editor_script(tmp_path, "[not json")
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    env = {**os.environ, "EDITOR": f"{sys.executable} {editor}", "VISUAL": "", "TMPDIR": str(drafts)}
    result = cronsync("edit", user_dir=user_dir, input="", env=env)  # no answer to "Edit again?"
    assert result.returncode == 1 and "edit aborted; jobs.json left unchanged" in result.stderr
    (kept,) = drafts.glob("cronsync-edit-*/jobs.json")
    assert f"your edit is kept in {kept}" in result.stderr and kept.read_text() == "[not json"
    assert (user_dir / "config" / "jobs.json").read_bytes() == original


def test_edit_writes_through_a_symlinked_jobs_json(user_dir: Path, tmp_path: Path) -> None:
    """jobs.json kept in a dotfiles repository and linked into the user space stays a link."""
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (user_dir / "config" / "jobs.json").rename(dotfiles / "jobs.json")
    (user_dir / "config" / "jobs.json").symlink_to(dotfiles / "jobs.json")
    good = json.dumps([*jobs_of(user_dir), clean_tmp_job("Linked")])
    editor = editor_script(tmp_path, good)
    env = {**os.environ, "EDITOR": f"{sys.executable} {editor}", "VISUAL": "", "TMPDIR": str(tmp_path)}
    result = cronsync("edit", "--no-apply", user_dir=user_dir, env=env)
    assert result.returncode == 0, result.stderr
    assert (user_dir / "config" / "jobs.json").is_symlink()
    assert (dotfiles / "jobs.json").read_text() == good


def test_uninstall_stops_the_watcher_and_removes_only_marked_units(
    systemd_user: UserManager, user_dir: Path
) -> None:
    unit_dir = systemd_user.unit_dir
    unit_dir.mkdir(parents=True, exist_ok=True)
    mine = unit_dir / "cronsync-mine.service"
    mine.write_text("[Service]\nType=oneshot\nExecStart=/bin/true\n")
    other = unit_dir / "other.timer"
    other.write_text("[Timer]\nOnCalendar=daily\n")
    apply_json(user_dir)
    result = cronsync("uninstall", "--backend", "systemd", "--json", user_dir=user_dir)
    assert result.returncode == 0, result.stderr
    removed = json.loads(result.stdout)["units"]
    assert set(removed) == {
        "cronsync-sync.path",
        "cronsync-sync.service",
        *EXAMPLE_TIMERS,
        "cronsync-daily-standup-summary.service",
        "cronsync-clean-temp-files.service",
    }
    assert sorted(p.name for p in unit_dir.iterdir() if p.is_file()) == [
        "cronsync-mine.service",
        "other.timer",
    ]
    assert mine.read_text() == "[Service]\nType=oneshot\nExecStart=/bin/true\n"
    assert systemd_user.show("cronsync-sync.path", "LoadState")["LoadState"] == "not-found"
    wants = unit_dir / "timers.target.wants"
    assert not wants.exists() or not any(wants.iterdir())
    again = cronsync("uninstall", "--backend", "systemd", user_dir=user_dir)
    assert "nothing to remove" in again.stdout


def test_apply_refuses_to_overwrite_an_unmarked_unit(systemd_user: UserManager, user_dir: Path) -> None:
    systemd_user.unit_dir.mkdir(parents=True, exist_ok=True)
    theirs = systemd_user.unit_dir / "cronsync-clean-temp-files.timer"
    theirs.write_text("[Timer]\nOnCalendar=daily\n")
    result = cronsync("apply", user_dir=user_dir)
    assert result.returncode == 1 and "not managed by cronsync" in result.stderr
    assert theirs.read_text() == "[Timer]\nOnCalendar=daily\n"
    assert not (systemd_user.unit_dir / "cronsync-daily-standup-summary.timer").exists()


def test_doctor_points_at_what_to_fix(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    healthy = json.loads(cronsync("doctor", "--json", user_dir=user_dir).stdout)
    checks = {f["check"]: f for f in healthy["findings"]}
    assert checks["user manager"]["level"] == "ok"
    assert checks["cronsync executable"]["level"] == "ok" and checks["installed"]["level"] == "ok"
    assert (
        checks["lingering"]["fix"] == f"sudo loginctl enable-linger {os.environ.get('USER') or 'root'}"
        or checks["lingering"]["level"] == "ok"
    )
    unit = systemd_user.unit_dir / "cronsync-clean-temp-files.service"
    launcher = CRONSYNC_ARGV[-1]  # cronsync's __main__.py, which the unit's Python runs
    unit.write_text(unit.read_text().replace(launcher, "/nonexistent/cronsync/__main__.py"))
    broken = cronsync("doctor", user_dir=user_dir)
    assert broken.returncode == 1
    assert "/nonexistent/cronsync/__main__.py" in broken.stdout and "fix: cronsync apply" in broken.stdout


def test_a_timer_really_runs_cronsync_exec(systemd_user: UserManager, user_dir: Path) -> None:
    write_jobs(
        user_dir,
        [
            clean_tmp_job(
                "Every Minute", "* * * * *", payload={"path": "scripts/clean_tmp.py", "args": ["--help"]}
            )
        ],
    )
    apply_json(user_dir)

    def triggered() -> bool:
        return systemd_user.show("cronsync-every-minute.timer", "LastTriggerUSec")["LastTriggerUSec"] not in (
            "",
            "n/a",
        )

    assert wait_for(triggered, timeout=75, interval=0.5)
    service = systemd_user.show(
        "cronsync-every-minute.service", "ExecMainStartTimestampMonotonic", "ExecStart"
    )
    assert service["ExecMainStartTimestampMonotonic"] != "0"
    assert (
        f"argv[]={' '.join(CRONSYNC_ARGV)} --user-dir {user_dir} exec every-minute ;" in service["ExecStart"]
    )
    log = UserSpace(user_dir).log_file
    assert wait_for(log.exists, timeout=60), (
        systemd_user.systemctl("status", "cronsync-every-minute.service", check=False).stdout,
        systemd_user.journal("cronsync-every-minute"),
    )
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e.get("job_id") == "every-minute" and "status" in e for e in entries)


def test_without_pystemd_systemctl_does_the_same_work(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hidden = tmp_path / "hide-pystemd" / "pystemd"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('pystemd is not installed here')\n")
    monkeypatch.setenv("PYTHONPATH", str(hidden.parent))
    doctor = json.loads(cronsync("doctor", "--json", user_dir=user_dir).stdout)
    assert "via systemctl" in next(f["message"] for f in doctor["findings"] if f["check"] == "user manager")
    report = apply_json(user_dir)
    assert report["ok"] and report["reloaded"]
    assert [job["next_run"] for job in report["jobs"][:2]] == [
        expected_next("0 9 * * 1-5").isoformat(),
        expected_next("0 0 * * 0").isoformat(),
    ]
    assert systemd_user.show(EXAMPLE_TIMERS[0], "UnitFileState")["UnitFileState"] == "enabled"
    assert apply_json(user_dir)["changed"] is False
    run = cronsync("run", "clean-temp-files", user_dir=user_dir)
    assert "started cronsync-clean-temp-files.service" in run.stdout, run.stderr
    rows = json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
    clean = next(row for row in rows if row["id"] == "clean-temp-files")
    assert datetime.fromisoformat(clean["next_run"]) == expected_next("0 0 * * 0")
    assert clean["last_run"] is not None and clean["last_duration_s"] is not None
    removed = json.loads(cronsync("uninstall", "--backend", "systemd", "--json", user_dir=user_dir).stdout)
    assert len(removed["units"]) == 6
    assert systemd_user.show(EXAMPLE_TIMERS[0], "LoadState")["LoadState"] == "not-found"


def test_shell_completion_offers_job_names_and_ids(user_dir: Path) -> None:
    env = {
        **os.environ,
        "_CRONSYNC_COMPLETE": "bash_complete",
        "COMP_WORDS": f"cronsync --user-dir {user_dir} run cl",
        "COMP_CWORD": "4",
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cronsync")], env=env, capture_output=True, text=True
    )
    assert result.stdout.split() == ["plain,clean-temp-files"]
    env["COMP_WORDS"] = f"cronsync --user-dir {user_dir} logs Da"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cronsync")], env=env, capture_output=True, text=True
    )
    assert result.stdout.splitlines() == ["plain,Daily Standup Summary"]


def test_a_jobs_python_environment_reaches_the_job_not_cronsync(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    """The unit's Environment= also reaches cronsync's own Python: it runs isolated (-I), so a job's
    PYTHONHOME or a PYTHONPATH that shadows the standard library cannot break `cronsync exec`."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "json.py").write_text("raise SystemExit('shadowed json imported')\n")
    dump = user_dir / "scripts" / "dump_env.sh"
    dump.write_text('#!/bin/sh\necho "home=$PYTHONHOME path=$PYTHONPATH"\n')
    dump.chmod(0o755)
    env = {"PYTHONHOME": "/nonexistent", "PYTHONPATH": str(shadow)}
    write_jobs(user_dir, [clean_tmp_job("Py Env", payload={"path": "scripts/dump_env.sh", "env": env})])
    apply_json(user_dir)
    result = cronsync("run", "py-env", user_dir=user_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    (record,) = [json.loads(line) for line in UserSpace(user_dir).log_file.read_text().splitlines()]
    assert record["status"] == "success"
    assert record["excerpt"].strip() == f"home=/nonexistent path={shadow}"


def test_status_tells_the_last_run_from_cronsyncs_own_log(systemd_user: UserManager, tmp_path: Path) -> None:
    """The start, result and duration of the last run as `history` has them, not systemd's timer stamp
    and service words (`exit-code`)."""
    user = make_space(
        tmp_path, [script_job("Breaks", "breaks.sh")], scripts={"breaks.sh": "#!/bin/sh\nexit 3\n"}
    )
    apply_json(user)
    ran = cronsync("run", "breaks", user_dir=user)
    assert ran.returncode == 3, ran.stdout + ran.stderr
    (record,) = log_records(user)
    shown = systemd_user.show("cronsync-breaks.service", "Result")
    assert shown["Result"] == "exit-code"  # what systemd would have said
    (row,) = json.loads(cronsync("status", "--json", user_dir=user).stdout)["jobs"]
    assert (row["last_run"], row["last_result"], row["last_duration_s"]) == (
        record["start"],
        "failure",
        record["duration"],
    )
    assert "failure" in cronsync("status", user_dir=user).stdout


def test_apply_says_once_what_happened_to_each_job_and_when_it_runs(
    systemd_user: UserManager, user_dir: Path
) -> None:
    first = cronsync("apply", "--backend", "systemd", user_dir=user_dir)
    assert first.returncode == 0, first.stderr
    line = next(line for line in first.stdout.splitlines() if "clean-temp-files" in line)
    assert line.split()[:2] == ["created", "clean-temp-files"] and "ok" not in line.split()
    assert datetime.fromisoformat(line.split("next run ")[1]) == expected_next("0 0 * * 0")
    systemd_user.systemctl("stop", "cronsync-sync.path")  # this apply, not the watcher's, is under test
    jobs = jobs_of(user_dir)
    jobs[1]["enabled"] = False
    write_jobs(user_dir, jobs)
    second = cronsync("apply", "--backend", "systemd", user_dir=user_dir).stdout
    line = next(line for line in second.splitlines() if "clean-temp-files" in line)
    assert line.split()[:2] == ["updated", "clean-temp-files"] and line.endswith("disabled: timer stopped")


def test_run_says_what_cronsync_logged_and_hints_with_the_user_dir(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    slow = script_job("Slow", "slow.sh", timeout=1)
    user = make_space(tmp_path, [slow], scripts={"slow.sh": "#!/bin/sh\nsleep 30\n"})
    apply_json(user)
    ran = cronsync("run", "slow", user_dir=user)
    assert ran.returncode == 124, ran.stdout + ran.stderr
    assert "slow: timeout (exit 124)" in ran.stdout and "exit-code" not in ran.stdout
    assert "timed out after 1s" in ran.stdout  # the reason exec logged
    assert f"output: cronsync --user-dir {user} logs slow" in ran.stdout


def test_apply_and_status_flag_jobs_that_will_fail_as_configured(
    systemd_user: UserManager, user_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example's agent job needs $OPENAI_API_KEY and Telegram's secrets: until they are set, apply and
    status say it will fail, and why."""
    for name in ("OPENAI_API_KEY", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"):
        monkeypatch.delenv(name, raising=False)
    report = apply_json(user_dir)
    failing = [w for w in report["warnings"] if w.startswith("daily-standup-summary will fail: ")]
    assert any("$OPENAI_API_KEY is not set" in w for w in failing), report["warnings"]
    assert any("${TELEGRAM_BOT_TOKEN}" in w for w in failing)
    assert not any(w.startswith("clean-temp-files will fail") for w in report["warnings"])
    rows = {
        row["id"]: row for row in json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
    }
    assert (
        len(rows["daily-standup-summary"]["will_fail"]) == 2 and rows["clean-temp-files"]["will_fail"] == []
    )
    assert (
        "will fail: agent backend: API key variable $OPENAI_API_KEY"
        in cronsync("status", user_dir=user_dir).stdout
    )

    write_secrets(
        user_dir, "OPENAI_API_KEY=sk-test-0123456789\nTELEGRAM_BOT_TOKEN=123:abc\nTELEGRAM_CHAT_ID=42\n"
    )
    rows = {
        row["id"]: row for row in json.loads(cronsync("status", "--json", user_dir=user_dir).stdout)["jobs"]
    }
    assert rows["daily-standup-summary"]["will_fail"] == []
    settings = json.loads((user_dir / "config" / "settings.json").read_text())
    settings["python"] = "python9.99"  # an interpreter that is not installed
    (user_dir / "config" / "settings.json").write_text(json.dumps(settings))
    report = apply_json(user_dir)
    assert any(
        w.startswith("clean-temp-files will fail: ") and "'python9.99' not found" in w
        for w in report["warnings"]
    ), report["warnings"]


def test_run_works_while_another_job_is_broken(systemd_user: UserManager, tmp_path: Path) -> None:
    scripts = {"ok.sh": "#!/bin/sh\necho fine\n", "other.sh": "#!/bin/sh\n"}
    user = make_space(
        tmp_path, [script_job("Good Job", "ok.sh"), script_job("Other", "other.sh")], scripts=scripts
    )
    apply_json(user)
    systemd_user.systemctl("stop", "cronsync-sync.path")
    (user / "scripts" / "other.sh").unlink()  # the other job's script is gone: jobs.json is invalid
    ran = cronsync("run", "Good Job", user_dir=user)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "good-job: success (exit 0)" in ran.stdout and "last valid version" in ran.stderr
    assert [r["job_id"] for r in log_records(user)] == ["good-job"]
    unknown = cronsync("run", "nope", user_dir=user)
    assert unknown.returncode == 1 and "no job named or with id 'nope'" in unknown.stderr
    status = cronsync("status", "--json", user_dir=user)  # what is installed, from the last valid jobs.json
    assert status.returncode == 0 and "last valid version" in status.stderr, status.stderr
    rows = {row["id"]: row for row in json.loads(status.stdout)["jobs"]}
    assert rows.keys() == {"good-job", "other"} and rows["good-job"]["last_result"] == "success"
    assert cronsync("apply", user_dir=user).returncode == 1  # apply still refuses it
