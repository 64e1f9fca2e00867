"""An error nobody expected in `cronsync exec` is reported as a bug (exit 70, the details in errors.log) and
the run is still logged, as a failure with cronsync's one-line message, wherever the error is raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronsync import BUG
from cronsync.exec import main as exec_job
from cronsync.userspace.paths import UserSpace
from tests.support.exectools import log_records, make_space, script_job


class Injected(RuntimeError):
    """The bug these tests plant."""


def explode(*_args: object, **_kwargs: object) -> None:
    raise Injected("a message that is not shown")


def space(tmp_path: Path) -> UserSpace:
    user = make_space(tmp_path, [script_job("Buggy", "ok.sh")], scripts={"ok.sh": "#!/bin/sh\necho ran\n"})
    return UserSpace(user)


@pytest.mark.parametrize("where", ["load_job", "check_secrets_file", "record_run"])
def test_a_bug_anywhere_in_a_run_is_reported_and_the_run_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    user = space(tmp_path)
    monkeypatch.setattr(exec_job, where, explode)
    code = exec_job.main(user, "buggy", trigger=None, dry_run=False)
    assert code == BUG
    stderr = capsys.readouterr().err
    assert "Injected" in stderr and "this is a bug in cronsync" in stderr
    assert "a message that is not shown" not in stderr
    assert "Injected: a message" in (user.root / "logs" / "errors.log").read_text()
    for name in ("scheduler.log", "events.jsonl"):
        records = log_records(user.root, name)
        assert len(records) == 1, (name, records)
        record = records[0]
        assert record["job_id"] == "buggy" and record["status"] == "failure" and record["exit_code"] == BUG
        assert "unexpected Injected" in record["error"] and "this is a bug in cronsync" in record["error"]


def test_a_bug_in_notifying_keeps_the_jobs_own_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    user = space(tmp_path)
    monkeypatch.setattr(exec_job, "should_notify", lambda *_: True)
    monkeypatch.setattr(exec_job, "send_notifications", explode)
    assert exec_job.main(user, "buggy", trigger=None, dry_run=False) == 0
    assert "this is a bug in cronsync" in capsys.readouterr().err
    (record,) = log_records(user.root)
    assert record["status"] == "success" and record["excerpt"] == "ran\n"
    assert "unexpected Injected" in record["error"]
