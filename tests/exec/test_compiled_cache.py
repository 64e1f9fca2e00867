"""USER/state/compiled.json as `cronsync exec` reads it: one job's line found by binary search, the cache
trusted on the stat of jobs.json and settings.json only once that stat is settled, and any damage a
cache miss (the job validated again and run), never a crash."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cronsync.exec import main as exec_job
from cronsync.exec.main import main as exec_main
from cronsync.exec.run import ExecError
from cronsync.userspace import compiled
from cronsync.userspace.compiled import (
    RACY_SECONDS,
    CacheMiss,
    current_signature,
    open_compiled,
    read_compiled,
    save_compiled,
    source_key,
)
from cronsync.userspace.paths import UserSpace, read_sources_signed
from tests.support.cli import CRONSYNC_ARGV, cronsync
from tests.support.exectools import log_records, make_space, script_job

# Prints the job's id and arguments: which record exec ran.
SAY = '#!/bin/sh\necho "ran $CRONSYNC_JOB_ID [$*]"\n'
# Writes how many bytes its parent, `cronsync exec`, had read by the time it started the job.
IO = '#!/bin/sh\ngrep rchar /proc/$PPID/io > "$CRONSYNC_USER_DIR/rchar-$CRONSYNC_JOB_ID"\n'


def settle(*users: Path) -> None:
    """Wait until jobs.json and settings.json are RACY_SECONDS old (mtime and ctime): a cache written
    after that may be trusted on their stat alone."""
    newest = max(
        max(st.st_mtime_ns, st.st_ctime_ns)
        for user in users
        for st in (os.stat(user / "config" / "jobs.json"), os.stat(user / "config" / "settings.json"))
    )
    time.sleep(max(0.0, (newest + RACY_SECONDS * 10**9) / 1e9 + 0.05 - time.time()))


def settled(sources: dict[str, Any]) -> bool:
    """The rule, written out again: every recorded mtime and ctime RACY_SECONDS before "checked_ns"."""
    stats = [stat for stat in (sources["jobs"], sources["settings"]) if stat is not None]
    return all(max(stat[3], stat[4]) <= sources["checked_ns"] - RACY_SECONDS * 10**9 for stat in stats)


def validate(user: Path) -> None:
    result = cronsync("validate", user_dir=user)
    assert result.returncode == 0, result.stderr


def header(user: Path) -> dict[str, Any]:
    with (user / "state" / "compiled.json").open("rb") as handle:
        value: dict[str, Any] = json.loads(handle.readline())
    return value


def exec_as_a_unit(user: Path, job: str) -> subprocess.CompletedProcess[str]:
    """Exactly what a unit runs: python -I -S .../cronsync/__main__.py."""
    argv = [*CRONSYNC_ARGV, "--user-dir", str(user), "exec", job]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times exec hashes the sources (in this process)."""
    calls: list[int] = []
    real = exec_job.source_key

    def counted(*args: Any) -> str:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(exec_job, "source_key", counted)
    return calls


@pytest.fixture
def settled_quick(tmp_path: Path) -> Path:
    """One job, Quick (args ["aaa"]), compiled after its sources settled: exec trusts the stat."""
    user = make_space(
        tmp_path, [script_job("Quick", "say.sh", payload={"args": ["aaa"]})], scripts={"say.sh": SAY}
    )
    settle(user)
    validate(user)
    assert settled(header(user)["sources"])
    return user


# --- exec's cost does not grow with the number of jobs -------------------------------------------


def test_exec_among_5000_jobs_reads_no_more_than_among_10(tmp_path: Path) -> None:
    """What `cronsync exec` had read when it started the job (its /proc io rchar, read by the job),
    among 5,000 jobs and among 10: compiled.json and jobs.json are each about a megabyte at 5,000
    jobs, and exec reads a few KiB of the first and nothing of the second."""
    users = []
    for count in (10, 5000):
        jobs = [script_job(f"Job {n:04d}", "io.sh", payload={"args": ["x" * (n % 97)]}) for n in range(count)]
        users.append(make_space(tmp_path / str(count), jobs, scripts={"io.sh": IO}))
    settle(*users)
    for user in users:
        validate(user)
    big = users[1]
    assert (big / "state" / "compiled.json").stat().st_size > 1_000_000
    assert (big / "config" / "jobs.json").stat().st_size > 900_000
    before = (big / "state" / "compiled.json").stat()

    def rchar(user: Path, job: str) -> int:
        result = exec_as_a_unit(user, job)
        assert result.returncode == 0, result.stderr
        job_id = job.lower().replace(" ", "-")
        return int((user / f"rchar-{job_id}").read_text().split()[1])

    by_id, by_name = rchar(users[0], "job-0005"), rchar(users[0], "Job 0007")  # by name imports more
    for job, baseline in [(f"job-{n:04d}", by_id) for n in (0, 5, 2500, 4999)] + [("Job 3333", by_name)]:
        read = rchar(big, job)
        assert read - baseline < 48 * 1024, (job, baseline, read)
    after = (big / "state" / "compiled.json").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # used, not rewritten


