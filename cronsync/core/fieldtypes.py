"""The building blocks of jobs.json's and settings.json's schemas: durations, text that a command line can
carry, names, and the strict model every object of both files is."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

MAX_NAME_LENGTH = 200
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_duration(value: Any) -> Any:
    """Seconds as a number, or a string such as "90s", "5m", "1h30m"; returns whole seconds."""
    if isinstance(value, bool):  # pydantic's lax mode would take true as 1 second
        raise ValueError(f'{str(value).lower()} is not a duration; use seconds (90) or "90s", "5m", "1h30m"')
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        match = _DURATION.match(text)
        if not text or not match or not any(match.groups()):
            raise ValueError(f'{value!r} is not a duration; use seconds (90) or "90s", "5m", "1h30m"')
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    return value


# The longest duration any field takes: beyond it timers, timeouts and time arithmetic overflow.
MAX_DURATION_SECONDS = 31 * 24 * 3600


def _bounded(seconds: int) -> int:
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(
            f"{seconds} seconds is longer than the longest duration allowed, "
            f'31 days ({MAX_DURATION_SECONDS} seconds, "744h")'
        )
    return seconds


_DURATION_FIELD = {"description": "seconds, or '90s', '5m', '1h'", "le": MAX_DURATION_SECONDS}
Duration = Annotated[
    int, BeforeValidator(parse_duration), AfterValidator(_bounded), Field(ge=0, **_DURATION_FIELD)
]
PositiveDuration = Annotated[
    int, BeforeValidator(parse_duration), AfterValidator(_bounded), Field(gt=0, **_DURATION_FIELD)
]


# execve(2) refuses one argument or variable over MAX_ARG_STRLEN (32 pages: 131072 bytes with its NUL), and
# systemd cannot even start cronsync for a unit holding such a variable: refuse it here, with the reason.
MAX_EXEC_STRING_BYTES = 131071
# all arguments plus all variables together; the kernel's limit (a quarter of the stack limit, 2 MiB by
# default) must also hold the inherited environment
MAX_EXEC_TOTAL_BYTES = 1024 * 1024


def fits_exec(what: str, value: str) -> None:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_EXEC_STRING_BYTES:
        raise ValueError(
            f"{what} is {size} bytes; the kernel refuses one argument or variable over "
            f"{MAX_EXEC_STRING_BYTES} bytes: pass large data in a file under USER/"
        )


def fits_exec_in_all(what: str, values: list[str]) -> None:
    size = sum(len(value.encode("utf-8", "surrogatepass")) + 1 for value in values)
    if size > MAX_EXEC_TOTAL_BYTES:
        raise ValueError(
            f"{what} add up to {size} bytes; keep them under {MAX_EXEC_TOTAL_BYTES} bytes "
            "(the kernel limits a command's arguments and environment): pass large data in a file"
        )


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    lone = next((ch for ch in value if "\ud800" <= ch <= "\udfff"), None)
    if lone is not None:  # JSON allows "\ud800" alone; no file, argument or message can hold it
        raise ValueError(
            f"contains a lone surrogate \\u{ord(lone):04x}, which is not a character; "
            "write the character itself, or a JSON surrogate pair"
        )
    return value


Text = Annotated[str, BeforeValidator(lambda v: _no_nul(v) if isinstance(v, str) else v)]
JobName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH, description="a job's name")]
GatewayName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=64)]
# a machine's name in the fleet: a hostname's letters, and safe in an etcd key
HostName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=253)]


class StrictModel(BaseModel):
    # strict: JSON's types as written ("enabled": "yes" is an error, as the JSON Schema says)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
