"""A user space's block in the text of a crontab: cutting it out, and putting the new one in its place.

Each user space has its own block, named by its jobs.json in the BEGIN line; several coexist, and
every other byte (other spaces' blocks among them) is kept. Pure text: `cronsync.adapters.crontab`
reads and writes the crontab itself.
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
    """A crontab cut around one user space's block: everything before and after it (the user's lines
    and other spaces' blocks), and the block's own entry lines."""

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


def block_begin(jobs_file: str | Path) -> str:
    return f"{BLOCK_BEGIN} - managed from {jobs_file} - do not edit this block"


def split(text: str, jobs_file: str | Path) -> SplitCrontab:
    """Cut out the block whose BEGIN line names jobs_file (a crontab of the one-block days has just
    one such block), keeping every other line's bytes."""
    lines = text.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if _begins_block_of(line, str(jobs_file))), None)
    if begin is None:
        return SplitCrontab(text, "", [])
    # a block without its END line ends where the next block begins
    end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith(_BLOCK_EDGES)), len(lines))
    inside = lines[begin + 1 : end]
    # Only our tagged entries belong to the block; anything else in it stays the user's.
    ours = [line for line in inside if _is_ours(line)]
    theirs = [line for line in inside if not _is_ours(line)]
    closed = end < len(lines) and lines[end].startswith(BLOCK_END)
    after = lines[end + 1 :] if closed else lines[end:]
    return SplitCrontab(
        "".join(lines[:begin]) + "".join(theirs),
        "".join(after),
        [line.rstrip("\n") for line in ours],
        str(jobs_file),
    )


_BLOCK_EDGES = (BLOCK_BEGIN, BLOCK_END)


def _begins_block_of(line: str, jobs_file: str) -> bool:
    return line.rstrip("\n") == block_begin(jobs_file)


def _is_ours(line: str) -> bool:
    return f"# {CRONTAB_TAG_PREFIX}" in line


def compose(current: SplitCrontab, entries: Sequence[CrontabEntry], jobs_file: Path) -> str:
    """Everything but jobs_file's block, with that block (or none, when there are no entries) where it
    was, or at the end when it is new."""
    if not entries:
        return current.user_text()
    before = current.before
    if before and not before.endswith("\n"):
        before += "\n"
    block = [block_begin(jobs_file), *(entry.line for entry in entries), BLOCK_END]
    return before + "".join(f"{line}\n" for line in block) + current.after
