"""Two user spaces of one account on the real user manager: a space changes only the units whose
marker names its own jobs.json."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import apply_json, cronsync
from tests.support.harness import UserManager
from tests.support.userspaces import another_space, foreign_units


def unit_texts(unit_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in unit_dir.iterdir() if p.is_file()}


def test_another_spaces_units_are_never_deleted_or_overwritten(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    unit_dir = systemd_user.unit_dir
    apply_json(user_dir)
    other = another_space(user_dir, tmp_path / "other", "Other ")
    theirs = foreign_units(unit_dir, other, "theirs")
    again = apply_json(user_dir)  # the fast path: nothing of this space changed
    assert [job["action"] for job in again["jobs"] if job["action"] == "delete"] == []
    assert again["files_deleted"] == [] and again["files_written"] == []
    (user_dir / "state" / "apply-manifest.json").unlink()
    full = apply_json(user_dir)  # and the full path, with no manifest to vouch for the units
    assert full["files_deleted"] == []
    assert all(unit_texts(unit_dir)[name] == text for name, text in theirs.items())

    taken = foreign_units(unit_dir, other, "clean-temp-files")
    before = unit_texts(unit_dir)
    result = cronsync("apply", "--backend", "systemd", user_dir=user_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{unit_dir}/cronsync-clean-temp-files.timer" in result.stderr
    assert f"belongs to the user space of {other}/config/jobs.json" in result.stderr
    assert f"`cronsync --user-dir {other} uninstall`" in result.stderr
    assert unit_texts(unit_dir) == before and all(before[name] == text for name, text in taken.items())


def test_a_second_space_cannot_take_the_first_ones_units_and_changes_nothing(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    unit_dir = systemd_user.unit_dir
    apply_json(user_dir)
    before = unit_texts(unit_dir)
    other = another_space(user_dir, tmp_path / "other")  # the same job ids
    result = cronsync("apply", "--backend", "systemd", user_dir=other)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    jobs_file = user_dir / "config" / "jobs.json"
    assert f"cronsync-clean-temp-files.timer: belongs to the user space of {jobs_file}" in result.stderr
    assert f"cronsync-sync.path: is the auto-sync watcher of the user space of {jobs_file}" in result.stderr
    assert f"`cronsync --user-dir {user_dir} uninstall`" in result.stderr
    assert unit_texts(unit_dir) == before

    # with jobs of their own, the watcher is still the first space's, and says so
    renamed = another_space(user_dir, tmp_path / "renamed", "Other ")
    result = cronsync("apply", "--backend", "systemd", user_dir=renamed)
    assert result.returncode == 1
    assert f"cronsync-sync.path: is the auto-sync watcher of the user space of {jobs_file}" in result.stderr
    assert "--backend crontab" in result.stderr
    assert unit_texts(unit_dir) == before
    assert systemd_user.show("cronsync-sync.path", "ActiveState")["ActiveState"] == "active"


def test_uninstall_removes_only_this_spaces_units(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    unit_dir = systemd_user.unit_dir
    apply_json(user_dir)
    mine = unit_texts(unit_dir)
    other = another_space(user_dir, tmp_path / "other", "Other ")
    theirs = foreign_units(unit_dir, other, "theirs")
    removed = cronsync("uninstall", "--json", user_dir=other)
    assert removed.returncode == 0, removed.stderr
    assert sorted(json.loads(removed.stdout)["units"]) == sorted(theirs)
    assert unit_texts(unit_dir) == mine
    assert systemd_user.show("cronsync-sync.path", "ActiveState")["ActiveState"] == "active"

    theirs = foreign_units(unit_dir, other, "theirs")
    removed = cronsync("uninstall", "--json", user_dir=user_dir)
    assert sorted(json.loads(removed.stdout)["units"]) == sorted(mine)
    assert unit_texts(unit_dir) == theirs
