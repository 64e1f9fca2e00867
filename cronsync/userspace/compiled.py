"""The compiled-config cache contract, import-light: `cronsync exec` reads it without pydantic.

`USER/state/compiled.json` = {"key", "jobs", "settings"}, where "key" is `source_key` of the jobs.json
and settings.json bytes it was validated from. `cronsync.config.write_compiled` makes it from a
validated config; apply also writes one from the entries of the jobs it did not need to validate again.
"""

from __future__ import annotations

import sys

from cronsync import __version__, fastjson
from cronsync.paths import COMPILED_FILE, STATE_DIR, UserSpace

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from typing import Any


def source_key(space: UserSpace, jobs_bytes: bytes, settings_bytes: bytes | None) -> str:
    """The cache key of a user space's sources: sha256 of cronsync's version (a newer cronsync may check
    more), the root, jobs.json and settings.json."""
    head = f"{__version__}\0{space.root_str}\0".encode()
    digest = _sha256()(head + jobs_bytes + b"\0" + (settings_bytes or b""))
    return str(digest.hexdigest())


def _sha256() -> Any:
    """CPython's built-in sha256 (same digest as hashlib's): hashlib first loads OpenSSL, ~2 ms a run."""
    builtin = "_sha2" if sys.version_info >= (3, 12) else "_sha256"
    try:
        return __import__(builtin).sha256
    except ImportError:  # pragma: no cover - a Python without CPython's built-in hashes
        import hashlib

        return hashlib.sha256


def read_compiled(space: UserSpace, key: str) -> dict[str, Any] | None:
    """The cached {"jobs": {id: job}, "settings": {...}} if compiled from these sources, else None."""
    try:
        with open(space.path(COMPILED_FILE), "rb") as handle:
            data = fastjson.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    if not isinstance(data.get("jobs"), dict) or not isinstance(data.get("settings"), dict):
        return None
    return data


def save_compiled(space: UserSpace, payload: dict[str, Any]) -> None:
    """Replace compiled.json with payload ({"key", "jobs", "settings"}) atomically. Best effort."""
    import contextlib
    import os
    import tempfile

    try:
        os.makedirs(space.path(STATE_DIR), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=space.path(STATE_DIR), prefix=".compiled.")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(fastjson.dumps(payload).encode())  # UTF-8 whatever the locale: exec reads UTF-8
        os.replace(tmp, space.path(COMPILED_FILE))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # a full disk: leave no partial temp file behind
