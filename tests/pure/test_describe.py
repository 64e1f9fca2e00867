"""Descriptions of schedules: a corpus of expression => sentence, each sentence also read back and held to
what the expression fires on; and the schedules that never fire, which are refused before any description."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronsync.core.describe import describe
from cronsync.core.schedule import ScheduleError, parse
from tests.support.descriptions import expected_reading, read

CORPUS = Path(__file__).with_name("describe_corpus.txt")


def corpus() -> list[tuple[str, str]]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    pairs = [line.split(" => ") for line in lines if line.strip() and not line.startswith("# ")]
    assert all(len(pair) == 2 for pair in pairs), "a corpus line is 'expression => sentence'"
    return [(expression, sentence) for expression, sentence in pairs]


@pytest.mark.parametrize(("expression", "sentence"), corpus())
def test_each_expression_reads_as_its_sentence(expression: str, sentence: str) -> None:
    schedule = parse(expression)
    assert describe(schedule) == sentence
    assert read(sentence) == expected_reading(schedule), "the sentence says something else fires"


def test_the_corpus_is_a_few_hundred_distinct_expressions() -> None:
    expressions = [expression for expression, _ in corpus()]
    assert len(expressions) >= 300 and len(set(expressions)) == len(expressions)


@pytest.mark.parametrize(
    "expression", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 feb *", "* * 31 4-6/2 *"]
)
def test_days_that_never_occur_are_refused_before_any_description(expression: str) -> None:
    with pytest.raises(ScheduleError, match="never occurs"):
        parse(expression)


@pytest.mark.parametrize(
    ("description", "why"),
    [
        ("Every 7 minutes", "*/7 restarts at :00 after :56"),
        ("At 00:00 on day 30 of January and February", "February has no day 30"),
        ("At minute 0 through 5 past the hour", "minutes, not minute"),
        ("At 00:00 on days 29 through 31 of February", "February has no day 30 or 31"),
    ],
)
def test_the_reader_refuses_what_a_right_description_never_says(description: str, why: str) -> None:
    with pytest.raises(AssertionError):
        read(description)
