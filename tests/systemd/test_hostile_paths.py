"""Paths that try to leave USER/scripts, and log or state files replaced by symlinks to elsewhere.

A script path must resolve (symlinks followed) inside USER/scripts, checked when jobs.json is
validated and again by `cronsync exec` on every run, so a symlink swapped in after apply is refused.
A symlink planted in place of a file cronsync writes (scheduler.log, events.jsonl, their lock files,
the per-job lock, compiled.json, a run request, apply.lock) is never written through: its target
keeps its bytes, and a dangling symlink's target is never created.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import cronsync
from tests.support.exectools import log_records, make_space, run_exec, script_job
from tests.support.harness import UserManager

PRECIOUS = "precious, not cronsync's\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside USER with a script that leaves a mark when it runs."""
    folder = tmp_path / "outside"
    folder.mkdir()
    mark = tmp_path / "escaped"
    (folder / "evil.sh").write_text(f"#!/bin/sh\ntouch {mark}\necho escaped\n")
    (folder / "evil.sh").chmod(0o755)
    return folder


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("scripts/../../outside/evil.sh", "outside"),
        ("../outside/evil.sh", "outside"),
        ("{outside}/evil.sh", "outside"),
        ("scripts/link.sh", "outside"),  # a symlink to ../outside/evil.sh
        ("scripts/linkdir/evil.sh", "outside"),  # a folder symlinked to ../outside
        ("scripts/../config/jobs.json", "outside"),
        ("scripts/nope.sh", "does not exist"),
        ("scripts", "is a folder, not a script"),
        ("scripts/", "is a folder, not a script"),
    ],
)
def test_script_paths_out_of_user_scripts_are_refused_when_validating(
    tmp_path: Path, outside: Path, path: str, why: str
) -> None:
    path = path.format(outside=outside)
    user = make_space(
        tmp_path,
        [script_job("Ok", "ok.sh"), {**script_job("Escape", "x"), "payload": {"path": path}}],
        scripts={"ok.sh": "#!/bin/sh\n"},
    )
    (user / "scripts" / "link.sh").symlink_to(outside / "evil.sh")
    (user / "scripts" / "linkdir").symlink_to(outside)
    result = cronsync("validate", user_dir=user)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"job #2 ('Escape'), field 'payload.path': {path!r}" in result.stderr
    assert why in result.stderr
    ran = run_exec(user, "escape")  # exec checks again, with or without a valid jobs.json
    assert ran.returncode == 78 and why in ran.stderr and "Traceback" not in ran.stderr
    assert not (tmp_path / "escaped").exists()


def test_a_symlink_inside_user_scripts_is_fine(tmp_path: Path) -> None:
    user = make_space(
        tmp_path, [script_job("Linked", "alias.sh")], scripts={"real.sh": "#!/bin/sh\necho real\n"}
    )
    (user / "scripts" / "alias.sh").symlink_to("real.sh")
    assert cronsync("validate", user_dir=user).returncode == 0
    result = run_exec(user, "linked")
    assert result.returncode == 0 and result.stdout == "real\n"


@pytest.mark.parametrize("swap", ["file", "folder"])
def test_a_symlink_swapped_in_after_validation_is_refused_by_exec(
    tmp_path: Path, outside: Path, swap: str
) -> None:
    user = make_space(tmp_path, [script_job("Swap", "sub/job.sh")])
    (user / "scripts" / "sub").mkdir()
    (user / "scripts" / "sub" / "job.sh").write_text("#!/bin/sh\necho fine\n")
    (user / "scripts" / "sub" / "job.sh").chmod(0o755)
    assert cronsync("validate", user_dir=user).returncode == 0
    assert (user / "state" / "compiled.json").exists()  # exec takes its fast path, without pydantic
    assert run_exec(user, "swap").stdout == "fine\n"
    if swap == "file":
        (user / "scripts" / "sub" / "job.sh").unlink()
        (outside / "job.sh").write_text((outside / "evil.sh").read_text())
        (outside / "job.sh").chmod(0o755)
        (user / "scripts" / "sub" / "job.sh").symlink_to(outside / "job.sh")
    else:
        (user / "scripts" / "sub" / "job.sh").unlink()
        (user / "scripts" / "sub").rmdir()
        (outside / "job.sh").write_text((outside / "evil.sh").read_text())
        (outside / "job.sh").chmod(0o755)
        (user / "scripts" / "sub").symlink_to(outside)
    result = run_exec(user, "swap")
    assert result.returncode == 78, result.stderr
    assert "payload.path" in result.stderr and "outside" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "escaped").exists() and "escaped" not in result.stdout
    last = log_records(user)[-1]
    assert last["status"] == "failure" and last["exit_code"] == 78 and "USER/scripts" in last["error"]


