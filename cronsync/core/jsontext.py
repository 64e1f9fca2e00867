"""The JSON text of jobs.json and settings.json to data: a syntax error with its line and column, and a
key written twice in one object a problem (json itself keeps the last one silently). No pydantic: apply's
fast path reads jobs.json with it too."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from cronsync.core.errors import InvalidInput, Problem

_REPEATED = "written more than once in this object (JSON would keep only the last one); write it once"


def parse_json_text(text: str, file: str, *, jobs_array: bool = False) -> tuple[Any, list[Problem]]:
    """The data and a problem for each key written twice in one object (naming the job, when `jobs_array`
    says the top level is jobs.json's array, and the key's field path); InvalidInput for invalid JSON."""
    repeated: list[tuple[dict[str, Any], list[str]]] = []

    def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            repeated.append((obj, _repeated_keys(pairs)))
        return obj

    try:
        data = json.loads(text, object_pairs_hook=pairs_to_dict)
    except json.JSONDecodeError as exc:
        plain = plain_json_error(exc, text, "[]" if jobs_array else "{}")
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {plain}"
        raise InvalidInput([Problem(file, message, line=exc.lineno, column=exc.colno)]) from None
    except RecursionError:
        raise InvalidInput(
            [Problem(file, "invalid JSON: arrays or objects nested too deeply (hundreds of levels)")]
        ) from None
    if not repeated:
        return data, []
    return data, _repeated_problems(file, data, dict((id(obj), keys) for obj, keys in repeated), jobs_array)


# json's messages, said so that someone who does not write parsers knows what to change
_PLAIN_JSON_ERRORS = {
    "Expecting ',' delimiter": "a comma is missing between two items, or a [ or { is not closed",
    "Expecting ':' delimiter": 'a colon is missing after a field name (write "name": value)',
    "Expecting property name enclosed in double quotes": (
        "expected a field name in double quotes; a comma before } or a name in single quotes is not JSON"
    ),
    "Expecting value": (
        'expected a value ("text" in double quotes, a number, true, false, null, [ or {); '
        "a comma before ] or } is not JSON"
    ),
    "Extra data": "there is more text after the end of the JSON; the whole file must be one {top}",
    "Unterminated string starting at": "a string is not closed: a double quote is missing",
    "Invalid control character at": "a string holds a raw line break or tab; write \\n or \\t instead",
    "Invalid \\escape": "a backslash in a string starts no valid escape; write \\\\ for one backslash",
    "Invalid \\uXXXX escape": "a \\u escape needs four hexadecimal digits",
}


def plain_json_error(exc: json.JSONDecodeError, text: str, empty: str) -> str:
    """What is wrong at exc's position, in plain words; empty is the file's empty value, `[]` or `{}`."""
    if not text.strip():
        return f"the file is empty; write {empty} for none"
    top = f"{empty[0]} ... {empty[1]}"
    return _PLAIN_JSON_ERRORS.get(exc.msg, exc.msg).replace("{top}", top)


def json_type_name(value: Any) -> str:
    """How JSON calls the type of a parsed value, with its article: "an object", "a string"."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    for kind, name in ((dict, "an object"), (list, "an array"), (str, "a string")):
        if isinstance(value, kind):
            return name
    return "a number"


def loads_unique(text: str) -> Any:
    """json.loads, but ValueError also when an object has a key twice."""

    def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            raise ValueError(f"key(s) written twice: {', '.join(_repeated_keys(pairs))}")
        return obj

    return json.loads(text, object_pairs_hook=pairs_to_dict)


def _repeated_keys(pairs: list[tuple[str, Any]]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for key, _value in pairs:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def _repeated_problems(
    file: str, data: Any, repeated: dict[int, list[str]], jobs_array: bool
) -> list[Problem]:
    """Walks the data (without recursion: it may be nested deeply) for the objects with repeated keys."""
    problems = []
    stack: list[tuple[Any, list[int | str]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key in repeated.get(id(value), []):
                problems.append(_repeated_problem(file, data, [*path, key], jobs_array))
            stack.extend((child, [*path, key]) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((child, [*path, index]) for index, child in enumerate(value))
    return sorted(problems, key=lambda p: (p.job_index or 0, p.field or ""))


def _repeated_problem(file: str, data: Any, path: list[int | str], jobs_array: bool) -> Problem:
    key = path[-1]
    if not (jobs_array and path and isinstance(path[0], int) and len(path) > 1):
        return Problem(file, f"key {key!r} is {_REPEATED}", field=format_loc(path))
    index = path[0]
    raw = data[index]
    name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
    return Problem(
        file, f"key {key!r} is {_REPEATED}", job_index=index, job_name=name, field=format_loc(path[1:])
    )


def format_loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
