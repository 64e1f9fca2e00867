"""cronsync's block in the text of a crontab: cutting it out, and putting the new one in its place.

Pure text: `cronsync.adapters.crontab` reads and writes the crontab itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cronsync.core.render import CRONTAB_TAG_PREFIX, CrontabEntry

BLOCK_BEGIN = "# BEGIN cronsync"
BLOCK_END = "# END cronsync"


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
