"""`limits`: what a job's processes may use (nice, I/O class, CPU weight, memory, tasks), and how each
backend says it: the systemd service's directives, or what exec sets in the job's process under cron."""

from __future__ import annotations

import re
from typing import Any

_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
MIN_MEMORY_BYTES = 1024**2  # less and not even the interpreter a script runs in can start
SIZE_HINT = 'bytes (1073741824) or a size with K, M, G or T (base 1024), e.g. "512M" or "1G"'


def parse_size(value: Any) -> Any:
    """Bytes, or "512M" / "1G" (base 1024, as systemd reads them) -> bytes."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a size; use {SIZE_HINT}")
    if isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a size; use {SIZE_HINT}")
        return int(match.group(1)) * _UNITS[match.group(2).upper()]
    return value


def at_least_a_mebibyte(size: int) -> int:
    if size < MIN_MEMORY_BYTES:
        raise ValueError(f'{size} bytes is too little for any job to start; use at least "1M" ({SIZE_HINT})')
    return size


def check_io_class(value: Any) -> Any:
    if value == "realtime":
        raise ValueError('"realtime" I/O needs root; use "best-effort" (the default) or "idle"')
    if isinstance(value, str) and value not in ("best-effort", "idle"):
        raise ValueError(f'{value!r} is not an I/O class cronsync sets; use "best-effort" or "idle"')
    return value


def in_range(what: str, low: int, high: int, hint: str) -> Any:
    """A check that an integer is from low to high, saying so with the hint."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"{value} is out of range for {what}: use {low} to {high} ({hint})")
        return value

    return check


# systemd's directive for each field, and how its value is written
SERVICE_DIRECTIVES = (
    ("nice", "Nice"),
    ("io", "IOSchedulingClass"),
    ("cpu_weight", "CPUWeight"),
    ("memory_max", "MemoryMax"),
    ("tasks_max", "TasksMax"),
)
# the cgroup controller each systemd directive needs the user manager to have been delegated
CONTROLLERS = {"cpu_weight": "cpu", "memory_max": "memory", "tasks_max": "pids"}
# what cron's exec sets in the job's process itself; cpu_weight has no per-process equivalent
EMULATED = ("nice", "io", "memory_max", "tasks_max")
IO_CLASSES = {"realtime": 1, "best-effort": 2, "idle": 3}  # ioprio_set(2)'s classes


def service_lines(limits: dict[str, Any] | None) -> list[str]:
    """The [Service] lines of a job's limits, e.g. ["Nice=10", "MemoryMax=1073741824"]."""
    if not limits:
        return []
    return [
        f"{directive}={limits[key]}" for key, directive in SERVICE_DIRECTIVES if limits.get(key) is not None
    ]


def needed_controllers(limits: dict[str, Any] | None) -> list[str]:
    """The cgroup controllers the service's limits take effect through."""
    return sorted({CONTROLLERS[key] for key in CONTROLLERS if limits and limits.get(key) is not None})
