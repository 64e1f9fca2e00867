"""What `cronsync init` and `cronsync exec` create is private whatever the umask: folders 0700, state,
logs and locks 0600."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import cronsync
from tests.support.exectools import make_space, run_exec, script_job
from tests.support.modes import group_or_other_writable, mode_of, modes_under, tighten

SCRIPT = "#!/bin/sh\necho ran > {marker}\n"


def test_init_under_umask_000_creates_only_private_folders_and_files(
    tmp_path: Path, umask_zero: None
) -> None:
    user = tmp_path / "home-of" / "USER"
    result = cronsync("init", user_dir=user)
    assert result.returncode == 0, result.stderr
    modes = modes_under(tmp_path / "home-of")
    assert {path: f"{mode:o}" for path, mode in modes.items()} == {
        ".": "700",
        "USER": "700",
        "USER/config": "700",
        "USER/scripts": "700",
        "USER/logs": "700",
        "USER/state": "700",
        "USER/config/jobs.json": "600",
        "USER/config/settings.json": "600",
        "USER/scripts/clean_tmp.py": "700",
    }


def test_exec_under_umask_000_recreates_state_logs_and_locks_private(
    tmp_path: Path, umask_zero: None
) -> None:
    marker = tmp_path / "ran"
    user = make_space(
        tmp_path, [script_job("Job", "job.sh")], scripts={"job.sh": SCRIPT.format(marker=marker)}
    )
    tighten(tmp_path)
    result = run_exec(user, "job")
    assert result.returncode == 0, result.stderr
    assert group_or_other_writable(user) == {}
    for folder in ("state", "state/locks", "logs"):
        assert mode_of(user / folder) == 0o700, folder
    for file in (
        "state/compiled.json",
        "state/locks/job.lock",
        "logs/scheduler.log",
        "logs/.scheduler.log.lock",
        "logs/events.jsonl",
    ):
        assert mode_of(user / file) == 0o600, file
