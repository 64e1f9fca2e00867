"""The fleet as this host sees it: its fleet settings and etcd client, what it reads of the other hosts
(heartbeats, claimed runs), the heartbeat `apply` writes, and the checks `doctor` makes.

Used by `fleet status`, `history --fleet`, `doctor` and `apply`; never by `cronsync exec`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cronsync import CronsyncError, __version__
from cronsync.adapters.etcd import Client, EtcdError, client_from_fleet
from cronsync.core.fleet import claims_prefix, heartbeat, host_key, hosts_prefix, running_key
from cronsync.core.fleetview import claims, clock_findings, drifted, heartbeats, json_object, settled
from cronsync.userspace.compiled import hex_digest, read_compiled, source_digests, source_key
from cronsync.userspace.paths import SECRETS_FILE, UserSpace, cli_for, host_name, read_sources_bytes
from cronsync.userspace.secrets import Secrets

SKEW_WARNING = 2.0  # seconds between this clock and etcd's (whose Date header is to the second)
NOT_CONFIGURED = (
    'no fleet is configured: settings.json has no "fleet"; add the etcd cluster this machine shares '
    'with the others, e.g. "fleet": {"etcd": ["http://10.0.0.2:2379"], "host": "nas"} (README: "Fleet")'
)
UNREACHABLE_FIX = "check that etcd runs there and that settings.json fleet.etcd lists its client URLs"


class FleetNotConfigured(CronsyncError):
    """A fleet command on a machine whose settings.json has no "fleet"."""


@dataclass
class Fleet:
    """This host in its fleet: the settings ("fleet" of settings.json, as validated), its name, its
    client, and the digest of the jobs.json it has now."""

    settings: dict[str, Any]
    host: str
    client: Client
    jobs_digest: str | None

    @property
    def prefix(self) -> str:
        return str(self.settings.get("prefix") or "/cronsync")

    @property
    def endpoints(self) -> str:
        return ", ".join(self.client.endpoints)

    def heartbeats(self) -> list[dict[str, Any]]:
        return heartbeats(self.client.range_prefix(hosts_prefix(self.prefix)))

    def claimed_runs(self, job_id: str, limit: int) -> list[dict[str, Any]]:
        """The well-formed ones of the job's newest `limit` claims (by slot, oldest first), a run its host
        no longer holds marked "interrupted"."""
        found = claims(self.client.range_prefix(claims_prefix(self.prefix, job_id), limit=limit))
        if not any(claim.get("status") == "running" for claim in found):
            return found
        held = self.client.get(running_key(self.prefix, job_id))
        holder = json_object(held) if held is not None else None
        return settled(found, holder, time.time(), float(self.settings.get("lease_ttl") or 10))


def _secret(space: UserSpace) -> Callable[[str], str | None]:
    """How the client looks the etcd user's password up: the environment, then secrets.env."""
    return Secrets(space.path(SECRETS_FILE)).get


def fleet_of(space: UserSpace, settings: Mapping[str, Any] | None) -> Fleet | None:
    """This host's Fleet from settings.json's validated "fleet" (None: no fleet configured)."""
    if settings is None:
        return None
    client = client_from_fleet(settings, _secret(space))
    return Fleet(dict(settings), host_name(settings.get("host")), client, source_digests(space)[0])


def configured_fleet(space: UserSpace, settings: Mapping[str, Any] | None) -> Fleet:
    """fleet_of, or FleetNotConfigured saying how to configure one."""
    fleet = fleet_of(space, settings)
    if fleet is None:
        raise FleetNotConfigured(NOT_CONFIGURED)
    return fleet


def unreachable(exc: EtcdError) -> EtcdError:
    """The client's error, with what to check."""
    return EtcdError(f"{exc}; {UNREACHABLE_FIX}")


# --- the heartbeat -------------------------------------------------------------------------------------


