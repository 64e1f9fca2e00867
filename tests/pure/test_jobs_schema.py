"""The jobs.json schema: the seed loads unchanged, every error class is reported, all at once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cronsync.config import load_config
from cronsync.core.errors import InvalidInput
from cronsync.core.ids import job_id
from cronsync.core.jobs import AgentJob, ScriptJob
from cronsync.userspace.paths import UserSpace
from tests.support.cli import EXAMPLE
from tests.support.userspaces import write_jobs


def problems_of(user_dir: Path) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        load_config(UserSpace(user_dir))
    return [str(p) for p in info.value.problems]


def script_job(name: str = "A", **extra: object) -> dict[str, object]:
    job: dict[str, object] = {
        "name": name,
        "cron": "0 0 * * 0",
        "action": "script",
        "payload": {"path": "scripts/clean_tmp.py"},
    }
    job.update(extra)
    return job


def test_seed_file_loads_unchanged(user_dir: Path) -> None:
    assert (user_dir / "config/jobs.json").read_bytes() == (EXAMPLE / "config/jobs.json").read_bytes()
    config = load_config(UserSpace(user_dir))
    standup, clean = config.jobs
    assert isinstance(standup, AgentJob) and isinstance(clean, ScriptJob)
    assert standup.id == "daily-standup-summary" and clean.id == "clean-temp-files"
    assert standup.payload.prompt == "Summarize git commits from the last 24 hours."
    notify = standup.effective_notify()
    assert notify.gateways == ["telegram"] and notify.on == "always"
    assert clean.payload.path == "scripts/clean_tmp.py" and clean.persistent is True
    # the agent job needs a model server and Telegram secrets: it ships disabled (the README says how to
    # enable it)
    assert standup.enabled is False and clean.enabled is True


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Daily Standup Summary", "daily-standup-summary"),
        ("  Ünïcode -- Job!! ", "unicode-job"),
        ("a/b\\c", "a-b-c"),
        ("Backup: DB @ 3am", "backup-db-3am"),
    ],
)
def test_job_id_is_a_safe_slug(name: str, expected: str) -> None:
    assert job_id(name) == expected


def test_invalid_json_reports_line_and_column(user_dir: Path) -> None:
    write_jobs(user_dir, '[\n  {"name": "x",\n   "cron" "0 0 * * *"}\n]')
    (problem,) = problems_of(user_dir)
    assert "jobs.json:3:" in problem and "invalid JSON" in problem


def test_every_problem_is_reported_in_one_run(user_dir: Path) -> None:
    write_jobs(
        user_dir,
        [
            script_job("Good"),
            {"name": "No Action", "cron": "0 0 * * *", "payload": {}},
            {"name": "Weird", "cron": "0 0 * * *", "action": "email", "payload": {}},
            script_job("Bad Cron", cron="61 * * * *"),
            script_job("Line\nBreak"),
            script_job("Good"),
            script_job("good!"),
            script_job("Escapes", payload={"path": "../outside.py"}),
            script_job("Missing", payload={"path": "scripts/nope.py"}),
            script_job("Zone", timezone="Mars/Olympus"),
            script_job("Typo", enabeld=True),
            {
                "name": "Agent",
                "cron": "0 0 * * *",
                "action": "agent_workflow",
                "payload": {"prompt": "hi", "output": "nowhere"},
            },
        ],
    )
    problems = problems_of(user_dir)
    text = "\n".join(problems)
    expectations = [
        ("job #2 ('No Action')", "missing 'action'"),
        ("job #3 ('Weird')", "unknown action 'email'; expected one of: script, agent_workflow"),
        ("job #4 ('Bad Cron'), field 'cron'", ""),
        ("job #5 ('Line\\nBreak'), field 'name'", "control character"),
        ("job #6 ('Good'), field 'name'", "duplicate name"),
        ("job #7 ('good!'), field 'name'", "id 'good' is the same as job #1"),
        ("job #8 ('Escapes'), field 'payload.path'", "outside"),
        ("job #9 ('Missing'), field 'payload.path'", "does not exist"),
        ("job #10 ('Zone'), field 'timezone'", "not an IANA time zone"),
        ("job #11 ('Typo'), field 'enabeld'", "unknown field"),
        ("job #12 ('Agent'), field 'payload.output'", "gateway 'nowhere' is not defined"),
    ]
    for where, what in expectations:
        assert any(where in p and what in p for p in problems), f"{where} / {what} not in:\n{text}"
    assert not any("jobs.json, job #1 (" in p for p in problems)


def test_a_missing_script_shared_by_several_jobs_is_reported_on_each(user_dir: Path) -> None:
    missing = {"path": "scripts/nope.py"}
    write_jobs(
        user_dir,
        [script_job("One", payload=missing), script_job("Fine"), script_job("Two", payload=missing)],
    )
    problems = problems_of(user_dir)
    assert len(problems) == 2, problems
    assert "job #1 ('One'), field 'payload.path'" in problems[0] and "does not exist" in problems[0]
    assert "job #3 ('Two'), field 'payload.path'" in problems[1] and "does not exist" in problems[1]


def test_script_symlink_out_of_scripts_is_refused(user_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "evil.py"
    outside.write_text("print('x')\n")
    os.symlink(outside, user_dir / "scripts" / "link.py")
    write_jobs(user_dir, [script_job("Link", payload={"path": "scripts/link.py"})])
    (problem,) = problems_of(user_dir)
    assert "outside" in problem and "payload.path" in problem


def test_absolute_path_inside_scripts_is_accepted(user_dir: Path) -> None:
    write_jobs(user_dir, [script_job("Abs", payload={"path": str(user_dir / "scripts" / "clean_tmp.py")})])
    assert load_config(UserSpace(user_dir)).jobs[0].name == "Abs"


def test_top_level_must_be_an_array(user_dir: Path) -> None:
    write_jobs(user_dir, {"jobs": []})
    (problem,) = problems_of(user_dir)
    assert problem.endswith(
        "jobs.json: jobs.json must be a JSON array of jobs, found an object: "
        'write [ {"name": ..., "cron": ..., ...}, ... ]'
    )


@pytest.mark.parametrize(
    ("value", "seconds"), [(90, 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("45", 45)]
)
def test_durations(user_dir: Path, value: object, seconds: int) -> None:
    write_jobs(user_dir, [script_job("D", timeout=value, random_delay=value)])
    job = load_config(UserSpace(user_dir)).jobs[0]
    assert job.timeout == seconds and job.random_delay == seconds


def test_bad_duration_and_notify(user_dir: Path) -> None:
    write_jobs(
        user_dir, [script_job("D", timeout="soon", notify={"on": "sometimes", "gateways": ["telegram"]})]
    )
    text = "\n".join(problems_of(user_dir))
    assert "field 'timeout'" in text and "not a duration" in text
    assert "field 'notify.on'" in text and "'always'" in text


def test_settings_problems_are_reported_with_job_problems(user_dir: Path) -> None:
    (user_dir / "config" / "settings.json").write_text(
        json.dumps({"gateways": {"t": "not-a-list"}, "agent": {"backend": "magic"}})
    )
    write_jobs(user_dir, [script_job("X", cron="* * *")])
    text = "\n".join(problems_of(user_dir))
    assert "settings.json" in text and "gateways.t" in text and "agent" in text
    assert "job #1 ('X'), field 'cron'" in text


def test_values_keep_their_json_types(user_dir: Path) -> None:
    """No lenient coercion: what the JSON Schema says is what the loader accepts."""
    write_jobs(user_dir, [script_job("T", enabled="yes", persistent=1, timeout=True, random_delay=1.5)])
    text = "\n".join(problems_of(user_dir))
    for field in ("enabled", "persistent", "timeout", "random_delay"):
        assert f"field '{field}'" in text, text