def test_a_swapped_script_is_refused_under_systemd_too(
    systemd_user: UserManager, tmp_path: Path, outside: Path
) -> None:
    user = make_space(tmp_path, [script_job("Swap", "job.sh")], scripts={"job.sh": "#!/bin/sh\necho fine\n"})
    assert cronsync("apply", "--backend", "systemd", user_dir=user).returncode == 0
    (user / "scripts" / "job.sh").unlink()
    (user / "scripts" / "job.sh").symlink_to(outside / "evil.sh")
    refused = cronsync("run", "swap", user_dir=user)  # through the unit, where exec refuses it
    assert refused.returncode == 78 and "outside" in refused.stdout, refused.stdout + refused.stderr
    # what the timer does: start the service, which runs `cronsync exec`
    started = systemd_user.systemctl("start", "cronsync-swap.service", check=False)
    assert started.returncode != 0
    assert systemd_user.show("cronsync-swap.service", "ExecMainStatus")["ExecMainStatus"] == "78"
    assert not (tmp_path / "escaped").exists()
    records = log_records(user)  # the manual run's, then the timer's
    assert [r["trigger"] for r in records] == ["manual", "timer"]
    assert all(r["status"] == "failure" and "USER/scripts" in r["error"] for r in records)
    assert any("outside" in line for line in systemd_user.journal("cronsync-swap"))


# --- symlinks planted in place of the files cronsync writes ---------------------------------------

LOG_AND_STATE = [
    "logs/scheduler.log",
    "logs/events.jsonl",
    "logs/.scheduler.log.lock",
    "logs/.events.jsonl.lock",
    "state/locks/plant.lock",
    "state/locks/plant.processes.lock",
    "state/compiled.json",
]


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
@pytest.mark.parametrize("planted", LOG_AND_STATE)
def test_exec_never_writes_through_a_planted_symlink(tmp_path: Path, planted: str, dangling: bool) -> None:
    user = make_space(tmp_path, [script_job("Plant", "p.sh")], scripts={"p.sh": "#!/bin/sh\necho ran\n"})
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text(PRECIOUS)
    link = user / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim)
    result = run_exec(user, "plant")
    assert "Traceback" not in result.stderr
    if planted.startswith("state/locks/"):
        assert result.returncode == 78 and "symlink" in result.stderr  # no run without its lock
    else:
        assert result.returncode == 0 and result.stdout == "ran\n", result.stderr
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_text() == PRECIOUS
    if planted.startswith("logs/") and result.returncode == 0:
        assert "symlink" in result.stderr  # the lost log line is reported, not silent


def test_rotation_never_writes_through_a_planted_symlink(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job("Rot", "r.sh")],
        {"log": {"max_bytes": 4096, "keep": 2}},
        scripts={"r.sh": "#!/bin/sh\nhead -c 3000 /dev/zero | tr '\\0' x\n"},
    )
    victim = tmp_path / "victim"
    victim.write_text(PRECIOUS)
    (user / "logs").mkdir()
    (user / "logs" / "scheduler.log.2").symlink_to(victim)
    (user / "logs" / "scheduler.log.1").symlink_to(victim)
    for _ in range(4):
        assert run_exec(user, "rot").returncode == 0
    assert victim.read_text() == PRECIOUS
    assert len(log_records(user)) >= 1


def test_apply_and_run_never_write_through_planted_state_symlinks(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user = make_space(tmp_path, [script_job("Plant", "p.sh")], scripts={"p.sh": "#!/bin/sh\necho ran\n"})
    victim, dangling = tmp_path / "victim", tmp_path / "created-through-link"
    victim.write_text(PRECIOUS)
    state = user / "state"
    state.mkdir()
    (state / "apply.lock").symlink_to(dangling)
    refused = cronsync("apply", "--backend", "systemd", user_dir=user)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "apply.lock" in refused.stderr and "symlink" in refused.stderr
    assert not dangling.exists() and not list(systemd_user.unit_dir.glob("cronsync-*"))
    (state / "apply.lock").unlink()
    (state / "apply.lock").symlink_to(victim)
    assert cronsync("apply", "--backend", "systemd", user_dir=user).returncode == 1
    assert victim.read_text() == PRECIOUS
    (state / "apply.lock").unlink()

    assert cronsync("apply", "--backend", "systemd", user_dir=user).returncode == 0
    requests = state / "run-requests"
    requests.mkdir(exist_ok=True)
    (requests / "plant").symlink_to(dangling)
    ran = cronsync("run", "plant", user_dir=user)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert not dangling.exists()
    (record,) = log_records(user)
    assert record["trigger"] == "manual"  # the request itself still worked
    (requests / "plant").symlink_to(victim)
    assert cronsync("run", "plant", user_dir=user).returncode == 0
    assert victim.read_text() == PRECIOUS
    assert json.loads((user / "logs" / "scheduler.log").read_text().splitlines()[-1])["trigger"] == "manual"
