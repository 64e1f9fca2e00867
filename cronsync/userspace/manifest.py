"""USER/state/apply-manifest.json: what the last successful systemd apply installed, and from what.

`base` is a digest of every input of validating and rendering a job other than the job itself; per
job, a digest of its JSON object with what planning needs of it; per unit file, the sha256 of its
text; and the key of the compiled.json the apply left. See `cronsync.apply.fastpath` for its use.
Also USER/state/watcher-applied: the digest of the jobs.json + settings.json the watcher last found
invalid and of the errors it reported then (so that a burst of saves reports them once).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass

from cronsync.userspace.files import atomic_write, open_no_follow
from cronsync.userspace.paths import UserSpace

MANIFEST_FORMAT = "3"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class JobRecord:
    """What the manifest keeps of one applied job."""

    key: str  # digest of its JSON object
    job_id: str
    name: str
    enabled: bool
    is_reboot: bool
    script: str | None  # a script job's payload.path
    is_interval: bool = False  # @every


@dataclass(frozen=True)
class Manifest:
    base: str
    compiled: str  # the key of the compiled.json the apply left
    jobs: list[JobRecord]
    files: dict[str, str]  # unit file name -> sha256 of its text


def write_manifest(space: UserSpace, manifest: Manifest) -> None:
    """Best effort: without it the next apply validates and renders every job."""
    data = {"format": MANIFEST_FORMAT, **vars(manifest), "jobs": [vars(job) for job in manifest.jobs]}
    try:
        atomic_write(space.apply_manifest_file, json.dumps(data))
    except OSError:
        forget_manifest(space)


def forget_manifest(space: UserSpace) -> None:
    with contextlib.suppress(OSError):
        space.apply_manifest_file.unlink()


def read_manifest(space: UserSpace) -> Manifest | None:
    """The manifest, or None when there is none or it is not one this code wrote."""
    try:
        fd = open_no_follow(space.apply_manifest_file, os.O_RDONLY)
        with os.fdopen(fd, "rb") as handle:
            data = json.loads(handle.read())
        if data.get("format") != MANIFEST_FORMAT:
            return None
        jobs = [JobRecord(**job) for job in data["jobs"]]
        manifest = Manifest(data["base"], data["compiled"], jobs, data["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    if not isinstance(manifest.files, dict):
        return None
    texts = [manifest.base, manifest.compiled, *manifest.files, *manifest.files.values()]
    texts += [text for job in jobs for text in (job.key, job.job_id, job.name, job.script or "")]
    flags = [flag for job in jobs for flag in (job.enabled, job.is_reboot, job.is_interval)]
    if not (all(isinstance(t, str) for t in texts) and all(isinstance(f, bool) for f in flags)):
        return None
    return manifest


def watcher_reported(space: UserSpace) -> str | None:
    """The digest of the sources and errors the watcher last reported."""
    try:
        return space.watcher_state_file.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def record_watcher_reported(space: UserSpace, digest: str) -> None:
    atomic_write(space.watcher_state_file, digest)


def forget_watcher_reported(space: UserSpace) -> None:
    with contextlib.suppress(OSError):
        space.watcher_state_file.unlink()
