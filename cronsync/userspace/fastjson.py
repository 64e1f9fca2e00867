"""JSON for `cronsync exec`'s hot path, through CPython's C accelerator `_json` directly.

`import json` costs milliseconds on every run: its pure-Python fallbacks import `re`, which imports
`enum`, `functools` and `collections`. `_json` is the C code `json` itself runs for the same work,
so `loads` and `dumps` give exactly what `json.loads` and `json.dumps(value, ensure_ascii=False,
separators=(",", ":"))` give (tests/test_fastjson.py checks this). Without `_json` (a Python other
than CPython), the `json` module does the work.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from typing import Any

_JSON_WHITESPACE = " \t\n\r"


class _DecoderDefaults:
    """The settings `_json.make_scanner` reads, as json.JSONDecoder() has them by default."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity


def _unserializable(value: object) -> object:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0.0:  # inf or nan (math costs exec an import)
        raise ValueError(f"{text} is out of range")
    return value


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _StrictDecoderDefaults:
    """For reading logs: NaN, Infinity and numbers too large for a float are refused."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_int = int
    parse_float = staticmethod(_finite_float)
    parse_constant = staticmethod(_refuse_constant)


def _text(data: str | bytes) -> str:
    return data.decode() if isinstance(data, bytes) else data  # UnicodeDecodeError is a ValueError


try:
    from _json import encode_basestring, make_encoder, make_scanner
except ImportError:  # pragma: no cover - every CPython has _json
    import json

    def loads(data: str | bytes) -> Any:
        return json.loads(_text(data))

    def _loads_strict(data: str | bytes) -> Any:
        return json.loads(_text(data), parse_float=_finite_float, parse_constant=_refuse_constant)

    def dumps(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

else:
    _scan = make_scanner(_DecoderDefaults)  # type: ignore[arg-type]  # the scanner reads attributes only
    _scan_strict = make_scanner(_StrictDecoderDefaults)  # type: ignore[arg-type]

    def loads(data: str | bytes) -> Any:
        """A JSON document (str, or UTF-8 bytes); ValueError when it is not one."""
        return _scan_document(_scan, _text(data))

    def _loads_strict(data: str | bytes) -> Any:
        return _scan_document(_scan_strict, _text(data))

    def _scan_document(scan: Any, text: str) -> Any:
        start = len(text) - len(text.lstrip(_JSON_WHITESPACE))
        try:
            value, end = scan(text, start)
        except StopIteration as stop:
            raise ValueError(f"Expecting value: char {stop.value}") from None
        if text[end:].strip(_JSON_WHITESPACE):
            raise ValueError(f"Extra data: char {end}")
        return value

    def dumps(value: object) -> str:
        """Compact JSON text, non-ASCII kept as is; ValueError on a circular reference."""
        # a new encoder each time, as json does: a failed call may leave entries in its markers
        encode = make_encoder({}, _unserializable, encode_basestring, None, ":", ",", False, False, True)
        return "".join(encode(value, 0))


def loads_strict(data: str | bytes) -> Any:
    """Like `loads`, for text nobody vouches for (log lines): ValueError also for NaN, Infinity, a number
    no float holds, nesting too deep to decode (RecursionError), and broken text under `python -I -S`
    (SystemError, where the C scanner cannot import json's error class)."""
    try:
        return _loads_strict(data)
    except (RecursionError, SystemError):
        raise ValueError("not a JSON document this reader can decode") from None
