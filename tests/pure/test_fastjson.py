"""cronsync.userspace.fastjson gives exactly what the json module gives, for any value and any text."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronsync.userspace import fastjson

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=30
)
JSON_TEXT_PARTS = st.sampled_from(
    [
        *('{"a": ', "[", "]", "}", ",", ":", ' "x\\u00e9"', "1", "-0.5e3", "NaN", "true", "null"),
        *(" ", "\n", '"\\q"', "01", "\ufeff"),
    ]
)


def reference_dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def same_value(a: Any, b: Any) -> bool:
    """Equal, counting NaN equal to NaN."""
    return reference_dumps(a) == reference_dumps(b)


@given(VALUES)
def test_dumps_is_json_dumps(value: object) -> None:
    assert fastjson.dumps(value) == reference_dumps(value)


@given(VALUES)
def test_loads_reads_back_what_json_wrote(value: object) -> None:
    for text in (json.dumps(value), json.dumps(value, indent=2), reference_dumps(value)):
        assert same_value(fastjson.loads(text), value)
        assert same_value(fastjson.loads(f" \n{text}\t\r\n".encode()), value)


@given(st.lists(JSON_TEXT_PARTS, max_size=12).map("".join))
def test_loads_accepts_and_refuses_what_json_does(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            fastjson.loads(text)
    else:
        assert same_value(fastjson.loads(text), expected)


def test_errors_are_value_errors_as_with_json() -> None:
    for bad in ("", "  ", "[1,]", '{"a": 1} x', "nul", b"\xff\xfe"):
        with pytest.raises(ValueError):
            fastjson.loads(bad)
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        fastjson.dumps(loop)
    with pytest.raises(TypeError, match="not JSON serializable"):
        fastjson.dumps({"a": object()})
    assert math.isinf(fastjson.loads("-Infinity"))
