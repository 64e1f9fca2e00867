"""`run_on: "one"`: at each scheduled time exactly one of the job's hosts runs it, coordinated in etcd.

The run's slot is the scheduled time it belongs to (exec/guard.previous_fire: a trigger seconds late,
a random delay or a catch-up at boot belong to the time before them). Before the job starts, exec
creates `claims/<job>/<slot>` in one transaction that succeeds only if nobody claimed that slot and
nobody runs the job now (`running/<job>`, on the winner's lease). The winner runs, keeps its lease
alive, and writes the outcome into its claim; every other host records a skip naming the winner.

A lease that cannot be renewed (etcd cut off, the process frozen past the lease's TTL) means another
host may soon start the next slot: the holder kills its job, as `consul lock` does. The slot stays
claimed, so it never runs twice. Imported only for such jobs: the others pay nothing.
"""

from __future__ import annotations

import os
import time

from cronsync import JOB_SKIPPED, __version__
from cronsync.adapters import etcd
from cronsync.core import fleet
from cronsync.exec.run import ExecError, say
from cronsync.userspace import fastjson
from cronsync.userspace.paths import host_name

TYPE_CHECKING = False  # typing costs milliseconds on exec's path: only mypy reads these
if TYPE_CHECKING:
    import signal
    from typing import Any

    from cronsync.exec.run import Outcome, Run
else:
    from cronsync.adapters.process import signal  # _signal: `signal` costs exec its enums

LEASE_LOST = (
    "killed: this host could not renew its fleet lease for {ttl} s (etcd unreachable, or this machine "
    "frozen); another host may run the next slot, so the job was stopped. Slot {slot} stays claimed "
    "and does not run again"
)


# `running/<job>` (and its lease) is only needed once a run may outlast its slot: a run shorter than
# this costs exec no lease grant (nor a thread's wait for it at the end), and no slot comes sooner.
RUNNING_AFTER = 0.5


class Claim:
    """This host's claim of one slot. While the job runs a thread holds the run's lease, which
    `running/<job>` is put on, and renews it; the job is stopped once the lease has lapsed."""

    def __init__(self, run: Run, client: etcd.Client, slot: str, value: dict[str, Any], ttl: int) -> None:
        self.run, self.client, self.slot, self.value, self.ttl = run, client, slot, value, ttl
        self.host = str(value["host"])
        self.claimed = time.monotonic()
        self.lease = 0
        self.lost = False
        self._stop: Any = None
        self._done: Any = None
        self._previous_term: Any = None

    def keep_alive(self) -> None:
        """Start the lease's thread (the job need not wait for its grant: the claim is already won). It
        first waits RUNNING_AFTER: the shortest interval of a schedule is a second. `_thread`, not
        `threading`: that one costs exec ~8 ms of imports (functools, collections)."""
        import _thread

        self._stop, self._done = _thread.allocate_lock(), _thread.allocate_lock()
        self._stop.acquire()  # released by finish: the thread's signal to end
        self._done.acquire()  # released by the thread as it ends
        self._previous_term = signal.signal(signal.SIGTERM, self._on_term)  # run_process sets its own
        _thread.start_new_thread(self._hold_lease, ())

    def _hold_lease(self) -> None:
        client = self.client.copy()  # connections of its own: the main thread may use the other
        try:
            self._renew(client)
        finally:
            client.close()
            self._done.release()

    def _renew(self, client: etcd.Client) -> None:
        running = fastjson.dumps(_running_value(self.run, self.slot, self.host)).encode()
        expires, placed, pause = self.claimed + self.ttl, False, min(RUNNING_AFTER, self.ttl / 3)
        while not self._stop.acquire(timeout=pause):
            asked = time.monotonic()
            try:
                if not self.lease:
                    self.lease = client.grant(self.ttl)
                    left = self.ttl
                else:
                    left = client.keepalive(self.lease)
                if left and not placed:
                    client.put(fleet.running_key(_prefix(self.run), self.run.job["id"]), running, self.lease)
                    placed = True
            except etcd.EtcdError:
                left = -1
            if left > 0:
                expires = asked + left
            elif left == 0 or time.monotonic() >= expires:
                self.lost = True
                os.kill(os.getpid(), 15)  # SIGTERM: run_process stops the job's group, as on a timeout
                return
            pause = max(self.ttl / 3, 0.2) if placed else 0.2

    def _on_term(self, _signum: int, _frame: object) -> None:
        if self.lost:
            raise ExecError(LEASE_LOST.format(ttl=self.ttl, slot=self.slot), 143)
        raise ExecError("stopped by SIGTERM before the job finished", 143)

    def finish(self, outcome: Outcome) -> None:
        """Stop renewing; write the outcome into the claim and remove `running/<job>` if it is still
        this run's (one transaction; the lease itself lapses unrenewed)."""
        if self._stop is not None:
            self._stop.release()
            if self._done.acquire(timeout=2 * self.client.timeout + 1):
                self._done.release()
            signal.signal(signal.SIGTERM, self._previous_term)
        if self.lost:
            outcome.fail(LEASE_LOST.format(ttl=self.ttl, slot=self.slot), outcome.exit_code or 143)
        self.value.update(
            status="killed" if self.lost else outcome.status,
            exit_code=outcome.exit_code,
            ended_at=round(time.time(), 3),
            duration=round(time.monotonic() - self.run.clock, 3),
        )
        prefix, job_id = _prefix(self.run), self.run.job["id"]
        record = etcd.put_op(fleet.claim_key(prefix, job_id, self.slot), fastjson.dumps(self.value).encode())
        running = fleet.running_key(prefix, job_id)
        ours = {"key": etcd.b64(running), "target": "LEASE", "result": "EQUAL", "lease": str(self.lease)}
        try:
            self.client.txn([ours], [record, etcd.delete_range_op(running, running + "\0")], [record])
        except etcd.EtcdError as exc:
            note = f"the outcome could not be written to etcd ({exc}); the lease lapses on its own"
            self.run.record_fields["fleet_error"] = note
            say(f"warning: {note}")
        finally:
            self.client.close()


