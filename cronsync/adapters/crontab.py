"""The user's crontab: `crontab -l`, `crontab -`, `crontab -r`, and whether a cron daemon runs.

cronsync's entries live in one marked block; every other byte is the user's. python-crontab rewrites
what it renders (spacing, `0 0 * * 0` -> `@weekly`, unparsable lines turned into "disabled" comments),
so cronsync edits the crontab text itself around its block (`cronsync.core.crontab_block`) and uses
python-crontab only to read entries back.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cronsync import CronsyncError


class CrontabError(CronsyncError):
    """`crontab` failed or is missing."""


def read() -> str | None:
    """`crontab -l`, or None when the user has no crontab."""
    try:
        proc = subprocess.run(["crontab", "-l"], capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        raise CrontabError(f"cannot run crontab: {exc}; install cron (apt-get install cron)") from None
    if proc.returncode == 0:
        return proc.stdout
    if "no crontab for" in proc.stderr:
        return None
    raise CrontabError(f"crontab -l failed: {proc.stderr.strip()}")


def write(text: str) -> None:
    """Install text as the user's crontab (`crontab -` replaces the spool file atomically)."""
    proc = subprocess.run(
        ["crontab", "-"], input=text, capture_output=True, text=True, timeout=30, check=False
    )
    if proc.returncode != 0:
        raise CrontabError(f"crontab - refused the new crontab: {proc.stderr.strip()}")


def remove() -> None:
    proc = subprocess.run(["crontab", "-r"], capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0 and "no crontab for" not in proc.stderr:
        raise CrontabError(f"crontab -r failed: {proc.stderr.strip()}")


def cron_running() -> bool:
    """Whether a cron daemon serves this crontab: a cron process in this mount namespace (a cron in
    another container or namespace reads another spool). One whose namespace cannot be read (another
    account's, without root) counts."""
    ours = _mount_namespace("self")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if name in ("cron", "crond"):
            theirs = _mount_namespace(pid)
            if theirs is None or ours is None or theirs == ours:
                return True
    return False


def _mount_namespace(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def start_command() -> str:
    """How to start Debian's cron daemon here: through systemd where it is PID 1 (it made
    /run/systemd/system, as sd_booted(3) checks), else the daemon itself (it puts itself in the
    background); with sudo unless we are root."""
    command = "systemctl enable --now cron" if os.path.isdir("/run/systemd/system") else "/usr/sbin/cron"
    return command if os.geteuid() == 0 else f"sudo {command}"


def local_timezone() -> str | None:
    """The machine's zone (what cron uses): $TZ, /etc/timezone, or where /etc/localtime points."""
    if os.environ.get("TZ"):
        return os.environ["TZ"].lstrip(":")
    try:
        zone = Path("/etc/timezone").read_text().strip()
        if zone:
            return zone
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return None
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else None
