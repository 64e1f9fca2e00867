"""The auto-sync watcher's apply: `cronsync-sync.path` saw a save; apply it once the files are quiet.

The path unit watches again only once `cronsync-sync.service` (which started this, through
systemd-run) has ended; so this waits for that, then for the config files to be left alone, then
reads jobs.json under the apply lock: every later save starts another apply, and none is lost.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cronsync.adapters.systemd import wait_for
from cronsync.apply.engine import apply_lock, apply_locked, choose_backend, read_sources_quietly
from cronsync.apply.report import ApplyReport
from cronsync.apply.systemd import SystemdBackend
from cronsync.apply.unitfiles import managed_text
from cronsync.core import render
from cronsync.core.errors import InvalidInput
from cronsync.userspace.manifest import (
    forget_watcher_reported,
    record_watcher_reported,
    sha256,
    watcher_reported,
)
from cronsync.userspace.paths import UserSpace

# The watcher's apply reads jobs.json once it has been left alone this long, so that a burst of
# saves is read once; a file saved without pause is read after SETTLE_MAX_SECONDS anyway
# (each later save starts another apply, so none is lost).
QUIET_SECONDS = 0.2
SETTLE_MAX_SECONDS = 3.0


def watcher_apply(space: UserSpace) -> ApplyReport | None:
    """The auto-sync apply: None when there is nothing to do.

    What decides is whether what is installed matches jobs.json, never whether these bytes were seen
    before: every save is applied (the fast path makes a save that changes nothing cheap), so a save
    whose bytes equal an earlier one still installs what the earlier one could not (its script was
    missing then, say). Skipped when this space's watcher is gone (uninstall ran while this waited for
    the lock); quiet when the same bytes give the same errors as last time (a burst of saves starts
    several of these: each error is reported once).
    """
    backend = choose_backend("systemd", space)
    assert isinstance(backend, SystemdBackend)  # choose_backend raises when no manager answers
    quiet_since, seen = time.monotonic(), _config_signature(space)
    _wait_until_the_path_unit_watches(backend)
    _wait_until_quiet(space, quiet_since, seen)
    with apply_lock(space):
        watcher = managed_text(backend.unit_dir / render.SYNC_PATH_UNIT)
        if watcher is None or render.marker_jobs_file(watcher) != str(space.jobs_file):
            return None  # uninstalled meanwhile (and perhaps another space's watcher in its place)
        sources = read_sources_quietly(space)  # a save landing after this starts another watcher apply
        try:
            report = apply_locked(space, backend)[1]
        except InvalidInput as exc:
            read = b"\0".join(part or b"" for part in sources) if sources is not None else b""
            digest = sha256(read + b"\0" + str(exc).encode())
            if watcher_reported(space) == digest:
                return None
            record_watcher_reported(space, digest)
            raise
        forget_watcher_reported(space)
        return report


def _config_signature(space: UserSpace) -> tuple[tuple[int, int, int] | None, ...]:
    """What changes when jobs.json or settings.json is saved, in place or by rename."""

    def stamp(path: Path) -> tuple[int, int, int] | None:
        try:
            info = os.stat(path)
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    return (stamp(space.jobs_file), stamp(space.settings_file), stamp(space.jobs_file.parent))


def _wait_until_quiet(space: UserSpace, quiet_since: float, seen: tuple[object, ...]) -> None:
    """Until the config files have not changed for QUIET_SECONDS (at most SETTLE_MAX_SECONDS)."""
    deadline = quiet_since + SETTLE_MAX_SECONDS
    while (now := time.monotonic()) < deadline:
        current = _config_signature(space)
        if current != seen:
            quiet_since, seen = now, current
        elif now - quiet_since >= QUIET_SECONDS:
            return
        time.sleep(0.02)


def _wait_until_the_path_unit_watches(backend: SystemdBackend) -> None:
    wait_for(
        backend.manager, [render.SYNC_SERVICE_UNIT], lambda s: s.active_state != "activating", timeout=30
    )
    time.sleep(0.2)  # systemd re-arms the path unit in a deferred event right after that
