"""The no-op fast path of `cronsync apply` (USER/state/apply-manifest.json), on a real user manager:
it is taken only when nothing that decides the unit files changed, and it still repairs drift."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cronsync import sync
from cronsync.paths import UserSpace
from tests.conftest import cronsync
from tests.harness import UserManager
from tests.test_sync_systemd import apply_json, jobs_of, write_jobs

TIMER = "cronsync-clean-temp-files.timer"

# Runs the real CLI and says on stderr whether the pydantic schema was imported (the full path
# validates jobs.json with it; the fast path never imports it).
PROBE = """
import atexit, runpy, sys
atexit.register(lambda: sys.stderr.write(f"\\nVALIDATED={'cronsync.core.jobs' in sys.modules}\\n"))
sys.argv = ["cronsync", *sys.argv[1:]]
runpy.run_module("cronsync", run_name="__main__")
"""


def probed_apply(user_dir: Path, *extra: str) -> tuple[dict[str, Any], bool]:
    """The apply report and whether that apply validated jobs.json (took the full path)."""
    argv = ["--user-dir", str(user_dir), "apply", "--backend", "systemd", "--json", *extra]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    validated = result.stderr.rsplit("VALIDATED=", 1)[1].strip()
    assert validated in ("True", "False"), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report, validated == "True"


def test_a_no_op_apply_skips_validation_and_still_checks_every_timer(
    systemd_user: UserManager, user_dir: Path
) -> None:
    first, validated = probed_apply(user_dir)
    assert validated and first["ok"] and (user_dir / "state" / "apply-manifest.json").is_file()
    report, validated = probed_apply(user_dir)
    assert not validated, report
    assert report["ok"] and not report["changed"] and not report["reloaded"]
    assert report["files_written"] == []
    rows = {job["id"]: job for job in report["jobs"]}
    assert set(rows) == {"daily-standup-summary", "clean-temp-files", "sync"}
    assert all(row["action"] == "unchanged" and row["detail"] == "ok" for row in rows.values())
    assert rows["clean-temp-files"]["next_run"] and rows["daily-standup-summary"]["next_run"]


def test_a_hand_edited_unit_is_repaired_by_a_no_op_looking_apply(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    unit = systemd_user.unit_dir / TIMER
    meant = unit.read_text()
    unit.write_text(meant.replace("Persistent=true", "Persistent=false"))
    report, validated = probed_apply(user_dir)
    assert validated  # the manifest no longer vouches for the installed files
    assert report["files_written"] == [TIMER] and report["reloaded"]
    assert unit.read_text() == meant
    assert probed_apply(user_dir)[1] is False  # and the next one is fast again


def test_a_stopped_timer_is_started_again_on_the_fast_path(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    systemd_user.systemctl("stop", TIMER)
    assert systemd_user.show(TIMER, "ActiveState")["ActiveState"] == "inactive"
    report, validated = probed_apply(user_dir)
    assert not validated and report["ok"]
    assert systemd_user.show(TIMER, "ActiveState")["ActiveState"] == "active"


def test_a_removed_enable_link_is_restored_on_the_fast_path(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    (systemd_user.unit_dir / "timers.target.wants" / TIMER).unlink()
    report, validated = probed_apply(user_dir)
    assert not validated and report["ok"] and report["reloaded"]
    assert {job["id"]: job["action"] for job in report["jobs"]}["clean-temp-files"] == "update"
    assert (systemd_user.unit_dir / "timers.target.wants" / TIMER).is_symlink()


def test_a_deleted_script_still_fails_the_apply(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    (user_dir / "scripts" / "clean_tmp.py").unlink()
    result = cronsync("apply", "--backend", "systemd", user_dir=user_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "clean_tmp.py" in result.stdout + result.stderr and "does not exist" in result.stdout + result.stderr
    )


def test_an_edit_or_a_lost_compiled_cache_takes_the_full_path(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    (user_dir / "state" / "compiled.json").unlink()
    assert probed_apply(user_dir)[1] is True
    assert (user_dir / "state" / "compiled.json").is_file()  # cronsync exec needs it
    jobs = jobs_of(user_dir)
    jobs[1]["cron"] = "0 1 * * 0"
    write_jobs(user_dir, jobs)
    report, validated = probed_apply(user_dir)
    assert validated and report["files_written"] == [TIMER]


def test_the_watchers_apply_after_a_manual_apply_of_the_same_save_takes_the_fast_path(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    systemd_user.systemctl("stop", "cronsync-sync.path")  # this test plays the watcher's apply itself
    jobs = jobs_of(user_dir)
    jobs[1]["cron"] = "0 1 * * 0"
    write_jobs(user_dir, jobs)
    assert probed_apply(user_dir)[1] is True
    report, validated = probed_apply(user_dir, "--from-watcher")
    assert not validated and report["ok"] and not report["files_written"], report
    assert systemd_user.show("cronsync-sync.path", "ActiveState")["ActiveState"] == "active"


def test_a_failed_apply_leaves_no_manifest_to_trust(systemd_user: UserManager, user_dir: Path) -> None:
    apply_json(user_dir)
    manifest = user_dir / "state" / "apply-manifest.json"
    manifest.write_text("{not json")
    report, validated = probed_apply(user_dir)
    assert validated and report["ok"]
    assert json.loads(manifest.read_text())["files"].keys() == {
        p.name for p in systemd_user.unit_dir.glob("cronsync-*") if p.is_file()
    }


@pytest.fixture
def key_inputs(user_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[UserSpace, Path]:
    templates = tmp_path / "templates"
    shutil.copytree(sync.template_dir(), templates)
    monkeypatch.setattr(sync, "template_dir", lambda: templates)
    return UserSpace(user_dir), templates


def key_of(space: UserSpace, unit_dir: Path = Path("/units")) -> str:
    sources = (space.jobs_file.read_bytes(), space.settings_file.read_bytes())
    return sync.manifest_key(space, sync.installation_target(space), unit_dir, sources)


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
    monkeypatch.setattr(sync.sys, "executable", "/opt/other/bin/python3")
    assert key_of(space) != before


def test_changed_settings_invalidate_the_manifest(key_inputs: tuple[UserSpace, Path]) -> None:
    space, _ = key_inputs
    before = key_of(space)
    space.settings_file.write_text(space.settings_file.read_text() + "\n")
    assert key_of(space) != before
