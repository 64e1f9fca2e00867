"""The fleet's vocabulary: which machine installs which job, the scheduled time a run belongs to (its
slot), and the etcd keys a user space's runs are claimed and recorded under.

Keys, all under settings.json's fleet.prefix (JSON values):
  {prefix}/claims/{job id}/{slot}   who ran that scheduled time, and how it ended; created once, by the
                                    host that won it (a create-if-absent transaction)
  {prefix}/running/{job id}         who runs the job now: on that host's lease, kept alive while it runs
  {prefix}/hosts/{host}             each host's heartbeat: when it was last seen, what it applied

`cronsync exec` imports this only for a `run_on: "one"` job: no imports at module level.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds on exec's path: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Sequence

# Claims are kept this long after their slot (so that a machine back from days off does not run a
# time another ran), and at most this many slots back (so that a job every few seconds stays small).
CLAIMS_KEPT_SECONDS = 35 * 86400
CLAIMS_KEPT_SLOTS = 2000
CLAIMS_KEPT_AT_LEAST = 86400


def installs(hosts: Sequence[str] | None, host: str) -> bool:
    """Whether the machine named `host` installs a job whose `hosts` are these (None: every machine)."""
    return hosts is None or host in hosts


def failover_wait(hosts: Sequence[str] | None, host: str, failover_delay: float) -> float:
    """How long this host waits before it claims a slot: `failover_delay` for each host before it in the
    job's order of preference (0: the first, or a job of every host, claims at once)."""
    if hosts is None or host not in hosts:
        return 0.0
    return list(hosts).index(host) * float(failover_delay)


def slot_name(epoch: int) -> str:
    """A scheduled instant as its slot's name: UTC, to the second, so that names sort by time."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def claims_prefix(prefix: str, job_id: str) -> str:
    return f"{prefix}/claims/{job_id}/"


def claim_key(prefix: str, job_id: str, slot: str) -> str:
    return f"{claims_prefix(prefix, job_id)}{slot}"


def running_key(prefix: str, job_id: str) -> str:
    return f"{prefix}/running/{job_id}"


def hosts_prefix(prefix: str) -> str:
    return f"{prefix}/hosts/"


def host_key(prefix: str, host: str) -> str:
    return f"{hosts_prefix(prefix)}{host}"


def oldest_kept(slot: int, previous: int | None) -> int:
    """The earliest slot whose claim is still kept when `slot` is claimed; `previous` is the slot before
    it (None: none found), which tells how often the job runs."""
    period = slot - previous if previous is not None else CLAIMS_KEPT_SECONDS
    kept = min(CLAIMS_KEPT_SECONDS, max(CLAIMS_KEPT_AT_LEAST, period * CLAIMS_KEPT_SLOTS))
    return slot - kept


def heartbeat(
    host: str, now: float, config_digest: str | None, settings_digest: str | None, version: str
) -> dict[str, object]:
    """A host's heartbeat: when it was last seen, and the digests of the jobs.json and settings.json it
    runs (hosts with different jobs.json digests run different jobs: that is how runs get lost)."""
    return {
        "host": host,
        "last_seen": round(now, 3),
        "config_digest": config_digest,
        "settings_digest": settings_digest,
        "version": version,
    }
