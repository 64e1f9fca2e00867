"""Stable, readable job ids derived from job names."""

from __future__ import annotations

import re
import unicodedata

MAX_ID_LENGTH = 64
WATCHER_ID = "sync"  # the job id of cronsync's own auto-sync watcher units (reserved)
RESERVED_ID = f"its id {WATCHER_ID!r} is reserved for cronsync's own watcher units; rename the job"
WATCH_ID = "watch"  # the job id of the watchdog's units and crontab entry (settings.json "watch")
WATCH_ID_TAKEN = (
    f'its id {WATCH_ID!r} is the watchdog\'s (settings.json "watch" installs cronsync-{WATCH_ID} units and a '
    f"crontab entry of that name); rename the job"
)
_NON_ID = re.compile(r"[^a-z0-9]+")


def job_id(name: str) -> str:
    """`Daily Standup Summary` -> `daily-standup-summary`: lowercase ASCII, digits and dashes.

    The id is safe as part of a systemd unit name and a crontab comment. It may be empty when the
    name has no letters or digits; the schema refuses such names.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NON_ID.sub("-", ascii_name.lower()).strip("-")
    return slug[:MAX_ID_LENGTH].rstrip("-")