def claim_slot(run: Run, outcome: Outcome) -> Claim | None:
    """This host's claim of the run's slot; None when the run does not go ahead (outcome says why, as a
    skip) or goes ahead unclaimed (etcd unreachable and `when_unreachable: "run"`)."""
    settings = run.settings["fleet"]
    host = host_name(settings.get("host"))
    slot_epoch = _slot(run)
    slot = fleet.slot_name(slot_epoch)
    run.record_fields.update(slot=slot, host=host)
    client = etcd.client_from_fleet(settings, lambda name: run.secrets().get(name))  # re: only if asked
    try:
        return _claim(run, outcome, client, settings, host, slot_epoch, slot)
    except etcd.EtcdError as exc:
        client.close()
        _unreachable(run, outcome, settings, exc)
        return None


def _slot(run: Run) -> int:
    from cronsync.exec.guard import previous_fire

    fire = previous_fire(run.job["guard"], run.triggered)
    if fire is None:
        raise ExecError(f"no scheduled time of {run.job['cron']!r} at or before this run to claim")
    return fire


def _claim(
    run: Run,
    outcome: Outcome,
    client: etcd.Client,
    settings: dict[str, Any],
    host: str,
    slot_epoch: int,
    slot: str,
) -> Claim | None:
    prefix, job_id = settings["prefix"], run.job["id"]
    claim_key, running_key = fleet.claim_key(prefix, job_id, slot), fleet.running_key(prefix, job_id)
    delay = fleet.failover_wait(run.job.get("hosts"), host, settings["failover_delay"])
    if delay:  # a host further down the job's hosts leaves the slot to those before it for a while
        beat = _heartbeat_op(run, prefix, host)
        free, responses = client.txn([etcd.absent(claim_key)], [beat], [etcd.range_op(claim_key), beat])
        if not free:
            _lost(run, outcome, client, etcd.range_values(responses[0])[0][1], slot)
            return None
        time.sleep(delay)
    value = _claim_value(run, slot, "running")
    won, responses = client.txn(
        [etcd.absent(claim_key), etcd.absent(running_key)],
        [
            etcd.put_op(claim_key, fastjson.dumps(value).encode()),
            _forget_old_claims(run, prefix, job_id, slot_epoch),
            _heartbeat_op(run, prefix, host),
        ],
        [etcd.range_op(claim_key), etcd.range_op(running_key), _heartbeat_op(run, prefix, host)],
    )
    if won:
        run.record_fields["ran_on"] = host
        if delay:
            run.record_fields["failover_wait"] = round(delay, 3)
        return Claim(run, client, slot, value, int(settings["lease_ttl"]))
    claimed = etcd.range_values(responses[0])
    if claimed:
        _lost(run, outcome, client, claimed[0][1], slot)
    else:
        running = etcd.range_values(responses[1])
        _still_running(run, outcome, client, claim_key, running[0][1] if running else b"", slot)
    return None


