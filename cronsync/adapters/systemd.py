"""The systemd user manager: pystemd over D-Bus, else `systemctl --user`.

pystemd talks to the manager's private socket (`$XDG_RUNTIME_DIR/systemd/private`, peer to peer) or
the session bus; when pystemd is not installed or cannot connect, every call goes through
`systemctl --user` instead. Either way the whole state of many units is read in one pass.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cronsync import CronsyncError

DESTINATION = b"org.freedesktop.systemd1"
MANAGER_PATH = b"/org/freedesktop/systemd1"
MANAGER_IFACE = b"org.freedesktop.systemd1.Manager"
PROPERTIES_IFACE = b"org.freedesktop.DBus.Properties"
TIMER_IFACE = b"org.freedesktop.systemd1.Timer"
SERVICE_IFACE = b"org.freedesktop.systemd1.Service"
UNIT_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState")
# what a timer has scheduled, and (history) when it last fired
TIMER_SCHEDULE = ("NextElapseUSecRealtime",)
# an interval timer's (@every) next elapse, on CLOCK_MONOTONIC: read when it has no realtime one
TIMER_MONOTONIC = "NextElapseUSecMonotonic"
TIMER_HISTORY = ("LastTriggerUSec",)
USEC_INFINITY = 2**64 - 1
TIME_PROPERTIES = (
    "NextElapseUSecRealtime",
    "LastTriggerUSec",
    "ExecMainStartTimestamp",
    "ExecMainExitTimestamp",
)
_SHOW_TIME = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d+))? UTC")
# `systemctl show` prints a monotonic time as a span (`1h 29min 59.876543s`): its parts, in microseconds
_SPAN_PART = re.compile(r"(\d+(?:\.\d+)?)(month|min|ms|us|μs|y|w|d|h|s)")
_SPAN_USEC = {"y": 31_557_600e6, "month": 2_629_800e6, "w": 604_800e6, "d": 86_400e6, "h": 3_600e6}
_SPAN_USEC |= {"min": 60e6, "s": 1e6, "ms": 1e3, "us": 1.0, "μs": 1.0}
SERVICE_PROPERTIES = ("Result", "ExecMainStartTimestamp", "ExecMainExitTimestamp", "ExecMainStatus")
# A unit in one of these states has processes or a job under way (a oneshot service runs while activating).
BUSY_STATES = ("active", "activating", "deactivating", "reloading")
# How long a stop may take: past systemd's default TimeoutStopSec (90 s), after which it SIGKILLs the run.
STOP_TIMEOUT_SECONDS = 120.0


class SystemdError(CronsyncError):
    """The user manager refused or failed a request."""


@dataclass(frozen=True)
class UnitState:
    name: str
    load_state: str = "not-found"
    active_state: str = "inactive"
    sub_state: str = "dead"
    result: str = ""
    next_elapse_usec: int = 0
    last_trigger_usec: int = 0
    exec_start_usec: int = 0
    exec_exit_usec: int = 0
    exit_status: int = 0

    @property
    def loaded(self) -> bool:
        return self.load_state == "loaded"


class Manager(Protocol):
    """What cronsync asks of a systemd user manager."""

    via: str

    def reload(self) -> None: ...
    def enable(self, units: Sequence[str]) -> None: ...
    def disable(self, units: Sequence[str]) -> None: ...
    def start(self, unit: str) -> None: ...
    def stop(self, unit: str) -> None: ...
    def restart(self, unit: str) -> None: ...
    def reset_failed(self, unit: str) -> None: ...
    def states(self, units: Sequence[str], *, history: bool = False) -> dict[str, UnitState]: ...
    def units_loaded_usec(self) -> int: ...
    def version(self) -> int | None: ...
    def unit_path(self) -> list[str] | None: ...
    def control_group(self) -> str | None: ...


def private_socket() -> Path | None:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "systemd" / "private" if runtime else None


def version_number(text: str) -> int | None:
    """systemd's version as a number: 252 for "252.36-1~deb12u1" or "252 (252.36-1~deb12u1)"."""
    digits = re.match(r"\s*(\d+)", text)
    return int(digits.group(1)) if digits else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _state_from(name: str, props: dict[str, Any]) -> UnitState:
    def number(key: str) -> int:
        try:
            value = int(props.get(key) or 0)
        except (TypeError, ValueError):
            return 0
        return 0 if value >= USEC_INFINITY else value  # "never" (a stopped timer's next elapse)

    return UnitState(
        name=name,
        load_state=_text(props.get("LoadState", "not-found")),
        active_state=_text(props.get("ActiveState", "inactive")),
        sub_state=_text(props.get("SubState", "dead")),
        result=_text(props.get("Result", "")),
        next_elapse_usec=number("NextElapseUSecRealtime") or realtime_of_monotonic(number(TIMER_MONOTONIC)),
        last_trigger_usec=number("LastTriggerUSec"),
        exec_start_usec=number("ExecMainStartTimestamp"),
        exec_exit_usec=number("ExecMainExitTimestamp"),
        exit_status=number("ExecMainStatus"),
    )


