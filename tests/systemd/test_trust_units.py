"""Under umask 000, on a real user manager: `cronsync apply` creates the unit folders and USER/state
private, a unit carrying a job's Environment= is not readable by other accounts (and the manager still
reads it: it runs as the user), and `cronsync run` recreates state/ private."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support.cli import apply_json, cronsync
from tests.support.exectools import log_records, script_job
from tests.support.harness import UserManager
from tests.support.modes import group_or_other_writable, mode_of
from tests.support.userspaces import write_jobs

SERVICE = "cronsync-env-job.service"
TIMER = "cronsync-env-job.timer"


def _env_job_space(user_dir: Path, marker: Path) -> None:
    script = user_dir / "scripts" / "env.sh"
    script.write_text(f'#!/bin/sh\nprintf %s "$GREETING" > {marker}\n')
    script.chmod(0o700)
    jobs = [script_job("Env Job", "env.sh", payload={"env": {"GREETING": "hello-there"}})]
    write_jobs(user_dir, [*jobs, json.loads((user_dir / "config" / "jobs.json").read_text())[1]])


def test_apply_and_run_under_umask_000_create_nothing_others_can_write_or_read(
    umask_zero: None, systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "greeting"
    _env_job_space(user_dir, marker)
    systemd_dir = systemd_user.unit_dir.parent
    shutil.rmtree(systemd_dir, ignore_errors=True)

    apply_json(user_dir)
    assert mode_of(systemd_dir) == 0o700 and mode_of(systemd_user.unit_dir) == 0o700
    assert mode_of(systemd_user.unit_dir / SERVICE) == 0o600  # it carries the job's Environment=
    assert mode_of(systemd_user.unit_dir / TIMER) == 0o644
    assert mode_of(systemd_user.unit_dir / "cronsync-clean-temp-files.service") == 0o644
    assert group_or_other_writable(user_dir) == {}
    assert group_or_other_writable(systemd_dir) == {}  # timers.target.wants too
    assert mode_of(user_dir / "state") == 0o700
    assert systemd_user.show(SERVICE, "Environment")["Environment"] == "GREETING=hello-there"

    shutil.rmtree(user_dir / "state")  # logs/ is not there yet either
    ran = cronsync("run", "env-job", user_dir=user_dir)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert marker.read_text() == "hello-there"  # the manager read the 0600 unit and ran the job
    assert [r["trigger"] for r in log_records(user_dir)] == ["manual"]
    assert group_or_other_writable(user_dir) == {}
    for folder in ("state", "state/locks", "state/run-requests", "logs"):
        assert mode_of(user_dir / folder) == 0o700, folder


def test_a_readable_unit_with_environment_becomes_private_on_the_next_apply(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path
) -> None:
    """The fast path keeps a unit whose text has the recorded sha256: its mode must converge anyway."""
    _env_job_space(user_dir, tmp_path / "greeting")
    apply_json(user_dir)
    service = systemd_user.unit_dir / SERVICE
    text = service.read_bytes()
    service.chmod(0o644)  # as an older cronsync installed it
    report = apply_json(user_dir)
    assert mode_of(service) == 0o600 and service.read_bytes() == text
    assert report["files_written"] == [] and report["ok"]
    assert systemd_user.show(SERVICE, "Environment")["Environment"] == "GREETING=hello-there"