def _records(count: int, seed: int = 7) -> dict[str, dict[str, Any]]:
    rng = random.Random(seed)
    ids = sorted({f"{rng.choice('abcxyz')}{rng.randrange(10**6)}-{n}" for n in range(count)})
    records = {job_id: {"id": job_id, "name": job_id, "pad": "é" * rng.randrange(2000)} for job_id in ids}
    records[ids[count // 3]]["pad"] = "long " * 40_000  # one line of 200 KB
    return records


def test_the_reader_finds_every_record_and_reads_a_few_kib_for_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = UserSpace(tmp_path / "USER")
    records = _records(400)
    save_compiled(space, "k", None, records, {"log": {}})
    assert read_compiled(space, "k") == {"key": "k", "jobs": records, "settings": {"log": {}}}
    assert read_compiled(space, "other key") is None
    with open_compiled(space) as cache:  # type: ignore[union-attr]
        for job_id, record in records.items():
            assert cache.find(job_id) == record
        for absent in ("", "0", "a", "zzzzzz", "b5-", "x\ty", "a\n", next(iter(records)) + "~"):
            assert cache.find(absent) is None

    # 5,000 jobs: count what os.pread reads for one lookup (the header included)
    many = {f"job-{n:04d}": {"id": f"job-{n:04d}", "pad": "p" * 300} for n in range(5000)}
    save_compiled(space, "k", None, many, {})
    size = (tmp_path / "USER" / "state" / "compiled.json").stat().st_size
    read: list[int] = []
    real_pread = os.pread

    def counted(fd: int, length: int, offset: int) -> bytes:
        data = real_pread(fd, length, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(os, "pread", counted)
    for job_id in ("job-0000", "job-2718", "job-4999", "job-9999", "job-"):
        read.clear()
        with open_compiled(space) as cache:  # type: ignore[union-attr]
            cache.find(job_id)
        assert sum(read) < 24 * 1024 < size // 50, (job_id, sum(read), len(read))


# --- another writer -------------------------------------------------------------------------------


def test_the_record_comes_from_the_file_the_header_came_from(tmp_path: Path) -> None:
    """Another writer replacing compiled.json mid-lookup (same key, a changed record) cannot mix its
    records with the header already read: both come from the one open file."""
    space = UserSpace(tmp_path / "USER")
    old = {"quick": {"id": "quick", "args": ["old"]}}
    save_compiled(space, "k", None, old, {})
    with open_compiled(space) as cache:  # type: ignore[union-attr]
        save_compiled(space, "k", None, {"quick": {"id": "quick", "args": ["new, and longer"]}}, {})
        assert cache.find("quick") == old["quick"]
    with open_compiled(space) as cache:  # type: ignore[union-attr]
        assert cache.find("quick") == {"id": "quick", "args": ["new, and longer"]}


def test_a_record_changed_under_a_matching_key_is_what_exec_runs(settled_quick: Path) -> None:
    """A cache keyed for the current sources is trusted as it is: exec runs the record it finds there
    and validates nothing (that is what makes it cheap). Only the key says which sources a cache is
    for, so only a change of the sources (or of cronsync) makes exec validate again."""
    user = settled_quick
    space = UserSpace(user)
    key = header(user)["key"]
    cached = read_compiled(space, key)
    assert cached is not None
    cached["jobs"]["quick"]["payload"]["args"] = ["changed"]
    save_compiled(space, key, current_signature(space, key), cached["jobs"], cached["settings"])
    assert "ran quick [changed]" in exec_as_a_unit(user, "quick").stdout
    validate(user)  # the cache is whole and for these sources: validate leaves it, as before
    assert "ran quick [changed]" in exec_as_a_unit(user, "quick").stdout
    settings = user / "config" / "settings.json"
    settings.write_text(settings.read_text() + "\n")  # other sources: validated again
    assert "ran quick [aaa]" in exec_as_a_unit(user, "quick").stdout


# --- damage is a miss -----------------------------------------------------------------------------


def test_a_cache_truncated_at_any_point_is_a_miss_and_the_job_still_runs(
    settled_quick: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Every cut of a whole, trusted cache: exec (in this process, its stat path) validates again,
    runs the job, logs the run and writes the cache whole again."""
    user = settled_quick
    space = UserSpace(user)
    path = user / "state" / "compiled.json"
    whole = path.read_bytes()
    assert len(whole) > 500
    cached = read_compiled(space, header(user)["key"])
    for cut in range(len(whole)):
        path.write_bytes(whole[:cut])
        assert open_compiled(space) is None, cut
        assert exec_main(space, "quick", trigger=None, dry_run=False) == 0, cut
        assert read_compiled(space, header(user)["key"]) == cached, cut  # validated, written again
        assert settled(header(user)["sources"])  # and trusted on the stat again
    out, err = capfd.readouterr()
    assert out.count("ran quick [aaa]") == len(whole) and "Traceback" not in err
    records = log_records(user)
    assert len(records) == len(whole) and {r["status"] for r in records} == {"success"}


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line[:-2] + b" \n",  # the record's closing brace: a SystemError under -I -S
        lambda line: line.replace(b"\t", b" ", 1),  # no tab
        lambda line: line.replace(b'"id":"quick"', b'"id":"quack"'),  # another job's record
        lambda line: line.replace(b"{", b"[", 1),  # not an object
    ],
)
def test_a_corrupt_record_line_is_a_miss(settled_quick: Path, damage: Callable[[bytes], bytes]) -> None:
    user = settled_quick
    path = user / "state" / "compiled.json"
    head, line = path.read_bytes().split(b"\n", 1)
    broken = damage(line)
    assert len(broken) == len(line) and broken != line
    path.write_bytes(head + b"\n" + broken)
    result = exec_as_a_unit(user, "quick")
    assert result.returncode == 0 and "ran quick [aaa]" in result.stdout, result.stderr
    assert "Traceback" not in result.stderr
    assert read_compiled(UserSpace(user), header(user)["key"]) is not None  # whole again


def test_a_corrupt_header_is_a_miss(settled_quick: Path) -> None:
    path = settled_quick / "state" / "compiled.json"
    whole = path.read_bytes()
    for broken in (
        b"\xff" + whole[1:],
        whole.replace(b'"format":3', b'"format":2'),  # an older cronsync's
        whole.replace(b'"count":1', b'"count":"1"'),
        whole.replace(b'"key":"', b'"key":0,"x":"'),
        b'{"a": "unterminated\n' + whole.split(b"\n", 1)[1],
        b"[]\n",
        b"\n" * 10_000,
    ):
        path.write_bytes(broken)
        result = exec_as_a_unit(settled_quick, "quick")
        assert result.returncode == 0 and "ran quick [aaa]" in result.stdout, result.stderr
        assert path.read_bytes() != broken


# --- when the stat may be trusted -----------------------------------------------------------------


def test_a_racy_cache_is_checked_by_hashing_then_refreshed_once_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_space(tmp_path, [script_job("Quick", "say.sh")], scripts={"say.sh": SAY})
    validate(user)  # just after writing jobs.json: its mtime is within RACY_SECONDS of the stat
    sources = header(user)["sources"]
    assert sources["jobs"] is not None and not settled(sources)
    space = UserSpace(user)
    hashed = hashes(monkeypatch)
    job, _ = exec_job.load_job(space, "quick")
    assert job["id"] == "quick" and hashed == [1]  # found, after hashing
    assert header(user)["sources"] == sources  # not settled yet: nothing better to record
    settle(user)
    job, _ = exec_job.load_job(space, "Quick")  # hashes, and records the settled signature
    assert job["id"] == "quick" and hashed == [1, 1]
    assert settled(header(user)["sources"])
    job, _ = exec_job.load_job(space, "quick")
    assert job["id"] == "quick" and hashed == [1, 1]  # now the stat vouches: no hashing


def test_a_same_size_edit_in_place_is_seen(settled_quick: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing jobs.json in place, keeping its size, changes its mtime and ctime: exec hashes, sees
    the change and runs the new job. With mtime set back to the recorded one, ctime still differs."""
    user = settled_quick
    space = UserSpace(user)
    jobs_file = user / "config" / "jobs.json"
    recorded = header(user)["sources"]["jobs"]

    def edit_in_place(old: bytes, new: bytes) -> None:
        with jobs_file.open("r+b") as handle:
            text = handle.read()
            assert text.count(old) == 1 and len(old) == len(new)
            handle.seek(0)
            handle.write(text.replace(old, new))

    edit_in_place(b'"aaa"', b'"bbb"')
    assert os.stat(jobs_file).st_ino == recorded[1] and os.stat(jobs_file).st_size == recorded[2]
    result = exec_as_a_unit(user, "quick")
    assert result.returncode == 0 and "ran quick [bbb]" in result.stdout, result.stderr
    recorded = header(user)["sources"]["jobs"]  # what exec's validation recorded
    edit_in_place(b'"bbb"', b'"ccc"')
    os.utime(jobs_file, ns=(recorded[3], recorded[3]))  # mtime back to the recorded one
    now = os.stat(jobs_file)
    assert [now.st_ino, now.st_size, now.st_mtime_ns] == recorded[1:4]
    hashed = hashes(monkeypatch)
    job, _ = exec_job.load_job(space, "quick")
    assert job["payload"]["args"] == ["ccc"] and hashed == [1]
    monkeypatch.undo()
    result = exec_as_a_unit(user, "quick")
    assert result.returncode == 0 and "ran quick [ccc]" in result.stdout, result.stderr


def test_a_racily_equal_stat_is_caught_by_hashing(settled_quick: Path) -> None:
    """The race the settle rule is for: a writer stats jobs.json and reads it, then a same-size write
    lands within the same timestamp tick, so the stat it recorded is the stat of the new bytes. Made
    here by recording the stat of the new bytes for the old key: exec must hash, not trust it. Also
    when the new bytes got an old mtime (rsync -t, touch -d): their ctime is still recent."""
    user = settled_quick
    space = UserSpace(user)
    key = header(user)["key"]
    cached = read_compiled(space, key)
    assert cached is not None
    jobs_file = user / "config" / "jobs.json"
    for old, new, mtime in ((b'"aaa"', b'"bbb"', None), (b'"bbb"', b'"ccc"', time.time_ns() - 3600 * 10**9)):
        jobs_file.write_bytes(jobs_file.read_bytes().replace(old, new))
        if mtime is not None:
            os.utime(jobs_file, ns=(mtime, mtime))  # an hour old: only ctime says it is new
        signature = read_sources_signed(space)[2]  # the new bytes' stat, checked now
        assert not settled(signature)
        save_compiled(space, key, signature, cached["jobs"], cached["settings"])  # the stale record
        result = exec_as_a_unit(user, "quick")
        assert result.returncode == 0 and f"ran quick [{new.decode()[1:-1]}]" in result.stdout, result.stderr


def test_a_settled_cache_of_another_version_or_root_is_not_trusted(
    settled_quick: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = settled_quick
    space = UserSpace(user)
    sources = read_sources_signed(space)
    key = source_key(space, sources[0] or b"", sources[1])
    cached = read_compiled(space, key)
    assert cached is not None
    cached["jobs"]["quick"]["payload"]["args"] = ["stale"]
    with monkeypatch.context() as patch:
        patch.setattr(compiled, "__version__", "0.0.0-other")
        old_key = source_key(space, sources[0] or b"", sources[1])
        save_compiled(space, old_key, current_signature(space, old_key), cached["jobs"], cached["settings"])
    assert settled(header(user)["sources"])  # the stat alone would vouch for it
    assert "ran quick [aaa]" in exec_as_a_unit(user, "quick").stdout
    # moved: the same files (same stat), another root
    save_compiled(space, key, current_signature(space, key), cached["jobs"], cached["settings"])
    assert "ran quick [stale]" in exec_as_a_unit(user, "quick").stdout  # the cache is trusted...
    moved = tmp_path / "moved"
    os.rename(user, moved)
    assert "ran quick [aaa]" in exec_as_a_unit(moved, "quick").stdout  # ...but not from another root
    assert header(moved)["root"] == str(moved)


def test_a_name_is_found_through_its_id_and_must_match(settled_quick: Path) -> None:
    space = UserSpace(settled_quick)
    assert exec_job.load_job(space, "Quick")[0]["id"] == "quick"
    with pytest.raises(ExecError) as caught:
        exec_job.load_job(space, "QUICK")  # its id is quick's, but it is not quick's name
    assert "no job 'QUICK'" in str(caught.value) and "jobs: quick" in str(caught.value)


def test_a_missing_cache_file_or_state_dir_is_a_miss(settled_quick: Path) -> None:
    shutil.rmtree(settled_quick / "state")
    assert "ran quick [aaa]" in exec_as_a_unit(settled_quick, "quick").stdout
    assert (settled_quick / "state" / "compiled.json").is_file()


def _cache_miss_raised(fn: Callable[[], object]) -> bool:
    try:
        fn()
    except CacheMiss:
        return True
    return False


def test_records_refuse_unsorted_or_miscounted_lines(tmp_path: Path) -> None:
    space = UserSpace(tmp_path / "USER")
    save_compiled(space, "k", None, {"a": {"id": "a"}, "b": {"id": "b"}}, {})
    path = tmp_path / "USER" / "state" / "compiled.json"
    head, body = path.read_bytes().split(b"\n", 1)
    lines = body.splitlines(keepends=True)
    path.write_bytes(head + b"\n" + lines[1] + lines[0])  # same size, not sorted
    with open_compiled(space) as cache:  # type: ignore[union-attr]
        assert _cache_miss_raised(cache.records)
    path.write_bytes(head.replace(b'"count":2', b'"count":3') + b"\n" + body)
    with open_compiled(space) as cache:  # type: ignore[union-attr]
        assert _cache_miss_raised(cache.records)
