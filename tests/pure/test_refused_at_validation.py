"""What apply or exec would refuse (or crash on), validation refuses, with the field named: durations past
the maximum, the watcher's reserved id, and a key written twice in one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cronsync.config import load_config
from cronsync.core.errors import InvalidInput
from cronsync.userspace.paths import UserSpace
from tests.support.cli import cronsync
from tests.support.userspaces import write_jobs


def problems_of(user_dir: Path) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        load_config(UserSpace(user_dir))
    return [str(p) for p in info.value.problems]


def script_job(name: str = "A", **extra: object) -> dict[str, object]:
    payload = {"path": "scripts/clean_tmp.py", **extra.pop("payload", {})}  # type: ignore[dict-item]
    return {"name": name, "cron": "0 0 * * 0", "action": "script", "payload": payload, **extra}


def agent_job(name: str, **payload: object) -> dict[str, object]:
    return {
        "name": name,
        "cron": "@daily",
        "action": "agent_workflow",
        "payload": {"prompt": "hi", **payload},
    }


MAX_DURATION_SECONDS = 31 * 24 * 3600  # the documented maximum, 744h
TOO_LONG = ["3000000h", "99999999h", MAX_DURATION_SECONDS + 1, "745h", 10**40]


@pytest.mark.parametrize("value", TOO_LONG)
def test_a_duration_past_the_maximum_is_refused_in_every_field(user_dir: Path, value: object) -> None:
    write_jobs(
        user_dir,
        [
            script_job("T", timeout=value),
            script_job("R", random_delay=value),
            script_job("C", accuracy=value),
            script_job("P", payload={"timeout": value}),
            agent_job("G", timeout=value),
        ],
    )
    (user_dir / "config" / "settings.json").write_text(
        json.dumps({"agent": {"backend": "command", "command": ["cat"], "timeout": value}})
    )
    problems = problems_of(user_dir)
    for where in (
        "job #1 ('T'), field 'timeout'",
        "job #2 ('R'), field 'random_delay'",
        "job #3 ('C'), field 'accuracy'",
        "job #4 ('P'), field 'payload.timeout'",
        "job #5 ('G'), field 'payload.timeout'",
        "settings.json, field 'agent.timeout'",
    ):
        found = [p for p in problems if where in p]
        assert found, (where, problems)
        assert "31 days" in found[0] and "Traceback" not in found[0]


def test_the_maximum_duration_is_accepted(user_dir: Path) -> None:
    write_jobs(
        user_dir, [script_job("M", timeout="744h", random_delay=MAX_DURATION_SECONDS, accuracy="744h")]
    )
    job = load_config(UserSpace(user_dir)).jobs[0]
    assert job.timeout == job.random_delay == job.accuracy == MAX_DURATION_SECONDS


@pytest.mark.parametrize("name", ["Sync", "sync!", "-- SYNC --", "Sýnc"])
def test_a_name_whose_id_is_the_watchers_is_refused_at_validation(user_dir: Path, name: str) -> None:
    write_jobs(user_dir, [script_job("Fine"), script_job(name)])
    problems = problems_of(user_dir)
    assert len(problems) == 1, problems
    assert f"job #2 ({name!r}), field 'name'" in problems[0] and "reserved" in problems[0]


def test_validate_names_the_job_and_the_key_written_twice(user_dir: Path) -> None:
    jobs = (
        '[{"name": "First", "cron": "@daily", "action": "script",\n'
        '  "payload": {"path": "scripts/clean_tmp.py"}},\n'
        ' {"name": "Twice", "cron": "@daily", "cron": "@hourly", "action": "script",\n'
        '  "payload": {"path": "scripts/clean_tmp.py", "env": {"A": "1", "A": "2"}}}]'
    )
    (user_dir / "config" / "jobs.json").write_text(jobs)
    (user_dir / "config" / "settings.json").write_text('{"log": {"keep": 1, "keep": 2}}')
    result = cronsync("validate", "--json", user_dir=user_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = json.loads(result.stdout)["errors"]
    found = {(e["job_index"], e["job_name"], e["field"]) for e in errors}
    assert (1, "Twice", "cron") in found
    assert (1, "Twice", "payload.env.A") in found
    assert (None, None, "log.keep") in found
    assert all("more than once" in e["message"] for e in errors), errors
    assert not any(e["job_index"] == 0 for e in errors)
