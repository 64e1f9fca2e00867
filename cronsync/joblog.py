"""Reading `USER/logs/scheduler.log` (JSON lines written by `cronsync exec`) for one job."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any


def job_entries(log_file: Path, job_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The job's entries, oldest first (at most the last `limit`); unreadable lines are skipped."""
    found: deque[dict[str, Any]] = deque(maxlen=limit)
    try:
        with log_file.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                entry = parse_line(line)
                if entry is not None and entry.get("job_id") == job_id:
                    found.append(entry)
    except OSError:
        return []
    return list(found)


def parse_line(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def last_entry(log_file: Path, job_id: str) -> dict[str, Any] | None:
    entries = job_entries(log_file, job_id, 1)
    return entries[-1] if entries else None


def last_entries(log_file: Path) -> dict[str, dict[str, Any]]:
    """The last entry of every job in one read of the log: {job id: entry}."""
    found: dict[str, dict[str, Any]] = {}
    try:
        with log_file.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                entry = parse_line(line)
                if entry is not None and isinstance(entry.get("job_id"), str):
                    found[entry["job_id"]] = entry
    except OSError:
        return {}
    return found
