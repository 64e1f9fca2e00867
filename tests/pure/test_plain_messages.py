"""Messages for bad input that a person can act on: jobs counted from 1, "did you mean", JSON's own words
replaced by plain ones, with the line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import cronsync
from tests.support.userspaces import write_jobs

GOOD = {"name": "Good", "cron": "0 0 * * 0", "action": "script", "payload": {"path": "scripts/clean_tmp.py"}}


def validate_errors(user_dir: Path) -> list[str]:
    result = cronsync("--user-dir", str(user_dir), "validate")
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    return [line.removeprefix(f"error: {user_dir}/config/") for line in result.stderr.splitlines()]


def test_jobs_are_counted_from_one_in_words_and_from_zero_in_json(user_dir: Path) -> None:
    write_jobs(user_dir, [GOOD, {**GOOD, "name": "Bad", "cron": "61 * * * *"}, {**GOOD, "name": "good!"}])
    errors = validate_errors(user_dir)
    assert errors[0].startswith("jobs.json, job #2 ('Bad'), field 'cron': ")
    assert errors[1].startswith(
        "jobs.json, job #3 ('good!'), field 'name': its id 'good' is the same as job #1"
    )
    result = cronsync("--user-dir", str(user_dir), "validate", "--json")
    indexes = [problem["job_index"] for problem in json.loads(result.stdout)["errors"]]
    assert indexes == [1, 2]


@pytest.mark.parametrize(
    ("job", "field", "message"),
    [
        ({**GOOD, "crn": "x"}, "crn", "unknown field; did you mean 'cron'?"),
        ({**GOOD, "Enabled": False}, "Enabled", "unknown field; did you mean 'enabled'?"),
        (
            {**GOOD, "payload": {"path": "scripts/clean_tmp.py", "agrs": []}},
            "payload.agrs",
            "unknown field; did you mean 'args'?",
        ),
        ({**GOOD, "notify": {"gateway": []}}, "notify.gateway", "unknown field; did you mean 'gateways'?"),
        (
            {
                "name": "A",
                "cron": "@daily",
                "action": "agent_workflow",
                "payload": {"prompt": "p", "modle": "m"},
            },
            "payload.modle",
            "unknown field; did you mean 'model'?",
        ),
        ({**GOOD, "action": "scrpt"}, "action", "unknown action 'scrpt'; did you mean 'script'?"),
        (
            {**GOOD, "action": "email"},
            "action",
            "unknown action 'email'; expected one of: script, agent_workflow",
        ),
        ({**GOOD, "xyzzy": 1}, "xyzzy", "unknown field; known fields here: name, cron, enabled,"),
    ],
)
def test_a_misspelt_field_or_action_names_the_close_one(
    user_dir: Path, job: dict[str, object], field: str, message: str
) -> None:
    write_jobs(user_dir, [job])
    (error,) = validate_errors(user_dir)
    assert error.startswith(f"jobs.json, job #1 ('{job['name']}'), field '{field}': {message}"), error


@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [
        ({"gatways": {}}, "gatways", "unknown field; did you mean 'gateways'?"),
        ({"log": {"keap": 1}}, "log.keap", "unknown field; did you mean 'keep'?"),
        ({"agent": {"backend": "openia"}}, "agent", "unknown backend 'openia'; did you mean 'openai'?"),
        (
            {"agent": {"backend": "openai", "model": "m", "base_ur": "x"}},
            "agent.base_ur",
            "unknown field; did you mean 'base_url'?",
        ),
    ],
)
def test_a_misspelt_setting_names_the_close_one(
    user_dir: Path, settings: dict[str, object], field: str, message: str
) -> None:
    (user_dir / "config/settings.json").write_text(json.dumps(settings))
    errors = validate_errors(user_dir)
    assert f"settings.json, field '{field}': {message}" in errors, errors


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ('[\n  {"name": "A",}\n]', "2:16", "expected a field name in double quotes; a comma before }"),
        ('[\n  {"name": "A"}\n  {"name": "B"}\n]', "3:3", "a comma is missing between two items"),
        ('[\n  {"name" "A"}\n]', "2:11", "a colon is missing after a field name"),
        ('[{"name": "A"},]', "1:16", "expected a value"),
        ('[{"name": "A"}] x', "1:17", "there is more text after the end of the JSON"),
        ('[{"name": "A}]', "1:11", "a string is not closed: a double quote is missing"),
        ('[{"name": "C:\\scripts"}]', "1:14", "a backslash in a string starts no valid escape"),
        ("", "1:1", "the file is empty; write [] for none"),
    ],
)
def test_invalid_json_is_said_in_plain_words_with_line_and_column(
    user_dir: Path, text: str, where: str, words: str
) -> None:
    write_jobs(user_dir, text)
    (error,) = validate_errors(user_dir)
    line, column = where.split(":")
    assert error.startswith(f"jobs.json:{where}: invalid JSON at line {line}, column {column}: {words}"), (
        error
    )


@pytest.mark.parametrize(
    ("data", "found"),
    [
        ({"name": "A", "cron": "@daily"}, "an object; for one job write [ {...} ]"),
        ("x", "a string"),
        (None, "null"),
    ],
)
def test_a_top_level_that_is_not_an_array_says_what_it_found(
    user_dir: Path, data: object, found: str
) -> None:
    write_jobs(user_dir, json.dumps(data))
    (error,) = validate_errors(user_dir)
    assert error.startswith(f"jobs.json: jobs.json must be a JSON array of jobs, found {found}"), error


def test_settings_json_is_told_its_own_empty_value(user_dir: Path) -> None:
    (user_dir / "config/settings.json").write_text("{} []")
    assert any(
        error.startswith(
            "settings.json:1:4: invalid JSON at line 1, column 4: there is more text after the end"
        )
        and error.endswith("the whole file must be one { ... }")
        for error in validate_errors(user_dir)
    )


def test_settings_that_is_not_an_object_says_what_it_found(user_dir: Path) -> None:
    (user_dir / "config/settings.json").write_text("[]")
    assert "settings.json: settings.json must be a JSON object, found an array" in validate_errors(user_dir)