def realtime_of_monotonic(usec: int) -> int:
    """A CLOCK_MONOTONIC time (the manager's, which is this machine's) as realtime usec; 0 stays 0."""
    if not usec:
        return 0
    now_ns, monotonic_ns = time.time_ns(), time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    return usec + (now_ns - monotonic_ns) // 1000


class DBusManager:
    """The manager through pystemd's D-Bus bindings, one connection for every call."""

    def __init__(self, bus: Any, via: str) -> None:
        self._bus = bus
        self.via = via

    def _call(self, method: bytes, signature: bytes, *args: Any) -> Any:
        from pystemd.dbuslib import apply_signature

        try:
            reply = self._bus.call_method(
                DESTINATION, MANAGER_PATH, MANAGER_IFACE, method, apply_signature(signature, list(args))
            )
        except Exception as exc:  # pystemd raises its own DBusError family
            raise SystemdError(f"{method.decode()}{tuple(_text(a) for a in args)}: {exc}") from None
        return reply.body

    def reload(self) -> None:
        self._call(b"Reload", b"")

    def enable(self, units: Sequence[str]) -> None:
        if units:
            self._call(b"EnableUnitFiles", b"asbb", [u.encode() for u in units], False, True)

    def disable(self, units: Sequence[str]) -> None:
        if units:
            self._call(b"DisableUnitFiles", b"asb", [u.encode() for u in units], False)

    def start(self, unit: str) -> None:
        self._call(b"StartUnit", b"ss", unit.encode(), b"replace")

    def stop(self, unit: str) -> None:
        self._call(b"StopUnit", b"ss", unit.encode(), b"replace")

    def restart(self, unit: str) -> None:
        self._call(b"RestartUnit", b"ss", unit.encode(), b"replace")

    def reset_failed(self, unit: str) -> None:
        with contextlib.suppress(SystemdError):  # not loaded: nothing to reset
            self._call(b"ResetFailedUnit", b"s", unit.encode())

    def _get(self, path: bytes, interface: bytes, name: bytes) -> Any:
        from pystemd.dbuslib import apply_signature

        reply = self._bus.call_method(
            DESTINATION, path, PROPERTIES_IFACE, b"Get", apply_signature(b"ss", [interface, name])
        )
        return reply.body

    def _timer_properties(self, path: bytes, history: bool) -> dict[str, Any]:
        # One Get per property read: GetAll on the Timer interface costs as much as two Gets.
        names = (*TIMER_SCHEDULE, *TIMER_HISTORY) if history else TIMER_SCHEDULE
        props = {name: self._get(path, TIMER_IFACE, name.encode()) for name in names}
        if props["NextElapseUSecRealtime"] in (0, USEC_INFINITY):  # an interval timer, or none due
            props[TIMER_MONOTONIC] = self._get(path, TIMER_IFACE, TIMER_MONOTONIC.encode())
        return props

    def _service_properties(self, path: bytes) -> dict[str, Any]:
        # A service that never ran has no result to read: one Get instead of four.
        started = self._get(path, SERVICE_IFACE, b"ExecMainStartTimestamp")
        if not started:
            return {}
        props = {"ExecMainStartTimestamp": started}
        for name in ("Result", "ExecMainExitTimestamp", "ExecMainStatus"):
            props[name] = self._get(path, SERVICE_IFACE, name.encode())
        return props

    def states(self, units: Sequence[str], *, history: bool = False) -> dict[str, UnitState]:
        """Load, active and sub state of every unit in one ListUnitsByNames call, then each timer's next
        elapse (one D-Bus round trip a timer); with history, also when each timer last fired and each
        service's last result and times. GetAll on the Unit interface costs ~0.5 ms a unit."""
        if not units:
            return {}
        listed = self._call(b"ListUnitsByNames", b"as", [u.encode() for u in units])
        result = {}
        for row in listed:
            name, load_state, active_state, sub_state, path = (
                _text(row[0]),
                _text(row[2]),
                _text(row[3]),
                _text(row[4]),
                row[6],
            )
            props: dict[str, Any] = {"LoadState": load_state, "ActiveState": active_state}
            props["SubState"] = sub_state
            if load_state == "loaded":
                try:
                    if name.endswith(".timer"):
                        props.update(self._timer_properties(path, history))
                    elif history and name.endswith(".service"):
                        props.update(self._service_properties(path))
                except Exception as exc:  # pystemd raises its own DBusError family
                    raise SystemdError(f"reading the properties of {name}: {exc}") from None
            result[name] = _state_from(name, props)
        for unit in units:  # ListUnitsByNames answers for every name; never leave one out
            result.setdefault(unit, UnitState(unit))
        return result

    def units_loaded_usec(self) -> int:
        """When the manager last loaded its units (daemon-reload, else start-up), realtime usec."""
        try:
            for name in (b"UnitsLoadTimestamp", b"UnitsLoadStartTimestamp"):
                value = int(self._get(MANAGER_PATH, MANAGER_IFACE, name) or 0)
                if value:
                    return value
        except Exception as exc:
            raise SystemdError(f"reading when the manager last loaded its units: {exc}") from None
        return 0

    def unit_path(self) -> list[str] | None:
        """The folders the manager loads units from (its UnitPath property); None when it cannot tell."""
        try:
            value = self._get(MANAGER_PATH, MANAGER_IFACE, b"UnitPath")
        except Exception:  # pystemd raises its own DBusError family; an old manager lacks the property
            return None
        return [_text(folder) for folder in value] if isinstance(value, list | tuple) else None

    def version(self) -> int | None:
        """The manager's systemd version (252 for "252.36-1~deb12u1"); None when it cannot tell."""
        try:
            return version_number(_text(self._get(MANAGER_PATH, MANAGER_IFACE, b"Version")))
        except Exception:  # pystemd raises its own DBusError family
            return None

    def control_group(self) -> str | None:
        """The manager's own cgroup (its ControlGroup property); None when it cannot tell."""
        try:
            value = self._get(MANAGER_PATH, MANAGER_IFACE, b"ControlGroup")
        except Exception:  # pystemd raises its own DBusError family
            return None
        return _text(value) or None


