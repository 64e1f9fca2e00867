"""A job's `limits` set by its own process before it execs the job (under cron, where no service
manager sets them): nice, the I/O scheduling class, and the address-space and process-count rlimits.
CPU weight has no per-process form. Loaded only for a job that has limits."""

from __future__ import annotations

import os
import resource

from cronsync import JOB_CONFIG, CronsyncError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

IO_CLASSES = {"realtime": 1, "best-effort": 2, "idle": 3}  # ioprio_set(2)'s classes
_IOPRIO_WHO_PROCESS = 1
_IOPRIO_CLASS_SHIFT = 13
_IOPRIO_SET = {
    "x86_64": 251,
    "i386": 289,
    "i686": 289,
    "aarch64": 30,
    "riscv64": 30,
    "armv7l": 314,
    "ppc64le": 273,
    "s390x": 282,
}


class LimitError(CronsyncError):
    """A limit the process could not set: the field and why."""

    exit_code = JOB_CONFIG


def set_own_limits(limits: Mapping[str, Any]) -> None:
    """In the job's process, before exec: each limit this process can set for itself."""
    nice = limits.get("nice")
    if nice is not None:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, int(nice))
        except OSError as exc:
            raise LimitError(f"limits.nice {nice}: {exc.strerror}") from None
    io = limits.get("io")
    if io is not None:
        _set_io_class(str(io))
    for key, which in (("memory_max", resource.RLIMIT_AS), ("tasks_max", resource.RLIMIT_NPROC)):
        value = limits.get(key)
        if value is not None:
            _lower_rlimit(key, which, int(value))


def _set_io_class(io: str) -> None:
    number = _IOPRIO_SET.get(os.uname().machine)
    if number is None:
        raise LimitError(f"limits.io {io!r}: this machine's ioprio_set system call is not known to cronsync")
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    value = IO_CLASSES[io] << _IOPRIO_CLASS_SHIFT  # the class's level 0 (idle has none)
    if libc.syscall(number, _IOPRIO_WHO_PROCESS, 0, value) != 0:
        raise LimitError(f"limits.io {io!r}: {os.strerror(ctypes.get_errno())}")


def _lower_rlimit(key: str, which: int, value: int) -> None:
    _soft, hard = resource.getrlimit(which)
    limit = value if hard == resource.RLIM_INFINITY else min(value, hard)
    try:
        resource.setrlimit(which, (limit, limit))
    except (OSError, ValueError) as exc:
        raise LimitError(f"limits.{key} {value}: {exc}") from None
