"""Each doctor finding's fix is the command that mends what it found, typed for this user space."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from tests.support.cli import cronsync
from tests.support.userspaces import write_jobs


def findings_of(user_dir: Path) -> dict[str, dict[str, str]]:
    result = cronsync("doctor", "--json", user_dir=user_dir)
    assert "Traceback" not in result.stderr
    return {finding["check"]: finding for finding in json.loads(result.stdout)["findings"]}


def test_no_jobs_json_is_mended_by_init_in_that_user_dir(tmp_path: Path) -> None:
    user_dir = tmp_path / "elsewhere"
    finding = findings_of(user_dir)["jobs.json"]
    assert finding["level"] == "error" and finding["message"] == f"there is no {user_dir}/config/jobs.json"
    assert finding["fix"] == f"cronsync --user-dir {user_dir} init"
    program, *arguments = shlex.split(finding["fix"])
    assert program == "cronsync" and cronsync(*arguments).returncode == 0  # the fix, as given, mends it
    assert "jobs.json" not in findings_of(user_dir)


def test_an_invalid_jobs_json_says_validate_lists_every_problem(user_dir: Path) -> None:
    write_jobs(user_dir, [{"name": "A"}, {"name": "B"}])
    finding = findings_of(user_dir)["jobs.json"]
    assert finding["level"] == "error" and finding["message"].startswith("2 problem(s): ")
    assert "job #1 ('A'), field 'action'" in finding["message"]
    cli = f"cronsync --user-dir {user_dir}"
    assert finding["fix"] == f"{cli} validate (every problem), then {cli} edit"
