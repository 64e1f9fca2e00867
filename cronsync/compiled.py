"""The compiled-config cache contract, import-light: `cronsync exec` reads it without pydantic.

`cronsync.config.write_compiled` writes `USER/state/compiled.json` = {"key", "jobs", "settings"}, where
"key" is `source_key` of the jobs.json and settings.json bytes it was validated from.
"""

from __future__ import annotations

import json
from typing import Any

from cronsync.paths import UserSpace


def source_key(space: UserSpace, jobs_bytes: bytes, settings_bytes: bytes | None) -> str:
    """The cache key of a user space's sources: sha256 of its root, jobs.json and settings.json."""
    import hashlib

    digest = hashlib.sha256(str(space.root).encode() + b"\0" + jobs_bytes + b"\0" + (settings_bytes or b""))
    return digest.hexdigest()


def read_compiled(space: UserSpace, key: str) -> dict[str, Any] | None:
    """The cached {"jobs": {id: job}, "settings": {...}} if compiled from these sources, else None."""
    try:
        with open(space.compiled_file, "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    if not isinstance(data.get("jobs"), dict) or not isinstance(data.get("settings"), dict):
        return None
    return data
