"""Seeing the fleet, pure: etcd's heartbeat and claim values (as read) into `fleet status` rows, the
claims into history records, and what doctor makes of the other hosts' clocks and configs.

The values are JSON objects written by other machines (README "Fleet"): anything that is not one, or
lacks what a row needs, is left out rather than trusted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

LAST_RUNS = 10  # per run_on "one" job in `fleet status`
SAME_RUN_SECONDS = 5.0  # a claim and a log record without a slot this close are one run
FUTURE_TOLERANCE = 2.0  # seconds: a heartbeat further ahead of etcd's clock than this is a fast clock
# A claim still "running" is interrupted once nobody holds its run: its host's lease (lease_ttl) has lapsed,
# and more than this has passed since the claim (the holder's key comes 0.5 s in; the clocks may differ).
INTERRUPTED_AFTER = 5.0


def utc_text(epoch: float | None) -> str | None:
    """An epoch as "2026-12-02T09:00:00Z" (a slot's own form), None for None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _keyed(values: Iterable[tuple[str, bytes]], field: str) -> list[dict[str, Any]]:
    """Each well-formed JSON object of `values`, in their order, its `field` (a text) taken from the last part
    of its key when the object lacks it."""
    found = []
    for key, raw in values:
        value = json_object(raw)
        if value is not None:
            found.append({**value, field: _text(value.get(field)) or key.rsplit("/", 1)[-1]})
    return found


def heartbeats(values: Iterable[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """Every well-formed heartbeat ({prefix}/hosts/{host}), by host name."""
    beats = [{**beat, "last_seen": _number(beat.get("last_seen"))} for beat in _keyed(values, "host")]
    return sorted(beats, key=lambda beat: beat["host"])


def host_rows(beats: Sequence[dict[str, Any]], local_digest: str | None) -> list[dict[str, Any]]:
    """`fleet status`'s hosts: `current` is whether the host applied the jobs.json this host has."""
    return [
        {
            "host": beat["host"],
            "last_seen": utc_text(beat["last_seen"]),
            "config_digest": _text(beat.get("config_digest")),
            "current": local_digest is not None and beat.get("config_digest") == local_digest,
        }
        for beat in beats
    ]


def claims(values: Iterable[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """The well-formed claim values ({prefix}/claims/{job}/{slot}), in key order (by job, then slot)."""
    return _keyed(values, "slot")


def settled(
    job_claims: Sequence[dict[str, Any]], holder: dict[str, Any] | None, now: float, lease_ttl: float
) -> list[dict[str, Any]]:
    """The claims, a "running" one that no host holds any more (`running/<job>`, whose lease its host
    renews, names another slot or is gone) marked "interrupted": its host stopped, or lost etcd and
    killed the job, before it could write the outcome."""
    held = _text(holder.get("slot")) if holder is not None else None
    settled_claims = []
    for claim in job_claims:
        claimed_at = _number(claim.get("claimed_at"))
        lapsed = claimed_at is not None and now - claimed_at > lease_ttl + INTERRUPTED_AFTER
        if claim.get("status") == "running" and claim["slot"] != held and lapsed:
            claim = {**claim, "status": "interrupted"}
        settled_claims.append(claim)
    return settled_claims


def last_runs(job_claims: Sequence[dict[str, Any]], count: int = LAST_RUNS) -> list[dict[str, Any]]:
    """A job's last `count` claimed slots, oldest first: slot, the host that claimed it, its status."""
    ordered = sorted(job_claims, key=lambda claim: claim["slot"])
    return [
        {"slot": claim["slot"], "host": _text(claim.get("host")), "status": _text(claim.get("status"))}
        for claim in ordered[-count:]
    ]


def claim_record(claim: dict[str, Any], job_name: str) -> dict[str, Any]:
    """A claimed run as a history record (the host that ran it, its slot), in history's words."""
    status = _text(claim.get("status")) or "unknown"
    record: dict[str, Any] = {
        "job_id": _text(claim.get("job")),
        "job_name": job_name,
        "trigger": "timer",
        "status": status,
        "start": utc_text(_number(claim.get("claimed_at"))),
        "end": utc_text(_number(claim.get("ended_at"))),
        "duration": _number(claim.get("duration")),
        "exit_code": claim.get("exit_code") if isinstance(claim.get("exit_code"), int) else None,
        "host": _text(claim.get("host")),
        "slot": claim["slot"],
        "source": "etcd",
    }
    return record


def record_time(record: dict[str, Any]) -> float:
    """When a history record's run started (or its instant was scheduled), as an epoch; 0 if unknown."""
    text = record.get("start") or record.get("scheduled") or record.get("slot")
    if not isinstance(text, str):
        return 0.0
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def merge_history(
    local: Iterable[dict[str, Any]], claimed: Iterable[dict[str, Any]], host: str
) -> list[dict[str, Any]]:
    """This host's records (each marked with its host) and the fleet's claimed runs, in time order.

    Each run shows once: a claimed run of this host that its log has (the same slot, or for a record
    without one, a start within seconds of the claim) is that record, with its output; this host's
    `skipped` record of a slot another host ran (`ran_on`) is that host's claimed run."""
    merged = [
        {**record, "host": record.get("host") or host}
        for record in local
        if not (record.get("status") == "skipped" and record.get("ran_on"))
    ]
    logged: dict[object, list[tuple[object, float]]] = {}
    for record in merged:
        if record["host"] == host:
            logged.setdefault(record.get("job_id"), []).append((record.get("slot"), record_time(record)))
    merged += [record for record in claimed if not _logged_here(record, host, logged)]
    return sorted(merged, key=record_time)


def _logged_here(claim: dict[str, Any], host: str, logged: dict[object, list[tuple[object, float]]]) -> bool:
    if claim.get("host") != host:
        return False
    at = record_time(claim)
    return any(
        slot == claim["slot"] or (slot is None and abs(start - at) < SAME_RUN_SECONDS)
        for slot, start in logged.get(claim.get("job_id"), [])
    )


def clock_findings(beats: Sequence[dict[str, Any]], etcd_now: float, host: str) -> list[tuple[str, float]]:
    """(host, seconds ahead) of each other host whose last heartbeat is later than etcd's clock says
    it is now: its clock runs ahead. (A clock behind cannot be told from an old heartbeat.)"""
    ahead = []
    for beat in beats:
        seen = beat["last_seen"]
        if beat["host"] != host and seen is not None and seen - etcd_now > FUTURE_TOLERANCE:
            ahead.append((beat["host"], seen - etcd_now))
    return ahead


def drifted(beats: Sequence[dict[str, Any]], local_digest: str | None, host: str) -> list[str]:
    """The other hosts whose applied jobs.json is not the one this host has."""
    return [
        beat["host"]
        for beat in beats
        if beat["host"] != host and local_digest is not None and beat.get("config_digest") != local_digest
    ]
