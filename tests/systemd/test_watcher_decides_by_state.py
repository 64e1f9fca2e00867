"""The auto-sync watcher on the real user manager: it applies whenever what is installed differs from
jobs.json (never skipping bytes it saw before), and it watches the real file behind a symlinked jobs.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.support.cli import apply_json
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
