"""What `cronsync apply` skips thanks to USER/state/apply-manifest.json, on a real user manager: it
validates and renders only the jobs that changed since the last successful apply (none for a no-op),
notices everything that makes the others' installed files or compiled.json stale, still repairs
drift, and on any problem validates everything so that every problem is reported."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from cronsync.apply import fastpath, target
from cronsync.resources import resource_dir
from cronsync.userspace.compiled import read_compiled, source_key
from cronsync.userspace.paths import UserSpace
from tests.support.cli import apply_json, cronsync
from tests.support.harness import UserManager
from tests.support.userspaces import enable_every_job, jobs_of, mtimes, write_jobs

TIMER = "cronsync-clean-temp-files.timer"

# Runs the real CLI and says on stderr whether the pydantic schema was imported (any job validated)
# and which jobs' unit files were rendered.
PROBE = """
import atexit, runpy, sys
from cronsync.core import render
rendered, job_units = [], render.job_units
def counted(job, *args):
    rendered.append(job.id)
    return job_units(job, *args)
render.job_units = counted
def tell():
    sys.stderr.write(f"\\nVALIDATED={'cronsync.core.jobs' in sys.modules}\\nRENDERED={','.join(rendered)}\\n")
atexit.register(tell)
sys.argv = ["cronsync", *sys.argv[1:]]
runpy.run_module("cronsync", run_name="__main__")
"""


class Probe(NamedTuple):
    report: dict[str, Any]
    validated: bool  # the schema was imported: some job was validated
    rendered: list[str]  # the ids of the jobs whose unit files were rendered


def probed_apply(user_dir: Path, *extra: str, ok: bool = True) -> Probe:
    """What one real `cronsync apply --json` reported, validated and rendered."""
    argv = ["--user-dir", str(user_dir), "apply", "--backend", "systemd", "--json", *extra]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    validated = result.stderr.rsplit("VALIDATED=", 1)[1].split("\n")[0]
    assert validated in ("True", "False"), result.stderr
    rendered = result.stderr.rsplit("RENDERED=", 1)[1].split("\n")[0]
    report: dict[str, Any] = json.loads(result.stdout)
    return Probe(report, validated == "True", [job for job in rendered.split(",") if job])


BOTH = ["daily-standup-summary", "clean-temp-files"]
CLEAN_UNITS = ["cronsync-clean-temp-files.service", TIMER]


def stop_watcher() -> None:
    """Before a save: the auto-sync watcher's own apply of it would race the apply under test (and win
    on a busy machine)."""
    subprocess.run(["systemctl", "--user", "stop", "cronsync-sync.path"], capture_output=True, timeout=60)


def save_jobs(user_dir: Path, jobs: object) -> None:
    stop_watcher()
    write_jobs(user_dir, jobs)


def edit_clean(user_dir: Path, **fields: Any) -> None:
    jobs = jobs_of(user_dir)
    jobs[1].update(fields)
    save_jobs(user_dir, jobs)


def current_compiled(user_dir: Path) -> dict[str, Any]:
    """compiled.json, asserted to be for the sources as they are now (what `cronsync exec` needs)."""
    space = UserSpace(user_dir)
    settings = space.settings_file.read_bytes() if space.settings_file.exists() else None
    compiled = read_compiled(space, source_key(space, space.jobs_file.read_bytes(), settings))
    assert compiled is not None, "compiled.json is not for the current jobs.json"
    return compiled


def compiled_in_full(user_dir: Path) -> dict[str, Any]:
    """What validating all of jobs.json writes to compiled.json."""
    (user_dir / "state" / "compiled.json").unlink()
    assert cronsync("validate", user_dir=user_dir).returncode == 0
    return current_compiled(user_dir)


def test_a_no_op_apply_skips_validation_and_still_checks_every_timer(
    systemd_user: UserManager, user_dir: Path
) -> None:
    enable_every_job(user_dir)
    first = probed_apply(user_dir)
    assert first.validated and first.rendered == BOTH and first.report["ok"]
    assert (user_dir / "state" / "apply-manifest.json").is_file()
    report, validated, rendered = probed_apply(user_dir)
    assert not validated and not rendered, report
    assert report["ok"] and not report["changed"] and not report["reloaded"]
    assert report["files_written"] == []
    rows = {job["id"]: job for job in report["jobs"]}
    assert set(rows) == {"daily-standup-summary", "clean-temp-files", "sync"}
    assert all(row["action"] == "unchanged" and row["detail"] == "ok" for row in rows.values())
    assert rows["clean-temp-files"]["next_run"] and rows["daily-standup-summary"]["next_run"]


def test_an_edited_job_is_the_only_one_validated_and_rendered(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    edit_clean(user_dir, cron="0 1 * * 0", timeout="5m")
    report, _, rendered = probed_apply(user_dir)
    assert rendered == ["clean-temp-files"]
    assert report["ok"] and report["files_written"] == CLEAN_UNITS and report["reloaded"]
    rows = {job["id"]: job for job in report["jobs"]}
    assert rows["clean-temp-files"]["action"] == "update" and rows["clean-temp-files"]["next_run"]
    assert rows["daily-standup-summary"]["action"] == "unchanged"
    assert "OnCalendar=Sun *-*-* 01:00:00" in (systemd_user.unit_dir / TIMER).read_text()
    compiled = current_compiled(user_dir)
    assert compiled["jobs"]["clean-temp-files"]["cron"] == "0 1 * * 0"
    assert compiled["jobs"]["clean-temp-files"]["timeout"] == 300
    assert compiled == compiled_in_full(user_dir)
    assert probed_apply(user_dir).rendered == []  # and the next apply is a no-op again


def test_a_renamed_job_is_rendered_and_its_old_units_removed(
    systemd_user: UserManager, user_dir: Path
) -> None:
    enable_every_job(user_dir)
    apply_json(user_dir)
    edit_clean(user_dir, name="Tidy Temp Files")
    report, _, rendered = probed_apply(user_dir)
    assert rendered == ["tidy-temp-files"]
    assert report["files_written"] == ["cronsync-tidy-temp-files.service", "cronsync-tidy-temp-files.timer"]
    assert sorted(report["files_deleted"]) == CLEAN_UNITS
    assert not (systemd_user.unit_dir / TIMER).exists()
    assert systemd_user.show("cronsync-tidy-temp-files.timer", "ActiveState")["ActiveState"] == "active"
    assert set(current_compiled(user_dir)["jobs"]) == {"daily-standup-summary", "tidy-temp-files"}


def test_a_removed_job_needs_no_rendering_and_leaves_exec_a_current_compiled_json(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    save_jobs(user_dir, jobs_of(user_dir)[:1])
    report, _, rendered = probed_apply(user_dir)
    assert rendered == [] and report["ok"]
    assert sorted(report["files_deleted"]) == CLEAN_UNITS
    assert set(current_compiled(user_dir)["jobs"]) == {"daily-standup-summary"}
    assert current_compiled(user_dir) == compiled_in_full(user_dir)


def test_changed_settings_validate_and_render_every_job(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    settings = user_dir / "config" / "settings.json"
    stop_watcher()
    settings.write_text(settings.read_text() + "\n")
    assert probed_apply(user_dir).rendered == BOTH


def test_a_manifest_of_other_code_or_templates_validates_and_renders_every_job(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    manifest_file = user_dir / "state" / "apply-manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["base"] = "0" * 64  # what base_key gives for other code or templates (see below)
    manifest_file.write_text(json.dumps(manifest))
    probe = probed_apply(user_dir)
    assert probe.rendered == BOTH and probe.report["files_written"] == []


def test_a_hand_edited_unit_is_repaired_by_a_no_op_looking_apply(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    unit = systemd_user.unit_dir / TIMER
    meant = unit.read_text()
    unit.write_text(meant.replace("Persistent=true", "Persistent=false"))
    report, _, rendered = probed_apply(user_dir)
    assert rendered == ["clean-temp-files"]  # the manifest no longer vouches for its files
    assert report["files_written"] == [TIMER] and report["reloaded"]
    assert unit.read_text() == meant
    assert probed_apply(user_dir).rendered == []  # and the next one renders nothing again


def test_a_removed_watcher_unit_is_written_again(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    (systemd_user.unit_dir / "cronsync-sync.service").unlink()
    report, validated, rendered = probed_apply(user_dir)
    assert not validated and rendered == []
    assert report["ok"] and report["files_written"] == ["cronsync-sync.service"]


def test_a_stopped_timer_is_started_again_on_the_fast_path(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    systemd_user.systemctl("stop", TIMER)
    assert systemd_user.show(TIMER, "ActiveState")["ActiveState"] == "inactive"
    report, validated, _ = probed_apply(user_dir)
    assert not validated and report["ok"]
    assert systemd_user.show(TIMER, "ActiveState")["ActiveState"] == "active"


def test_a_removed_enable_link_is_restored_on_the_fast_path(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    (systemd_user.unit_dir / "timers.target.wants" / TIMER).unlink()
    report, validated, _ = probed_apply(user_dir)
    assert not validated and report["ok"] and report["reloaded"]
    assert {job["id"]: job["action"] for job in report["jobs"]}["clean-temp-files"] == "update"
    assert (systemd_user.unit_dir / "timers.target.wants" / TIMER).is_symlink()


@pytest.mark.parametrize("edit_another", [False, True])
def test_a_deleted_script_still_fails_the_apply(
    systemd_user: UserManager, user_dir: Path, edit_another: bool
) -> None:
    apply_json(user_dir)
    if edit_another:  # the unchanged job's script is checked when another job changed too
        jobs = jobs_of(user_dir)
        jobs[0]["cron"] = "0 8 * * 1-5"
        save_jobs(user_dir, jobs)
    (user_dir / "scripts" / "clean_tmp.py").unlink()
    result = cronsync("apply", "--backend", "systemd", user_dir=user_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "job #2 ('Clean Temp Files'), field 'payload.path'" in result.stderr
    assert "clean_tmp.py" in result.stderr and "does not exist" in result.stderr


def test_an_invalid_edit_reports_every_problem_of_every_job(
    systemd_user: UserManager, user_dir: Path
) -> None:
    jobs = jobs_of(user_dir)
    save_jobs(user_dir, [*jobs, {**jobs[1], "name": "Second Clean"}])
    apply_json(user_dir)
    before = mtimes(systemd_user.unit_dir)
    jobs = jobs_of(user_dir)
    jobs[2]["cron"] = "61 * * * *"
    save_jobs(user_dir, jobs)
    (user_dir / "scripts" / "clean_tmp.py").unlink()
    report = probed_apply(user_dir, ok=False).report
    problems = [(p["job_index"], p["field"]) for p in report["errors"]]
    assert sorted(problems) == [(1, "payload.path"), (2, "cron")], report
    assert mtimes(systemd_user.unit_dir) == before


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Daily Standup Summary", "duplicate name"),
        ("daily standup summary!", "is the same as job #1"),
        ("Sync", "reserved for cronsync's own watcher"),
    ],
)
def test_a_job_renamed_onto_another_or_the_watcher_is_refused(
    systemd_user: UserManager, user_dir: Path, name: str, message: str
) -> None:
    apply_json(user_dir)
    before = mtimes(systemd_user.unit_dir)
    edit_clean(user_dir, name=name)
    report = probed_apply(user_dir, ok=False).report
    assert any(message in p["message"] for p in report["errors"]), report
    assert mtimes(systemd_user.unit_dir) == before


def test_a_copied_job_is_a_duplicate(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    jobs = jobs_of(user_dir)
    save_jobs(user_dir, [*jobs, jobs[1]])
    report = probed_apply(user_dir, ok=False).report
    assert [(p["job_index"], p["message"][:14]) for p in report["errors"]] == [(2, "duplicate name")]


def test_a_key_written_twice_is_refused_though_the_parsed_job_is_unchanged(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    before = mtimes(systemd_user.unit_dir)
    jobs = jobs_of(user_dir)
    cron = json.dumps(jobs[1]["cron"])
    text = json.dumps(jobs, indent=2).replace(f'"cron": {cron}', f'"cron": "@hourly", "cron": {cron}')
    save_jobs(user_dir, text)
    report = probed_apply(user_dir, ok=False).report
    assert [(p["job_index"], p["field"]) for p in report["errors"]] == [(1, "cron")], report
    assert "more than once" in report["errors"][0]["message"]
    assert mtimes(systemd_user.unit_dir) == before


def test_a_lost_compiled_cache_validates_everything_and_writes_it_again(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    (user_dir / "state" / "compiled.json").unlink()
    assert probed_apply(user_dir).rendered == BOTH
    assert current_compiled(user_dir)["jobs"].keys() == set(BOTH)  # cronsync exec needs it


def test_compiled_json_rewritten_by_validate_still_serves_the_unchanged_jobs(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    systemd_user.systemctl("stop", "cronsync-sync.path")  # validate takes long enough for the watcher to win
    edit_clean(user_dir, cron="0 1 * * 0")
    assert cronsync("validate", user_dir=user_dir).returncode == 0  # compiled.json for the edit
    assert probed_apply(user_dir).rendered == ["clean-temp-files"]
    assert current_compiled(user_dir)["jobs"]["clean-temp-files"]["cron"] == "0 1 * * 0"


def test_the_watchers_apply_after_a_manual_apply_of_the_same_save_takes_the_fast_path(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    systemd_user.systemctl("stop", "cronsync-sync.path")  # this test plays the watcher's apply itself
    edit_clean(user_dir, cron="0 1 * * 0")
    assert probed_apply(user_dir).rendered == ["clean-temp-files"]
    report, validated, _ = probed_apply(user_dir, "--from-watcher")
    assert not validated and report["ok"] and not report["files_written"], report
    assert systemd_user.show("cronsync-sync.path", "ActiveState")["ActiveState"] == "active"


def test_a_failed_apply_leaves_no_manifest_to_trust(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    manifest = user_dir / "state" / "apply-manifest.json"
    manifest.write_text("{not json")
    probe = probed_apply(user_dir)
    assert probe.rendered == BOTH and probe.report["ok"]
    assert json.loads(manifest.read_text())["files"].keys() == {
        p.name for p in systemd_user.unit_dir.glob("cronsync-*") if p.is_file()
    }


@pytest.fixture
def key_inputs(user_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[UserSpace, Path]:
    templates = tmp_path / "templates"
    shutil.copytree(resource_dir("templates"), templates)
    monkeypatch.setattr(fastpath, "resource_dir", lambda name: templates)
    return UserSpace(user_dir), templates


def key_of(space: UserSpace, unit_dir: Path = Path("/units")) -> str:
    settings = space.settings_file.read_bytes() if space.settings_file.exists() else None
    return fastpath.base_key(space, target.installation_target(space), unit_dir, settings)


def test_a_changed_template_invalidates_the_manifest(key_inputs: tuple[UserSpace, Path]) -> None:
    space, templates = key_inputs
    before = key_of(space)
    assert key_of(space) == before
    timer = templates / "timer.j2"
    timer.write_text(timer.read_text() + "# one more line\n")
    assert key_of(space) != before


def test_a_changed_version_target_or_unit_dir_invalidates_the_manifest(
    key_inputs: tuple[UserSpace, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    space, _ = key_inputs
    before = key_of(space)
    assert key_of(space, Path("/elsewhere")) != before
    import cronsync as package

    version = package.__version__
    monkeypatch.setattr(package, "__version__", "99.0.0")
    assert key_of(space) != before
    monkeypatch.setattr(package, "__version__", version)
    assert key_of(space) == before
    monkeypatch.setattr(target.sys, "executable", "/opt/other/bin/python3")
    assert key_of(space) != before


def test_changed_settings_invalidate_the_manifest(key_inputs: tuple[UserSpace, Path]) -> None:
    space, _ = key_inputs
    before = key_of(space)
    text = space.settings_file.read_text()
    space.settings_file.write_text(text + "\n")
    assert key_of(space) != before
    space.settings_file.unlink()
    assert key_of(space) != before
    space.settings_file.write_text(text)
    assert key_of(space) == before


def test_the_watchdog_units_come_and_go_with_settings_watch_and_keep_the_fast_path(
    systemd_user: UserManager, user_dir: Path
) -> None:
    settings_file = UserSpace(user_dir).settings_file
    settings = json.loads(settings_file.read_text())
    settings_file.write_text(json.dumps({**settings, "watch": {"every": "30m"}}))
    first = probed_apply(user_dir)
    assert first.report["ok"] and {"cronsync-watch.service", "cronsync-watch.timer"} <= set(
        first.report["files_written"]
    )
    timer = (systemd_user.unit_dir / "cronsync-watch.timer").read_text()
    assert "OnCalendar=*-*-* *:00,30:00" in timer and "Persistent=false" in timer
    assert '"watch" "--scheduled"' in (systemd_user.unit_dir / "cronsync-watch.service").read_text()
    assert systemd_user.show("cronsync-watch.timer", "ActiveState")["ActiveState"] == "active"
    again = probed_apply(user_dir)
    assert not again.validated and not again.report["changed"]
    assert {job["id"]: job["action"] for job in again.report["jobs"]}["watch"] == "unchanged"
    systemd_user.systemctl("stop", "cronsync-sync.path")  # this edit is applied by hand
    settings_file.write_text(json.dumps(settings))
    removed = probed_apply(user_dir)
    assert {"cronsync-watch.service", "cronsync-watch.timer"} <= set(removed.report["files_deleted"])
    assert not (systemd_user.unit_dir / "cronsync-watch.timer").exists()