class SystemctlManager:
    """The manager through `systemctl --user`, for machines without pystemd."""

    via = "systemctl"

    def _run(self, *args: str) -> str:
        # TZ=UTC: `show` prints times as text in the local zone, whose abbreviation can be ambiguous.
        proc = subprocess.run(
            ["systemctl", "--user", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "TZ": "UTC"},
        )
        if proc.returncode != 0:
            raise SystemdError(f"systemctl --user {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
        return proc.stdout

    def reload(self) -> None:
        self._run("daemon-reload")

    def enable(self, units: Sequence[str]) -> None:
        if units:
            self._run("enable", "--no-reload", *units)

    def disable(self, units: Sequence[str]) -> None:
        if units:
            self._run("disable", "--no-reload", *units)

    def start(self, unit: str) -> None:
        self._run("start", "--no-block", unit)

    def stop(self, unit: str) -> None:
        self._run("stop", unit)

    def restart(self, unit: str) -> None:
        self._run("restart", unit)

    def reset_failed(self, unit: str) -> None:
        with contextlib.suppress(SystemdError):
            self._run("reset-failed", unit)

    def states(self, units: Sequence[str], *, history: bool = False) -> dict[str, UnitState]:
        if not units:
            return {}
        extra = (*TIMER_HISTORY, *SERVICE_PROPERTIES) if history else ()
        props = ",".join((*UNIT_PROPERTIES, *TIMER_SCHEDULE, TIMER_MONOTONIC, *extra))
        out = self._run("show", f"--property={props}", "--timestamp=us+utc", *units)
        blocks = [block for block in out.split("\n\n") if block.strip()]
        result = {}
        for unit, block in zip(units, blocks, strict=False):  # one block per unit, in order
            values = dict(line.split("=", 1) for line in block.split("\n") if "=" in line)
            for key in TIME_PROPERTIES:
                values[key] = str(_parse_show_time(values.get(key, "")))
            values[TIMER_MONOTONIC] = str(parse_show_span(values.get(TIMER_MONOTONIC, "")))
            result[unit] = _state_from(unit, values)
        return result

    def units_loaded_usec(self) -> int:
        out = self._run("show", "--property=UnitsLoadTimestamp,UnitsLoadStartTimestamp", "--timestamp=us+utc")
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return _parse_show_time(values.get("UnitsLoadTimestamp", "")) or _parse_show_time(
            values.get("UnitsLoadStartTimestamp", "")
        )

    def unit_path(self) -> list[str] | None:
        try:
            out = self._run("show", "--property=UnitPath", "--value")
        except SystemdError:
            return None
        # one line, the folders joined by spaces: each starts with "/" (a folder holding " /" is split)
        return re.split(r" (?=/)", out.strip()) if out.strip() else None

    def version(self) -> int | None:
        try:
            return version_number(self._run("show", "--property=Version", "--value"))
        except SystemdError:
            return None

    def control_group(self) -> str | None:
        try:
            return self._run("show", "--property=ControlGroup", "--value").strip() or None
        except SystemdError:
            return None


CGROUP_ROOT = Path("/sys/fs/cgroup")


def delegated_controllers(manager: Manager) -> tuple[set[str], str]:
    """The cgroup controllers the user manager may use for its units (the unified hierarchy's
    cgroup.controllers of its cgroup), and where that was read or why none are."""
    if not (CGROUP_ROOT / "cgroup.controllers").is_file():
        return (
            set(),
            "this machine mounts cgroup v1, whose controllers systemd never delegates to a user manager",
        )
    group = manager.control_group()
    if group is None:
        return set(), "the user manager does not say which cgroup it runs in"
    path = CGROUP_ROOT / group.lstrip("/") / "cgroup.controllers"
    try:
        return set(path.read_text().split()), str(path)
    except OSError as exc:
        return set(), f"cannot read {path}: {exc.strerror}"


def _parse_show_time(value: str) -> int:
    """`systemctl show` prints times as text (`Thu 2026-11-26 20:40:00[.123456] UTC`); microseconds."""
    from datetime import UTC, datetime

    match = _SHOW_TIME.search(value)
    if value.strip().isdigit():
        return int(value)
    if match is None:
        return 0
    stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    micros = int((match.group(2) or "0").ljust(6, "0")[:6])
    return int(stamp.timestamp()) * 1_000_000 + micros


def parse_show_span(value: str) -> int:
    """A span as `systemctl show` prints it (`1h 30min`, `2d 3h 1.5s`, `infinity`, `0`); microseconds,
    0 for none."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    parts = _SPAN_PART.findall(text.replace(" ", ""))
    if not parts or "".join(number + unit for number, unit in parts) != text.replace(" ", ""):
        return 0  # infinity, empty, or a form this does not know
    return round(sum(float(number) * _SPAN_USEC[unit] for number, unit in parts))


def _pystemd_bus() -> tuple[Any, str] | None:
    try:
        from pystemd.dbuslib import DBus, DBusAddress
    except ImportError:
        return None
    socket = private_socket()
    if socket is not None and socket.exists():
        try:
            bus = DBusAddress(f"unix:path={socket}".encode(), peer_to_peer=True)
            bus.open()
            return bus, "pystemd (private socket)"
        except Exception:
            pass
    try:
        bus = DBus(user_mode=True)
        bus.open()
        return bus, "pystemd (session bus)"
    except Exception:
        return None


def connect() -> Manager | None:
    """The user manager, or None when none answers."""
    found = _pystemd_bus()
    if found is not None:
        manager: Manager = DBusManager(*found)
        try:
            manager.states(["default.target"])
            return manager
        except Exception:
            pass
    fallback = SystemctlManager()
    try:
        fallback._run("show", "--property=Version")
    except (SystemdError, OSError, subprocess.TimeoutExpired):
        return None
    return fallback


def wait_for(
    manager: Manager, units: Iterable[str], ready: Any, timeout: float = 10.0
) -> dict[str, UnitState]:
    """Poll until ready(state) holds for every unit, or the timeout passes; the last states.
    Each round asks only about the units not ready yet: one restarted timer among 1,000 is one query."""
    states = manager.states(list(units))
    deadline = time.monotonic() + timeout
    pending = [name for name, state in states.items() if not ready(state)]
    while pending and time.monotonic() <= deadline:
        time.sleep(0.1)
        states.update(manager.states(pending))
        pending = [name for name in pending if not ready(states[name])]
    return states


def stop_and_reset(manager: Manager, units: Sequence[str]) -> None:
    """Stop units, wait until every stop has finished (a service's run ends only when its processes have),
    then forget their failures: a unit reset before its stop is done ends up failed, and once its file is
    gone, failed and not-found."""
    for unit in units:
        manager.stop(unit)
    wait_for(manager, units, lambda s: s.active_state in ("inactive", "failed"), STOP_TIMEOUT_SECONDS)
    for unit in units:
        manager.reset_failed(unit)


def lingering(user: str) -> bool | None:
    """`loginctl show-user USER -p Linger`; None when logind cannot tell."""
    try:
        proc = subprocess.run(
            ["loginctl", "show-user", user, "--property=Linger", "--value"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() == "yes"
