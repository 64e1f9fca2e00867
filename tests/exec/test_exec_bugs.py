"""An error nobody expected in `cronsync exec` is reported as a bug (exit 70, the details in errors.log) and
the run is still logged, as a failure with cronsync's one-line message, wherever the error is raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronsync import BUG
from cronsync.exec import main as exec_job
from cronsync.userspace.paths import UserSpace
from tests.support.exectools import log_records, make_space, script_job, write_secrets


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


def test_the_details_of_a_bug_in_a_run_hold_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-in-a-bug-message-8812"
    job = script_job("Buggy", "ok.sh", notify={"on": "always", "gateways": ["g"]})
    settings = {"gateways": {"g": ["json://bot:${TOKEN}@127.0.0.1:9/x"]}}
    user = make_space(tmp_path, [job], settings, scripts={"ok.sh": "#!/bin/sh\necho ran\n"})
    write_secrets(user, f"TOKEN={secret}\n")

    def leak(*_args: object, **_kwargs: object) -> None:
        raise Injected(f"could not send with {secret}")

    monkeypatch.setattr(exec_job, "send_notifications", leak)
    assert exec_job.main(UserSpace(user), "buggy", trigger=None, dry_run=False) == 0
    details = (user / "logs" / "errors.log").read_text()
    assert "Injected: could not send with ***" in details and secret[:6] not in details
    assert secret[:6] not in capsys.readouterr().err
