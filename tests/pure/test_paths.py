"""UserSpace: the layout, its string and Path forms, and the run-request contract with `cronsync run`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from cronsync.userspace.paths import LOG_FILE, UserSpace, run_request_name, user_dir_path


def test_user_space_is_an_immutable_value(tmp_path: Path) -> None:
    space = UserSpace(tmp_path)
    assert space == UserSpace(str(tmp_path)) and hash(space) == hash(UserSpace(str(tmp_path)))
    assert copy.deepcopy(space) == space
    with pytest.raises(AttributeError):
        space.root = Path("/elsewhere")  # type: ignore[misc]
    assert space.log_file == tmp_path / "logs" / "scheduler.log" == Path(space.path(LOG_FILE))
    assert space.root == tmp_path and space.root_str == str(tmp_path)


def test_run_request_is_created_once_and_consumed_once(tmp_path: Path) -> None:
    space = UserSpace(tmp_path)
    assert not space.consume_run_request("job")
    space.request_manual_run("job")
    assert space.run_request_file("job") == tmp_path / run_request_name("job")
    assert space.run_request_file("job").exists()
    assert space.consume_run_request("job") == "manual"
    assert space.consume_run_request("job") is None
    space.request_manual_run("job", "after:fetch-mail")  # a chained run exec starts through the manager
    assert space.consume_run_request("job") == "after:fetch-mail"
    space.run_request_file("job").symlink_to(tmp_path / "elsewhere")
    assert space.consume_run_request("job") is None  # never read through a symlink
    assert not space.run_request_file("job").is_symlink()  # and not left for the next run


def test_script_path_stays_inside_user_scripts(tmp_path: Path) -> None:
    space = UserSpace(tmp_path)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "ok.sh").write_text("")
    (tmp_path / "secret.sh").write_text("")
    assert space.script_path("scripts/ok.sh") == str(tmp_path / "scripts" / "ok.sh")
    for escaping in ("scripts/../secret.sh", str(tmp_path / "secret.sh"), "/etc/passwd"):
        with pytest.raises(ValueError, match="outside"):
            space.script_path(escaping)
    with pytest.raises(ValueError, match="does not exist"):
        space.script_path("scripts/missing.sh")


def test_user_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    assert user_dir_path(None) == str(isolated_home / ".config" / "cronsync")
    monkeypatch.setenv("CRONSYNC_USER_DIR", str(tmp_path / "env"))
    assert user_dir_path(None) == str(tmp_path / "env")
    assert user_dir_path("~/mine") == str(isolated_home / "mine")