def _lost(run: Run, outcome: Outcome, client: etcd.Client, taken: bytes, slot: str) -> None:
    client.close()
    holder = _field(taken, "host")
    run.record_fields["ran_on"] = holder
    _skip(outcome, f"skipped: {holder} claimed the run scheduled for {slot} (run_on: one)")


def _still_running(
    run: Run, outcome: Outcome, client: etcd.Client, claim_key: str, running: bytes, slot: str
) -> None:
    """The slot is free but another host still runs the job (a run longer than the interval): the slot
    is claimed as skipped, so that no host runs it later (overlap across the fleet is a skip)."""
    holder = _field(running, "host")
    value = _claim_value(run, slot, "skipped")
    value["error"] = f"still running on {holder}"
    existing = client.create(claim_key, fastjson.dumps(value).encode())
    if existing is not None:
        _lost(run, outcome, client, existing, slot)
        return
    client.close()
    run.record_fields["ran_on"] = holder
    _skip(outcome, f"skipped: the previous run is still running on {holder} (run_on: one, overlap: skip)")


def _unreachable(run: Run, outcome: Outcome, settings: dict[str, Any], exc: etcd.EtcdError) -> None:
    if settings["when_unreachable"] == "run":
        note = f"{exc}: ran without a claim (fleet.when_unreachable: run), so another host may run it too"
        run.record_fields["fleet_error"] = note
        say(f"warning: {note}")
        return
    run.record_fields["fleet_error"] = str(exc)
    _skip(
        outcome,
        f"skipped: {exc}; without a claim it might run twice (fleet.when_unreachable: skip); "
        "`cronsync doctor` checks the fleet",
    )


def _skip(outcome: Outcome, reason: str) -> None:
    outcome.status, outcome.exit_code, outcome.error = "skipped", JOB_SKIPPED, reason
    say(reason)


def _field(value: bytes, name: str) -> str:
    try:
        return str(fastjson.loads(value).get(name) or "another host")
    except (ValueError, AttributeError):
        return "another host"


def _prefix(run: Run) -> str:
    return str(run.settings["fleet"]["prefix"])


def _claim_value(run: Run, slot: str, status: str) -> dict[str, Any]:
    return {
        "job": run.job["id"],
        "slot": slot,
        "host": host_name(run.settings["fleet"].get("host")),
        "run_id": run.run_id,
        "claimed_at": round(time.time(), 3),
        "status": status,
        "exit_code": None,
        "duration": None,
        "ended_at": None,
    }


def _running_value(run: Run, slot: str, host: str) -> dict[str, Any]:
    return {"host": host, "slot": slot, "pid": os.getpid(), "started": round(run.started, 3)}


def _forget_old_claims(run: Run, prefix: str, job_id: str, slot_epoch: int) -> dict[str, Any]:
    """Delete the claims older than the history kept (core/fleet.oldest_kept), in the claim's own txn."""
    from cronsync.exec.guard import previous_fire

    before = previous_fire(run.job["guard"], slot_epoch - 1)
    oldest = fleet.claim_key(prefix, job_id, fleet.slot_name(fleet.oldest_kept(slot_epoch, before)))
    return etcd.delete_range_op(fleet.claims_prefix(prefix, job_id), oldest)


def _heartbeat_op(run: Run, prefix: str, host: str) -> dict[str, Any]:
    """This host's heartbeat, written in the claim's transaction whether it wins or not."""
    from cronsync.userspace.compiled import source_digests

    beat = fleet.heartbeat(host, time.time(), *source_digests(run.space), __version__)
    return etcd.put_op(fleet.host_key(prefix, host), fastjson.dumps(beat).encode())