def write_heartbeat(space: UserSpace) -> str | None:
    """After a successful apply: {prefix}/hosts/{host} with the digests of the jobs.json and settings.json
    applied (those the compiled cache was made from). A warning when etcd cannot take it (the apply
    stands); None when it was written or no fleet is configured."""
    jobs_bytes, settings_bytes = read_sources_bytes(space)
    compiled = read_compiled(space, source_key(space, jobs_bytes or b"", settings_bytes))
    settings = (compiled or {}).get("settings", {}).get("fleet")
    if compiled is None or not isinstance(settings, dict):
        return None
    host = host_name(settings.get("host"))
    jobs_digest, settings_digest = hex_digest(jobs_bytes), hex_digest(settings_bytes)
    beat = heartbeat(host, time.time(), jobs_digest, settings_digest, __version__)  # as exec's says
    try:
        client = client_from_fleet(settings, _secret(space))
        try:
            client.put(host_key(str(settings.get("prefix") or "/cronsync"), host), json.dumps(beat).encode())
        finally:
            client.close()
    except CronsyncError as exc:  # etcd unreachable or refusing, or the password cannot be read
        return f"fleet: this host's heartbeat was not written to etcd ({exc}); the apply stands"
    return None


# --- doctor ----------------------------------------------------------------------------------------------

Check = tuple[str, Literal["ok", "warning", "error"], str, str | None]  # (check, level, message, fix)


def fleet_checks(space: UserSpace, settings: Mapping[str, Any] | None) -> list[Check]:
    """etcd's reachability, this clock against etcd's and the other hosts' heartbeats, config drift;
    none without a fleet."""
    try:
        fleet = fleet_of(space, settings)
    except CronsyncError as exc:  # the password: named but not defined, or secrets.env unreadable
        return [("etcd", "error", str(exc), f"define it in {space.path(SECRETS_FILE)} (mode 0600)")]
    if fleet is None:
        return []
    try:
        before = time.time()
        status = fleet.client.status()
        after = time.time()
        beats = fleet.heartbeats()
    except CronsyncError as exc:
        return [("etcd", "error", str(exc), UNREACHABLE_FIX)]
    finally:
        fleet.client.close()
    version = status.get("version", "?")
    checks: list[Check] = [("etcd", "ok", f"etcd {version} answers at {fleet.endpoints}", None)]
    checks.append(_skew_check(fleet, (before + after) / 2))
    etcd_now = fleet.client.server_time()
    ahead = clock_findings(beats, etcd_now + 1 if etcd_now is not None else time.time(), fleet.host)
    if ahead:
        listed = ", ".join(f"{host} ({seconds:.0f}s ahead)" for host, seconds in ahead)
        checks.append(
            (
                "fleet clocks",
                "warning",
                f"hosts whose last heartbeat is later than etcd's clock: {listed}",
                "on each, keep the clock synchronized: sudo timedatectl set-ntp true",
            )
        )
    checks.append(_drift_check(space, fleet, beats))
    return checks


def _skew_check(fleet: Fleet, local_now: float) -> Check:
    server = fleet.client.server_time()
    if server is None:
        return ("clock", "warning", "etcd's answer carried no Date: its clock cannot be compared", None)
    skew = local_now - (server + 0.5)  # the Date is the second the answer was made in
    if abs(skew) <= SKEW_WARNING:
        return ("clock", "ok", f"this clock is within {SKEW_WARNING:.0f}s of etcd's ({skew:+.1f}s)", None)
    side = "ahead of" if skew > 0 else "behind"
    return (
        "clock",
        "warning",
        f"this clock is {abs(skew):.0f}s {side} etcd's: timers fire at the wrong time for the fleet, and "
        "failover delays and leases are measured wrong",
        "keep the clock synchronized: sudo timedatectl set-ntp true",
    )


def _drift_check(space: UserSpace, fleet: Fleet, beats: list[dict[str, Any]]) -> Check:
    others = drifted(beats, fleet.jobs_digest, fleet.host)
    mine = next((beat for beat in beats if beat["host"] == fleet.host), None)
    if others:
        return (
            "fleet config",
            "warning",
            f"hosts that applied a different jobs.json than this host's: {', '.join(others)} (runs of "
            'run_on "one" jobs can be doubled or lost)',
            f"ship the same jobs.json to every host, then run {cli_for(space)} apply on each",
        )
    if mine is None:
        return (
            "fleet config",
            "warning",
            f"this host ({fleet.host}) has no heartbeat in etcd: it has not applied since joining the fleet",
            f"{cli_for(space)} apply",
        )
    return ("fleet config", "ok", f"{len(beats)} host(s) applied the same jobs.json", None)
