"""The compiled-config cache contract, import-light: `cronsync exec` reads it without pydantic.

`USER/state/compiled.json` holds the validated jobs and settings in a form exec searches without
reading it whole, so that a run costs the same among 10 jobs or 5,000:

    {"format": 3, "version", "root", "key", "sources", "settings", "count", "bytes"}\\n   (the header)
    <job id>\\t<the job as compact JSON>\\n                                              (one per job)

The job lines are sorted by id (ids are `[a-z0-9-]+`; JSON text never holds a raw tab or newline), so
exec binary-searches them with a few small `os.pread`s. "key" is `source_key` of the jobs.json and
settings.json bytes it was validated from; "version" and "root" are two of the inputs of that key;
"count" is the number of job lines and "bytes" their total size, so a truncated file is a miss.

"sources" is the stat signature of jobs.json and settings.json (`paths.read_sources_signed`) as
they were when the bytes of "key" were read, or null: while both files still have it, and it is
settled (`RACY_SECONDS`), the cache is current without reading jobs.json. Otherwise the reader hashes
the sources and compares "key".

`cronsync.config.write_compiled` makes the file from a validated config; apply also writes one from
the entries of the jobs it did not need to validate again (`read_compiled`, `save_compiled`). A
missing, corrupt or truncated file is a cache miss (the job is validated again), never a crash.
"""

from __future__ import annotations

import os
import sys

from cronsync import CronsyncError, __version__
from cronsync.userspace import fastjson
from cronsync.userspace.paths import (
    COMPILED_FILE,
    SourcesError,
    UserSpace,
    read_sources_bytes,
    read_sources_signed,
    stat_sources,
)

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from typing import Any

    from cronsync.userspace.paths import Signature

FORMAT = 3

# A stat signature vouches for the bytes read after it only if a later write must change it. A write
# sets mtime and ctime to the current time as the file system records it, truncated to its timestamp
# granularity (up to 2 s on some file systems; the kernel's coarse clock also lags the real one): a
# same-size, in-place write landing in the same tick as the write before our read would leave the
# signature as it was ("racily clean", as git calls it). So the signature is trusted only when both
# timestamps are at least RACY_SECONDS older than the moment it was taken ("checked_ns"): every later
# write then lands on a later timestamp. Until then the reader hashes the sources; exec records a
# settled signature as soon as there is one (`Compiled.refresh`). ctime counts too: mtime can be set
# back (touch -d, rsync -t), ctime cannot.
RACY_SECONDS = 2
_RACY_NS = RACY_SECONDS * 1_000_000_000

_HEADER_PROBE = 4096  # the first read: the header, whose settings are small, and often more
_MAX_HEADER = 1 << 24
_PROBE = 1024  # each step of the binary search reads about this much
_MAX_ID = 1024  # an id line part longer than this (ids have at most 64 characters) is corrupt

# What fastjson (the C scanner) raises on broken text: under `python -I -S`, SystemError where json
# raises ValueError; RecursionError for very deep nesting.
_BROKEN = (ValueError, SystemError, RecursionError)


class CacheMiss(CronsyncError):
    """compiled.json turned out to be corrupt: validate again (exec catches it; no one sees it)."""


def source_key(space: UserSpace, jobs_bytes: bytes, settings_bytes: bytes | None) -> str:
    """The cache key of a user space's sources: sha256 of cronsync's version (a newer cronsync may check
    more), the root, the machine's name (a job's `hosts` decide whether it is here), jobs.json and
    settings.json."""
    head = f"{__version__}\0{space.root_str}\0{os.uname().nodename}\0".encode()
    digest = _sha256()(head + jobs_bytes + b"\0" + (settings_bytes or b""))
    return str(digest.hexdigest())


def source_digests(space: UserSpace) -> tuple[str | None, str | None]:
    """sha256 (hex) of jobs.json's and settings.json's bytes, None for a file absent or unreadable: what
    a fleet host says it runs, comparable across machines."""
    try:
        jobs_bytes, settings_bytes = read_sources_bytes(space)
    except SourcesError:
        return None, None
    return hex_digest(jobs_bytes), hex_digest(settings_bytes)


