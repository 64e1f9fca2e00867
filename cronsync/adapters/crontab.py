"""The user's crontab: cronsync's entries live in one marked block; every other byte is the user's.

python-crontab rewrites what it renders (spacing, `0 0 * * 0` -> `@weekly`, unparsable lines turned
into "disabled" comments), so cronsync edits the crontab text itself around its block and uses
python-crontab only to read entries back.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cronsync.core.render import CRONTAB_TAG_PREFIX, CrontabEntry

BLOCK_BEGIN = "# BEGIN cronsync"
BLOCK_END = "# END cronsync"


class CrontabError(RuntimeError):
    """`crontab` failed or is missing."""


@dataclass(frozen=True)
class SplitCrontab:
    """A crontab cut around cronsync's block: the user's text before and after it, and our lines."""

    before: str
    after: str
    managed_lines: list[str]
    jobs_file: str | None = None  # the jobs.json the block's BEGIN line names

    def entries(self) -> dict[str, InstalledEntry]:
        """cronsync's entries by job id, read back through python-crontab."""
        from crontab import CronTab

        found = {}
        for job in CronTab(tab="".join(f"{line}\n" for line in self.managed_lines)):
            comment = job.comment or ""
            if comment.startswith(CRONTAB_TAG_PREFIX):
                job_id = comment.removeprefix(CRONTAB_TAG_PREFIX)
                found[job_id] = InstalledEntry(job_id, job.enabled, job.slices.clean_render(), job.command)
        return found

    def user_text(self) -> str:
        return self.before + self.after


@dataclass(frozen=True)
class InstalledEntry:
    job_id: str
    enabled: bool
    expression: str
    command: str


def block_begin(jobs_file: Path) -> str:
    return f"{BLOCK_BEGIN} - managed from {jobs_file} - do not edit this block"


def split(text: str) -> SplitCrontab:
    """Cut out the block between the BEGIN and END marker lines, keeping every other line's bytes."""
    lines = text.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if line.startswith(BLOCK_BEGIN)), None)
    if begin is None:
        return SplitCrontab(text, "", [])
    end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith(BLOCK_END)), None)
    inside = lines[begin + 1 : end if end is not None else len(lines)]
    # Only our tagged entries belong to the block; anything else in it stays the user's.
    ours = [line for line in inside if _is_ours(line)]
    theirs = [line for line in inside if not _is_ours(line)]
    after = lines[end + 1 :] if end is not None else []
    return SplitCrontab(
        "".join(lines[:begin]) + "".join(theirs),
        "".join(after),
        [line.rstrip("\n") for line in ours],
        _named_jobs_file(lines[begin]),
    )


def _named_jobs_file(begin_line: str) -> str | None:
    _, sep, rest = begin_line.partition(" - managed from ")
    return rest.rsplit(" - do not edit this block", 1)[0] if sep else None


def _is_ours(line: str) -> bool:
    return f"# {CRONTAB_TAG_PREFIX}" in line


def compose(current: SplitCrontab, entries: Sequence[CrontabEntry], jobs_file: Path) -> str:
    """The user's text with cronsync's block (or none, when there are no entries) where it was."""
    if not entries:
        return current.user_text()
    before = current.before
    if before and not before.endswith("\n"):
        before += "\n"
    block = [block_begin(jobs_file), *(entry.line for entry in entries), BLOCK_END]
    return before + "".join(f"{line}\n" for line in block) + current.after


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
    """Whether a cron daemon process exists on this machine."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name in ("cron", "crond"):
            return True
    return False


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
