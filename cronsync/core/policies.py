"""The schemas of a job's run policies (README: "Run policies", "Limits"): `retries` and `limits`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from cronsync.core.fieldtypes import Duration, StrictModel
from cronsync.core.limits import SIZE_HINT, at_least_a_mebibyte, check_io_class, in_range, parse_size

Size = Annotated[
    int, BeforeValidator(parse_size), AfterValidator(at_least_a_mebibyte), Field(description=SIZE_HINT)
]


def check_nice(value: int) -> int:
    if value < 0:
        raise ValueError(
            f"{value} would raise the job's priority, which only root may do; use 0 (normal) to 19 (nicest)"
        )
    if value > 19:
        raise ValueError(f"{value} is past the nicest level; use 0 (normal) to 19 (nicest)")
    return value


class Limits(StrictModel):
    """What the job's processes may use (README: "Limits"): systemd sets each; cron's exec sets what a
    process can set for itself."""

    nice: Annotated[int, AfterValidator(check_nice)] | None = Field(
        default=None,
        description="0 (normal) to 19 (yield the CPU to everything else); raising priority needs root",
        json_schema_extra={"minimum": 0, "maximum": 19},
    )
    io: Annotated[Literal["best-effort", "idle"], BeforeValidator(check_io_class)] | None = Field(
        default=None, description='I/O scheduling class: "idle" (only when no one else uses the disk)'
    )
    cpu_weight: (
        Annotated[int, AfterValidator(in_range("the CPU weight", 1, 10000, "100 is the default"))] | None
    ) = Field(
        default=None,
        description="CPU share against other units, 1-10000 (default 100)",
        json_schema_extra={"minimum": 1, "maximum": 10000},
    )
    memory_max: Size | None = None
    tasks_max: (
        Annotated[int, AfterValidator(in_range("the number of tasks", 1, 4194304, "e.g. 200"))] | None
    ) = Field(
        default=None,
        description="most processes and threads at once",
        json_schema_extra={"minimum": 1},
    )


MAX_RETRIES = 10
MAX_RETRY_DELAY_SECONDS = 3600
MAX_BACKOFF = 10
RETRY_ON = ("failure", "timeout")
RetryOn = Literal["failure", "timeout"]


class Retries(StrictModel):
    """exec runs the job again after a failed attempt (exec/retry.py), under cron as under systemd."""

    count: int = Field(description="attempts after the first, 1 to 10")
    delay: Duration = Field(default=10, description="before the first retry, at most 1h")
    backoff: float = Field(default=1, description="each delay is the one before times this, 1 to 10")
    on: list[RetryOn] = Field(default=["failure"], description='"failure", "timeout" or both')

    @field_validator("count", mode="before")
    @classmethod
    def _count(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RETRIES:
            raise ValueError(
                f"must be a whole number from 1 to {MAX_RETRIES} (the retries after the first attempt), "
                f"found {value!r}"
            )
        return value

    @field_validator("delay")
    @classmethod
    def _delay(cls, seconds: int) -> int:
        if seconds > MAX_RETRY_DELAY_SECONDS:
            raise ValueError(
                f'{seconds} seconds is longer than a retry may wait; use at most "1h" '
                f"({MAX_RETRY_DELAY_SECONDS} seconds)"
            )
        return seconds

    @field_validator("backoff", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= MAX_BACKOFF:
            raise ValueError(
                f"must be a number from 1 to {MAX_BACKOFF} (1 keeps the delay, 2 doubles it each time), "
                f"found {value!r}"
            )
        return float(value)

    @field_validator("on", mode="before")
    @classmethod
    def _kinds(cls, on: Any) -> Any:
        kinds = ", ".join(repr(kind) for kind in RETRY_ON)
        if not isinstance(on, list) or not on or any(kind not in RETRY_ON for kind in on):
            raise ValueError(f'must list what is retried, {kinds} or both (e.g. ["failure"]), found {on!r}')
        if len(set(on)) != len(on):
            raise ValueError(f"lists a kind twice; write each of {kinds} at most once")
        return on
