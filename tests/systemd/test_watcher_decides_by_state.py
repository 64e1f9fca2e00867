"""The auto-sync watcher on the real user manager: it applies whenever what is installed differs from
jobs.json (never skipping bytes it saw before), and it watches the real file behind a symlinked jobs.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.support.cli import apply_json, cronsync
from tests.support.exectools import script_job
from tests.support.harness import UserManager, wait_for
from tests.support.userspaces import jobs_of


def save(path: Path, jobs: list[dict[str, Any]]) -> None:
    """Save the way editors do: a temp file beside the file, renamed over it."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(jobs, indent=2))
    os.rename(temp, path)


def active(manager: UserManager, timer: str) -> bool:
    return manager.show(timer, "ActiveState")["ActiveState"] == "active"


def test_a_save_of_the_same_bytes_installs_what_the_last_one_could_not(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    jobs = [*jobs_of(user_dir), script_job("Later", "later.sh")]
    save(user_dir / "config" / "jobs.json", jobs)  # its script is not there yet: an error
    assert wait_for(
        lambda: any("later.sh" in line for line in systemd_user.journal("cronsync-sync")), timeout=20
    ), systemd_user.journal("cronsync-sync")
    script = user_dir / "scripts" / "later.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    save(user_dir / "config" / "jobs.json", jobs)  # the very same bytes
    assert wait_for(lambda: active(systemd_user, "cronsync-later.timer"), timeout=20), systemd_user.journal(
        "cronsync-sync"
    )


def watched(manager: UserManager) -> str:
    """What the watcher's path unit watches: `systemctl show` prints one Paths= line per path."""
    return manager.systemctl("show", "cronsync-sync.path", "--property=Paths").stdout


def test_the_watchers_apply_reports_the_same_errors_once_and_then_applies_the_same_bytes(
    systemd_user: UserManager, user_dir: Path
) -> None:
    apply_json(user_dir)
    systemd_user.systemctl("stop", "cronsync-sync.path")  # this test plays the watcher's applies itself
    save(user_dir / "config" / "jobs.json", [*jobs_of(user_dir), script_job("Later", "later.sh")])
    first = cronsync("apply", "--from-watcher", user_dir=user_dir)
    assert first.returncode == 1 and "later.sh" in first.stderr, first.stdout + first.stderr
    again = cronsync("apply", "--from-watcher", user_dir=user_dir)  # a burst: the same bytes, the same errors
    assert again.returncode == 0 and again.stdout + again.stderr == "", again.stdout + again.stderr
    script = user_dir / "scripts" / "later.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    fixed = cronsync("apply", "--from-watcher", user_dir=user_dir)  # the same bytes, valid now
    assert fixed.returncode == 0 and "created    later" in fixed.stdout, fixed.stdout + fixed.stderr
    assert active(systemd_user, "cronsync-later.timer")


def link(path: Path, target: Path) -> None:
    """Point the symlink at path to target in one rename, as `ln -sfn` or a dotfiles manager does."""
    temp = path.with_name(f".{path.name}.link")
    temp.symlink_to(target)
    os.rename(temp, path)


def test_a_symlinked_jobs_json_is_watched_where_it_really_lives(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    jobs_file = user_dir / "config" / "jobs.json"
    dotfiles, moved = tmp_path / "dotfiles", tmp_path / "moved-dotfiles"
    dotfiles.mkdir()
    moved.mkdir()
    jobs = jobs_of(user_dir)
    jobs_file.rename(dotfiles / "jobs.json")
    jobs_file.symlink_to(dotfiles / "jobs.json")
    apply_json(user_dir)
    assert f"{dotfiles} (PathChanged)" in watched(systemd_user), watched(systemd_user)

    save(dotfiles / "jobs.json", [*jobs, script_job("Edited In Dotfiles", "clean_tmp.py")])
    assert wait_for(lambda: active(systemd_user, "cronsync-edited-in-dotfiles.timer"), timeout=20), (
        systemd_user.journal("cronsync-sync")
    )

    (moved / "jobs.json").write_text(json.dumps([*jobs, script_job("Moved", "clean_tmp.py")]))
    link(jobs_file, moved / "jobs.json")  # the link now points elsewhere: the watcher re-points itself
    assert wait_for(lambda: active(systemd_user, "cronsync-moved.timer"), timeout=20)
    assert wait_for(lambda: f"{moved} (PathChanged)" in watched(systemd_user), timeout=10)
    assert str(dotfiles) not in watched(systemd_user)
    save(moved / "jobs.json", [*jobs, script_job("Edited After The Move", "clean_tmp.py")])
    assert wait_for(lambda: active(systemd_user, "cronsync-edited-after-the-move.timer"), timeout=20), (
        systemd_user.journal("cronsync-sync")
    )
