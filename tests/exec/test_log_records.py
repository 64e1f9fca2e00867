"""scheduler.log and events.jsonl hold whole records only: a short write (a full disk) is undone, a partial
line a crash left cannot swallow the next record, and readers skip whatever line they cannot read."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.cli import cronsync
from tests.support.exectools import exec_argv, make_space, run_exec, script_job

# 3,000 bytes of output: a record too big for what is left of the log's last page on the full disk
LOUD = "#!/bin/sh\nhead -c 3000 /dev/zero | tr '\\0' q\n"


def loud_space(tmp_path: Path) -> Path:
    return make_space(
        tmp_path, [script_job("Loud", "loud.sh")], {"log": {"excerpt_bytes": 3000}}, scripts={"loud.sh": LOUD}
    )


def test_a_record_cut_short_by_a_full_disk_is_undone_and_cannot_corrupt_the_next(tmp_path: Path) -> None:
    user = loud_space(tmp_path)
    logs, saved = user / "logs", tmp_path / "saved"
    logs.mkdir()
    saved.mkdir()
    # in a private mount namespace: USER/logs on a 64 KiB tmpfs, run once, fill the disk, run again
    # (its record no longer fits), free the disk and run a third time; then keep what the logs hold
    script = """
        mount -t tmpfs -o size=64k tmpfs "$1"
        shift 2
        "$@" > /dev/null 2>&1
        dd if=/dev/zero of="$LOGS/filler" bs=4k 2>/dev/null || true
        "$@" > /dev/null 2> "$SAVED/full.err" || true
        rm "$LOGS/filler"
        "$@" > /dev/null 2>&1
        cp "$LOGS/scheduler.log" "$LOGS/events.jsonl" "$SAVED/"
    """
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-ec", script, "sh", str(logs), "--"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LOGS": str(logs), "SAVED": str(saved)}
    subprocess.run([*argv, *exec_argv(user, "loud")], check=True, timeout=120, env=env)

    assert "scheduler.log" in (saved / "full.err").read_text()
    assert "the record was not logged" in (saved / "full.err").read_text()
    for name in ("scheduler.log", "events.jsonl"):
        lines = (saved / name).read_bytes().split(b"\n")
        assert lines[-1] == b"", name  # ends with a whole line
        records = [json.loads(line) for line in lines[:-1]]  # every line a whole record
        assert [r["status"] for r in records] == ["success", "success"], name
        assert all(r["excerpt"] == "q" * 3000 for r in records), name


def test_a_partial_line_left_by_a_crash_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    user = loud_space(tmp_path)
    (user / "logs").mkdir()
    for name in ("scheduler.log", "events.jsonl"):
        (user / "logs" / name).write_bytes(b'{"run_id": "20260101T000000-abcdef", "job_id": "loud", "sta')
    assert run_exec(user, "loud").returncode == 0
    for name in ("scheduler.log", "events.jsonl"):
        last = (user / "logs" / name).read_bytes().split(b"\n")[-2]
        assert json.loads(last)["status"] == "success", name
    history = json.loads(cronsync("history", "--json", user_dir=user).stdout)
    assert [r["status"] for r in history] == ["success"]


UNREADABLE = [
    b"[" * 100_000,
    b"{" * 50_000,
    b'{"job_id": "loud", "status": "failure", "excerpt": "\xff\xfe"}',
    b'{"job_id": "loud", "status": "failure", "duration": NaN}',
    b'{"job_id": "loud", "status": "failure", "duration": Infinity}',
    b'{"job_id": "loud", "status": "failure", "duration": -Infinity}',
    b'{"job_id": "loud", "status": "failure", "duration": 1e999}',
    b'{"job_id": "loud", "status": "failure", "nested": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'["job_id", "loud"]',
]


def test_readers_skip_lines_they_cannot_read_and_print_strict_json(tmp_path: Path) -> None:
    user = loud_space(tmp_path)
    assert run_exec(user, "loud").returncode == 0
    log = user / "logs" / "scheduler.log"
    good = log.read_bytes()
    log.write_bytes(b"\n".join(UNREADABLE) + b"\n" + good + b"\n".join(UNREADABLE) + b"\n")

    as_json = cronsync("history", "--json", user_dir=user)
    assert as_json.returncode == 0, as_json.stderr
    assert "Traceback" not in as_json.stderr
    records = json.loads(as_json.stdout, parse_constant=_refuse)
    assert [r["status"] for r in records] == ["success"]

    table = cronsync("history", "loud", user_dir=user)
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr
    assert [row.split()[-3] for row in table.stdout.splitlines()[1:]] == ["success"]

    logs = cronsync("logs", "loud", user_dir=user)
    assert logs.returncode == 0 and "Traceback" not in logs.stderr, logs.stderr

    status = cronsync("status", "--backend", "crontab", "--json", user_dir=user)
    assert "Traceback" not in status.stderr, status.stderr
    if status.returncode == 0:  # crontab may be missing here; the log is read either way
        assert json.loads(status.stdout)["jobs"][0]["last_result"] == "success"


def _refuse(name: str) -> object:
    raise AssertionError(f"{name} in strict JSON")
