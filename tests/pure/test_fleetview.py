"""core/fleetview.py: what other machines wrote to etcd, read defensively, into rows and history."""

from __future__ import annotations

import json

from cronsync.core.fleetview import (
    claim_record,
    claims,
    clock_findings,
    drifted,
    heartbeats,
    host_rows,
    last_runs,
    merge_history,
    settled,
    utc_text,
)


def test_heartbeats_leave_out_what_is_not_one() -> None:
    values = [
        ("/c/hosts/b", json.dumps({"host": "b", "last_seen": 0, "config_digest": "x"}).encode()),
        ("/c/hosts/a", json.dumps({"last_seen": "soon", "config_digest": "y"}).encode()),
        ("/c/hosts/c", b"\xff not json"),
        ("/c/hosts/d", b"[1, 2]"),
    ]
    beats = heartbeats(values)
    assert [(b["host"], b["last_seen"]) for b in beats] == [("a", None), ("b", 0.0)]
    rows = host_rows(beats, "x")
    assert rows == [
        {"host": "a", "last_seen": None, "config_digest": "y", "current": False},
        {"host": "b", "last_seen": "1970-01-01T00:00:00Z", "config_digest": "x", "current": True},
    ]
    assert [r["current"] for r in host_rows(beats, None)] == [False, False]
    assert drifted(beats, "x", "b") == ["a"] and drifted(beats, "y", "a") == ["b"]


def test_last_runs_are_the_newest_slots_oldest_first() -> None:
    values = [
        (f"/c/claims/j/2026-01-01T00:{m:02d}:00Z", json.dumps({"host": "h", "status": "success"}).encode())
        for m in (5, 1, 3, 2, 4)
    ]
    runs = last_runs(claims(values), count=3)
    assert [r["slot"][14:16] for r in runs] == ["03", "04", "05"]
    assert runs[0] == {"slot": "2026-01-01T00:03:00Z", "host": "h", "status": "success"}


def test_a_claim_in_history_and_each_run_once() -> None:
    claim = {"job": "j", "slot": "2026-01-01T00:01:00Z", "host": "b", "claimed_at": 1767225660.2,
             "status": "failure", "exit_code": 2, "duration": 1.5, "ended_at": 1767225661.7}  # fmt: skip
    record = claim_record(claim, "J")
    assert record["status"] == "failure" and record["host"] == "b" and record["exit_code"] == 2
    assert record["start"] == "2026-01-01T00:01:00Z" and record["slot"] == claim["slot"]
    mine = {**claim, "host": "a", "slot": "2026-01-01T00:00:00Z", "claimed_at": 1767225600.1}
    local = [
        {"job_id": "j", "status": "success", "start": "2026-01-01T00:00:00.300+00:00"},  # no slot: by time
        {"job_id": "j", "status": "skipped", "ran_on": "b", "start": "2026-01-01T00:01:00.100+00:00"},
    ]
    merged = merge_history(local, [claim_record(mine, "J"), record], "a")
    assert [(r["host"], r["status"]) for r in merged] == [("a", "success"), ("b", "failure")]
    assert "source" not in merged[0]


def test_a_heartbeat_from_the_future_is_a_fast_clock() -> None:
    beats = heartbeats(
        [
            ("/c/hosts/a", json.dumps({"host": "a", "last_seen": 1000.0}).encode()),
            ("/c/hosts/b", json.dumps({"host": "b", "last_seen": 1100.0}).encode()),
            ("/c/hosts/c", json.dumps({"host": "c", "last_seen": 10.0}).encode()),
        ]
    )
    assert clock_findings(beats, 1001.0, "z") == [("b", 99.0)]
    assert clock_findings(beats, 1001.0, "b") == []
    assert utc_text(None) is None


def test_a_running_claim_nobody_holds_any_more_is_interrupted() -> None:
    def claim(slot: str, status: str, claimed_at: float) -> dict[str, object]:
        return {"slot": slot, "host": "nas", "status": status, "claimed_at": claimed_at}

    now, ttl = 10_000.0, 10.0
    found = [
        claim("09:00", "running", now - 3600),  # its host died: the lease lapsed long ago
        claim("09:01", "success", now - 60),
        claim("09:02", "running", now - 3),  # just claimed: its holder's key may not be there yet
        claim("09:03", "running", now - 600),  # held: its host renews the lease
    ]
    holder = {"host": "nas", "slot": "09:03"}
    statuses = [c["status"] for c in settled(found, holder, now, ttl)]
    assert statuses == ["interrupted", "success", "running", "running"]
    assert [c["status"] for c in settled(found, None, now, ttl)][-1] == "interrupted"
    assert settled([claim("09:04", "running", now - ttl - 1)], None, now, ttl)[0]["status"] == "running"
    assert found[0]["status"] == "running"  # the claims read are left as they were
