"""Validation of the run policies: `retries`, `overlap: "replace"`, `group` and settings.json `groups`,
each problem with its job (counted from 1), its field, what was wrong and what would be right."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cronsync.config import load_config
from cronsync.core.errors import InvalidInput
from cronsync.userspace.paths import UserSpace
from tests.support.exectools import make_space, script_job


def problems(tmp_path: Path, job: dict[str, Any], settings: dict[str, Any] | None = None) -> list[str]:
    user = make_space(tmp_path, [script_job("Other", "a.sh"), job], settings, scripts={"a.sh": "#!/bin/sh\n"})
    with pytest.raises(InvalidInput) as info:
        load_config(UserSpace(user))
    return [str(p) for p in info.value.problems]


def test_the_issue_s_fields_are_valid(tmp_path: Path) -> None:
    retries = {"count": 3, "delay": "30s", "backoff": 2, "on": ["failure", "timeout"]}
    job = script_job("Ask", "a.sh", retries=retries, overlap="replace", group="llm")
    user = make_space(tmp_path, [job], {"groups": {"llm": 1}}, scripts={"a.sh": "#!/bin/sh\n"})
    (loaded,) = load_config(UserSpace(user)).jobs
    assert loaded.retries is not None and loaded.retries.delay == 30 and loaded.retries.backoff == 2.0
    assert loaded.overlap == "replace" and loaded.group == "llm"


@pytest.mark.parametrize(
    ("retries", "field", "words"),
    [
        (
            {"count": 0},
            "retries.count",
            "a whole number from 1 to 10 (the retries after the first attempt), found 0",
        ),
        ({"count": 11}, "retries.count", "from 1 to 10"),
        ({"count": "3"}, "retries.count", "found '3'"),
        ({"count": 2, "delay": "2h"}, "retries.delay", 'longer than a retry may wait; use at most "1h"'),
        ({"count": 2, "delay": "soon"}, "retries.delay", "is not a duration"),
        ({"count": 2, "backoff": 0.5}, "retries.backoff", "a number from 1 to 10 (1 keeps the delay"),
        ({"count": 2, "backoff": True}, "retries.backoff", "found True"),
        ({"count": 2, "on": ["fail"]}, "retries.on", "'failure', 'timeout' or both"),
        ({"count": 2, "on": []}, "retries.on", "must list what is retried"),
        ({"count": 2, "on": ["timeout", "timeout"]}, "retries.on", "lists a kind twice"),
        ({"cont": 2}, "retries.cont", "did you mean 'count'?"),
        ({"delay": 5}, "retries.count", "required field is missing"),
        (3, "retries", 'must be an object such as {"count": 3'),
    ],
)
def test_each_retries_problem_names_the_job_and_the_field(
    tmp_path: Path, retries: object, field: str, words: str
) -> None:
    found = problems(tmp_path, script_job("Flaky", "a.sh", retries=retries))
    assert any(f"job #2 ('Flaky'), field '{field}': " in p and words in p for p in found), found


def test_overlap_names_replace_among_the_choices(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, script_job("Long", "a.sh", overlap="replce"))
    assert "job #2 ('Long'), field 'overlap'" in found and "'replace'" in found


def test_an_undefined_group_names_the_defined_ones_and_the_closest(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, script_job("Ask", "a.sh", group="lm"), {"groups": {"llm": 1, "disk": 2}})
    assert "job #2 ('Ask'), field 'group': group 'lm' is not defined in settings.json 'groups'" in found
    assert "(defined: disk, llm); did you mean 'llm'?" in found
    (found,) = problems(tmp_path, script_job("Ask", "a.sh", group="llm"))
    assert "(defined: none yet)" in found and '"groups": {"llm": 1}' in found


def test_a_group_name_must_be_one_a_file_can_hold(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, script_job("Ask", "a.sh", group="../x"), {"groups": {"llm": 1}})
    assert "field 'group': '../x' is not a group name" in found


@pytest.mark.parametrize(
    ("size", "words"), [(0, "greater than or equal to 1"), (65, "less than or equal to 64")]
)
def test_a_group_s_size_is_bounded(tmp_path: Path, size: int, words: str) -> None:
    user = make_space(tmp_path, [], {"groups": {"llm": size}})
    (user / "config" / "jobs.json").write_text(json.dumps([]))
    with pytest.raises(InvalidInput) as info:
        load_config(UserSpace(user))
    (found,) = [str(p) for p in info.value.problems]
    assert "groups.llm" in found and words in found, found
