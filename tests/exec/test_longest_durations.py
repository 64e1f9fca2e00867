"""The longest durations validation accepts (31 days) are run, logged and shown without a crash."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import cronsync
from tests.support.exectools import log_records, make_space, run_exec, script_job


def test_a_job_with_every_duration_at_the_maximum_runs_and_is_logged(tmp_path: Path) -> None:
    longest = "744h"
    job = script_job(
        "Longest",
        "ok.sh",
        timeout=longest,
        random_delay=longest,
        accuracy=longest,
        payload={"timeout": longest},
    )
    user = make_space(tmp_path, [job], scripts={"ok.sh": "#!/bin/sh\necho ok\n"})
    assert cronsync("validate", user_dir=user).returncode == 0
    result = run_exec(user, "longest")
    assert result.returncode == 0, result.stderr
    assert [r["status"] for r in log_records(user)] == ["success"]
    status = cronsync("status", "--backend", "crontab", user_dir=user)
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