def hex_digest(data: bytes | None) -> str | None:
    """sha256 of data in hex (None for None), through CPython's built-in hash: no OpenSSL to load."""
    return None if data is None else str(_sha256()(data).hexdigest())


def _sha256() -> Any:
    """CPython's built-in sha256 (same digest as hashlib's): hashlib first loads OpenSSL, ~2 ms a run."""
    builtin = "_sha2" if sys.version_info >= (3, 12) else "_sha256"
    try:
        return __import__(builtin).sha256
    except ImportError:  # pragma: no cover - a Python without CPython's built-in hashes
        import hashlib

        return hashlib.sha256


def settled(signature: Signature) -> bool:
    """Whether every timestamp of the signature is RACY_SECONDS older than the moment it was taken."""
    checked = signature.get("checked_ns")
    if not isinstance(checked, int):
        return False
    for name in ("jobs", "settings"):
        stat = signature.get(name)
        if stat is None:
            continue
        if not (isinstance(stat, list) and len(stat) == 5 and all(isinstance(n, int) for n in stat)):
            return False
        if max(stat[3], stat[4]) > checked - _RACY_NS:  # mtime, ctime
            return False
    return True


class Compiled:
    """An open compiled.json: the header parsed, job records read on demand through one descriptor, so
    that the records always come from the same file as the header, whoever replaces it meanwhile."""

    __slots__ = ("_end", "_fd", "_start", "header")

    def __init__(self, fd: int, header: dict[str, Any], start: int, end: int) -> None:
        self._fd = fd
        self.header = header
        self._start = start  # where the first job line starts
        self._end = end  # the file's size: where the last one ends

    @property
    def key(self) -> str:
        return str(self.header["key"])

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.header["settings"]
        return settings

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> Compiled:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def vouched(self, space: UserSpace) -> bool:
        """Current without reading the sources: jobs.json and settings.json have the recorded, settled
        stat signature, and the cache is this cronsync's and this user space's."""
        header = self.header
        sources = header.get("sources")
        if header.get("version") != __version__ or header.get("root") != space.root_str:
            return False
        if not isinstance(sources, dict) or sources.get("jobs") is None or not settled(sources):
            return False
        try:
            return list(stat_sources(space)) == [sources["jobs"], sources.get("settings")]
        except OSError:
            return False

    def find(self, job_id: str) -> dict[str, Any] | None:
        """The record of the job with this id, None when there is none; CacheMiss when the lines read
        are corrupt. Binary search: O(log N) reads of about _PROBE bytes."""
        try:
            wanted = job_id.encode()
        except UnicodeEncodeError:
            return None
        if not wanted or b"\t" in wanted or b"\n" in wanted:
            return None
        try:
            return self._search(wanted)
        except (OSError, *_BROKEN):
            raise CacheMiss from None

    def _search(self, wanted: bytes) -> dict[str, Any] | None:
        # Every line starting in [start, lo) has an id < wanted; every one starting in [hi, end) > wanted.
        lo, hi = self._start, self._end
        while lo < hi:
            line = self._line_from((lo + hi) // 2, hi) or self._line_from(lo, hi)
            if line is None:
                return None  # no line starts in [lo, hi)
            begin, found = line
            if found == wanted:
                return self._record(begin, found)
            if wanted < found:
                hi = begin
            else:
                lo = begin + 1
        return None

    def _line_from(self, pos: int, hi: int) -> tuple[int, bytes] | None:
        """The first line starting at or after pos and before hi: (where it starts, its id)."""
        at = pos if pos == self._start else pos - 1  # pos starts a line if the byte before is "\n"
        buf = b""
        size = _PROBE
        seek_newline = pos != self._start
        while True:
            chunk = os.pread(self._fd, size, at + len(buf))
            if not chunk:
                raise CacheMiss  # a line without its end
            buf += chunk
            size *= 2
            if seek_newline:
                newline = buf.find(b"\n")
                if newline < 0:
                    if at + len(buf) >= hi:
                        return None
                    continue
                at, buf, seek_newline = at + newline + 1, buf[newline + 1 :], False
                if at >= hi:
                    return None
            tab = buf.find(b"\t", 0, _MAX_ID + 1)
            if tab > 0 and b"\n" not in buf[:tab]:
                return at, buf[:tab]
            if tab == 0 or len(buf) > _MAX_ID or b"\n" in buf:
                raise CacheMiss  # not `<id>\t`

    def _record(self, begin: int, job_id: bytes) -> dict[str, Any]:
        start = begin + len(job_id) + 1
        buf = b""
        size = _PROBE
        while (newline := buf.find(b"\n")) < 0:
            chunk = os.pread(self._fd, size, start + len(buf))
            if not chunk:
                raise CacheMiss
            buf += chunk
            size *= 2
        return _job(job_id, buf[:newline])

    def records(self) -> dict[str, dict[str, Any]]:
        """Every job record by id, reading the whole file: for writers and apply, and exec's error path."""
        try:
            lines = self._read_body().split(b"\n")
            if lines.pop() != b"" or len(lines) != self.header["count"]:
                raise CacheMiss  # the last line has no end, or lines are missing
            jobs: dict[str, dict[str, Any]] = {}
            previous = b""
            for line in lines:
                job_id, tab, text = line.partition(b"\t")
                if not tab or job_id <= previous:
                    raise CacheMiss  # not `<id>\t<json>`, or not sorted
                jobs[job_id.decode()] = _job(job_id, text)
                previous = job_id
            return jobs
        except (OSError, *_BROKEN):
            raise CacheMiss from None

    def _read_body(self) -> bytes:
        parts = []
        at = self._start
        while at < self._end:
            chunk = os.pread(self._fd, self._end - at, at)
            if not chunk:
                raise CacheMiss
            parts.append(chunk)
            at += len(chunk)
        return b"".join(parts)

    def refresh(self, space: UserSpace, signature: Signature) -> None:
        """The reader hashed the sources and found this cache's key: record `signature` (taken before
        the bytes it hashed were read) so that later runs need not hash, once it is settled. This
        rewrites the whole file, once per change of the sources; one process at a time does it (flock
        on this file), and only while this file is still the one in place. Best effort."""
        if signature.get("jobs") is None or not settled(signature):
            return
        import fcntl

        from cronsync.userspace.files import atomic_write

        path = space.path(COMPILED_FILE)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            here, there = os.fstat(self._fd), os.stat(path)
            if (here.st_dev, here.st_ino) != (there.st_dev, there.st_ino):
                return  # replaced since we opened it: refreshed already, or rewritten
            body = self._read_body()
            header = dict(self.header, version=__version__, root=space.root_str, sources=signature)
            atomic_write(path, fastjson.dumps(header).encode() + b"\n" + body)
        except (OSError, CacheMiss, *_BROKEN):
            pass


def _job(job_id: bytes, text: bytes) -> dict[str, Any]:
    """The record on the line of `job_id`: an object with that "id"."""
    job = fastjson.loads(text)
    if not isinstance(job, dict) or job.get("id") != job_id.decode():
        raise CacheMiss
    return job


def open_compiled(space: UserSpace) -> Compiled | None:
    """compiled.json opened with its header read (one small read), or None when there is none or it is
    not a whole cache of this format. The caller closes it."""
    try:
        fd = os.open(space.path(COMPILED_FILE), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        compiled = _opened(fd)
    except (OSError, *_BROKEN):
        compiled = None
    if compiled is None:
        os.close(fd)
    return compiled


def _opened(fd: int) -> Compiled | None:
    size = os.fstat(fd).st_size
    probe = _HEADER_PROBE
    while True:
        head = os.pread(fd, probe, 0)
        newline = head.find(b"\n")
        if newline >= 0:
            break
        if len(head) < probe or probe >= _MAX_HEADER:
            return None
        probe *= 4
    header = fastjson.loads(head[:newline])
    if not (
        isinstance(header, dict)
        and header.get("format") == FORMAT
        and isinstance(header.get("key"), str)
        and isinstance(header.get("settings"), dict)
        and isinstance(header.get("count"), int)
        and isinstance(header.get("bytes"), int)
        and newline + 1 + header["bytes"] == size  # not truncated, nothing added
    ):
        return None
    return Compiled(fd, header, newline + 1, size)


def read_compiled(space: UserSpace, key: str) -> dict[str, Any] | None:
    """The cached {"key", "jobs": {id: job}, "settings": {...}} if compiled from the sources of `key`
    and whole, else None. Reads the whole file: for apply, never exec."""
    compiled = open_compiled(space)
    if compiled is None:
        return None
    with compiled:
        if compiled.key != key:
            return None
        try:
            return {"key": key, "jobs": compiled.records(), "settings": compiled.settings}
        except CacheMiss:
            return None


def current_signature(space: UserSpace, key: str) -> Signature | None:
    """The stat signature of jobs.json and settings.json if their bytes are still those of `key`
    (read again, each stat'ed before it is read), else None: what a writer of `key` may record."""
    try:
        jobs_bytes, settings_bytes, signature = read_sources_signed(space)
    except SourcesError:
        return None
    if jobs_bytes is None or source_key(space, jobs_bytes, settings_bytes) != key:
        return None
    return signature


def is_current(space: UserSpace, key: str, signature: Signature | None) -> bool:
    """Whether compiled.json is a whole cache of `key` (every line read and parsed: a damaged line
    would make exec miss on every run), with a signature at least as useful as `signature`: writing
    it again would change nothing that matters."""
    compiled = open_compiled(space)
    if compiled is None:
        return False
    with compiled:
        if compiled.key != key:
            return False
        try:
            compiled.records()
        except CacheMiss:
            return False
        return signature is None or not settled(signature) or compiled.vouched(space)


def encode(
    space: UserSpace,
    key: str,
    signature: Signature | None,
    jobs: dict[str, dict[str, Any]],
    settings: dict[str, Any],
) -> bytes:
    """The bytes of compiled.json (UTF-8 whatever the locale); ValueError when a job cannot be one of
    its lines (an id that is empty or holds a tab or newline, or differs from the record's "id")."""
    lines = []
    for job_id in sorted(jobs):  # code point order: the byte order of the UTF-8 ids exec compares
        job = jobs[job_id]
        if not job_id or "\t" in job_id or "\n" in job_id or job.get("id") != job_id:
            raise ValueError(f"job id {job_id!r} cannot be a line of compiled.json")
        lines.append(f"{job_id}\t{fastjson.dumps(job)}\n")
    body = "".join(lines).encode()
    header = {
        "format": FORMAT,
        "version": __version__,
        "root": space.root_str,
        "key": key,
        "sources": signature,
        "settings": settings,
        "count": len(jobs),
        "bytes": len(body),
    }
    return fastjson.dumps(header).encode() + b"\n" + body


def save_compiled(
    space: UserSpace,
    key: str,
    signature: Signature | None,
    jobs: dict[str, dict[str, Any]],
    settings: dict[str, Any],
) -> None:
    """Replace compiled.json whole (one atomic write) with these jobs and settings, validated from the
    sources of `key`; `signature` is theirs (`current_signature`), or None. Best effort: without it
    exec validates again."""
    from cronsync.userspace.files import atomic_write

    try:
        data = encode(space, key, signature, jobs, settings)
    except ValueError:  # UnicodeEncodeError (a lone surrogate) too
        return
    try:  # noqa: SIM105 - contextlib costs exec an import
        atomic_write(space.path(COMPILED_FILE), data)
    except OSError:
        pass
