"""Property-based fuzzing of jobs.json: never a traceback, always every problem with where it is.

CRONSYNC_FUZZ_EXAMPLES raises the number of examples (default 1500 per property in CI).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronsync.core.errors import Problem
from tests.support.cli import EXAMPLE, cronsync
from tests.support.fuzzing import EXAMPLES, FIELDS, PAYLOAD_FIELDS, json_values, validation_problems

SEED_TEXT = (EXAMPLE / "config" / "jobs.json").read_bytes()
SEED = json.loads(SEED_TEXT)
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


def problems_for(jobs_bytes: bytes) -> list[Problem] | None:
    """The problems found (None when the file is valid); any other exception fails the test."""
    return validation_problems(EXAMPLE, jobs_bytes) or None


def assert_located(problems: list[Problem], data: Any) -> None:
    for problem in problems:
        assert problem.message
        if problem.line is not None:  # a JSON syntax error
            continue
        if isinstance(data, list) and data:
            assert problem.job_index is not None and 0 <= problem.job_index < len(data), problem
            if problem.field is None:  # about the job as a whole: what it is, its action, a duplicate
                whole = ("action", "duplicate", "must be a JSON object")
                assert any(words in problem.message for words in whole), problem
        assert str(problem).startswith(problem.file)


@fuzz
@given(st.data())
def test_mutated_json_text_never_crashes(data: st.DataObject) -> None:
    text = bytearray(SEED_TEXT)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = data.draw(st.sampled_from(list(b'{}[]",:\\ \n0a-*/@\x00\xff')))
        if op == "insert":
            text[pos:pos] = bytes([byte])
        elif pos < len(text):
            text[pos : pos + 1] = b"" if op == "delete" else bytes([byte])
    problems = problems_for(bytes(text))
    if problems is not None:
        try:
            parsed = json.loads(bytes(text))
        except ValueError:
            parsed = None
        assert_located(problems, parsed)


@fuzz
@given(st.data())
def test_wrong_values_are_reported_with_job_and_field(data: st.DataObject) -> None:
    jobs = json.loads(SEED_TEXT)
    index = data.draw(st.integers(0, len(jobs) - 1))
    if data.draw(st.booleans()):
        jobs[index][data.draw(st.sampled_from(FIELDS))] = data.draw(json_values)
    else:
        jobs[index]["payload"][data.draw(st.sampled_from(PAYLOAD_FIELDS))] = data.draw(json_values)
    problems = problems_for(json.dumps(jobs).encode())
    if problems is not None:
        assert_located(problems, jobs)
        assert any(p.job_index == index for p in problems if p.line is None)


@pytest.mark.parametrize("count", [1, 3])
def test_cli_reports_fuzzed_problems_without_traceback(user_dir: Path, count: int) -> None:

    jobs = json.loads(SEED_TEXT)
    for job in jobs[:count]:
        job["cron"] = "L W # ?"
        job["persistent"] = "sometimes"
    (user_dir / "config" / "jobs.json").write_text(json.dumps(jobs))
    result = cronsync("validate", user_dir=user_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("field 'cron'") == min(count, len(jobs))
