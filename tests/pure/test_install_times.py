"""state/installed.json: when each job's schedule was installed as it is now (userspace.installed)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from cronsync.userspace.installed import read_install_times, record_install_times
from cronsync.userspace.paths import UserSpace

FIRST = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_created_and_changed_jobs_get_the_apply_time_unchanged_ones_keep_theirs(user_dir: Path) -> None:
    space = UserSpace(user_dir)
    record_install_times(space, [("a", "create", True), ("b", "create", True)], FIRST)
    record_install_times(
        space, [("a", "unchanged", True), ("b", "update", True), ("c", "unchanged", True)], LATER
    )
    assert read_install_times(space) == {"a": FIRST, "b": LATER, "c": LATER}
    assert stat.S_IMODE(space.installed_file.stat().st_mode) == 0o600


def test_a_removed_job_is_dropped_and_a_failed_install_is_not_recorded(user_dir: Path) -> None:
    space = UserSpace(user_dir)
    record_install_times(space, [("a", "create", True), ("b", "create", False)], FIRST)
    record_install_times(space, [("a", "delete", True)], LATER)
    assert read_install_times(space) == {}


def test_a_corrupt_file_is_survived(user_dir: Path) -> None:
    space = UserSpace(user_dir)
    space.state_dir.mkdir(parents=True, exist_ok=True)
    space.installed_file.write_text('{"format": "1", "jobs": {"a": {"since": "yesterday"}}')
    assert read_install_times(space) == {}
    record_install_times(space, [("a", "unchanged", True)], FIRST)
    assert read_install_times(space) == {"a": FIRST}
