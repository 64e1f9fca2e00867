"""Nobody else's files run as you: exec (and validate, and doctor) refuse a script another account could
have changed, the rule sshd's StrictModes applies to authorized_keys: from the user dir down to the
script, every folder and the script itself must be yours (or root's) and not writable by group or others."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import cronsync
from tests.support.exectools import log_records, make_space, run_exec, script_job
from tests.support.modes import NOBODY

ME = pwd.getpwuid(os.geteuid()).pw_name
SCRIPT = "#!/bin/sh\necho ran > {marker}\n"


def _chown_to_another(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another account needs root")
    os.lchown(path, NOBODY, NOBODY)


def _writable_script(user: Path) -> Path:
    (user / "scripts" / "job.sh").chmod(0o757)
    return user / "scripts" / "job.sh"


def _writable_scripts_dir(user: Path) -> Path:
    (user / "scripts").chmod(0o777)
    return user / "scripts"


def _group_writable_user_dir(user: Path) -> Path:
    user.chmod(0o770)
    return user


def _script_of_another(user: Path) -> Path:
    _chown_to_another(user / "scripts" / "job.sh")
    return user / "scripts" / "job.sh"


def _scripts_dir_of_another(user: Path) -> Path:
    _chown_to_another(user / "scripts")
    return user / "scripts"


def _symlink_into_a_writable_folder(user: Path) -> Path:
    """scripts/job.sh is a symlink to scripts/shared/job.sh, and shared/ is world-writable."""
    shared = user / "scripts" / "shared"
    shared.mkdir()
    (user / "scripts" / "job.sh").rename(shared / "job.sh")
    (user / "scripts" / "job.sh").symlink_to("shared/job.sh")
    shared.chmod(0o777)
    return shared


def _named_through_a_writable_folder(user: Path) -> Path:
    """payload.path is scripts/open/job.sh, a symlink (in a world-writable folder) to a safe script."""
    folder = user / "scripts" / "open"
    folder.mkdir()
    (folder / "job.sh").symlink_to("../job.sh")
    folder.chmod(0o777)
    jobs = [script_job("Job", "open/job.sh")]
    (user / "config" / "jobs.json").write_text(json.dumps(jobs))
    return folder


UNSAFE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "script writable by others": (_writable_script, "chmod go-w"),
    "scripts folder writable by others": (_writable_scripts_dir, "chmod go-w"),
    "user dir writable by its group": (_group_writable_user_dir, "chmod go-w"),
    "script owned by another account": (_script_of_another, f"chown {ME}"),
    "scripts folder owned by another account": (_scripts_dir_of_another, f"chown {ME}"),
    "symlink into a writable folder": (_symlink_into_a_writable_folder, "chmod go-w"),
    "named through a writable folder": (_named_through_a_writable_folder, "chmod go-w"),
}


@pytest.mark.parametrize("case", list(UNSAFE))
def test_a_script_another_account_could_change_is_refused_with_the_fix(tmp_path: Path, case: str) -> None:
    marker = tmp_path / "ran"
    user = make_space(
        tmp_path, [script_job("Job", "job.sh")], scripts={"job.sh": SCRIPT.format(marker=marker)}
    )
    make_unsafe, command = UNSAFE[case]
    unsafe = make_unsafe(user)
    fix = f"{command} {unsafe}"

    result = run_exec(user, "job")
    assert result.returncode == 78, result.stderr
    assert f"`{fix}`" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()
    [record] = log_records(user)
    assert record["status"] == "failure" and record["exit_code"] == 78
    assert f"`{fix}`" in record["error"]

    validated = cronsync("validate", user_dir=user)
    assert validated.returncode == 1
    assert "field 'payload.path'" in validated.stderr and f"`{fix}`" in validated.stderr
    doctor = cronsync("doctor", "--json", user_dir=user)
    findings = {f["check"]: f for f in json.loads(doctor.stdout)["findings"]}
    assert doctor.returncode == 1
    assert findings["scripts"]["level"] == "error" and fix in findings["scripts"]["fix"]
    # jobs.json's finding for the same refusal: the same level and the same fix, not `cronsync edit`
    assert (
        findings["jobs.json"]["level"] == "error"
        and findings["jobs.json"]["fix"] == findings["scripts"]["fix"]
    )

    subprocess.run(findings["scripts"]["fix"], shell=True, check=True)  # the fix, as given, fixes it
    assert run_exec(user, "job").returncode == 0
    assert marker.read_text() == "ran\n"
    assert cronsync("validate", user_dir=user).returncode == 0


def test_folders_above_the_user_dir_are_not_judged(tmp_path: Path) -> None:
    """A user dir in a world-writable sticky folder (as /tmp is) runs: the check starts at the user dir."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    marker = tmp_path / "ran"
    user = make_space(shared, [script_job("Job", "job.sh")], scripts={"job.sh": SCRIPT.format(marker=marker)})
    result = run_exec(user, "job")
    assert result.returncode == 0, result.stderr
    assert marker.read_text() == "ran\n"
    doctor = json.loads(cronsync("doctor", "--json", user_dir=user).stdout)
    assert {f["check"]: f["level"] for f in doctor["findings"]}["scripts"] == "ok"
