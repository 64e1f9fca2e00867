"""After an apply: one healthchecks check per job through the Management API v3 (settings.json
"healthchecks"), with the job's schedule, zone and grace (`cronsync.core.provision`).

A disabled job's check is paused, an enabled job's paused check resumed, and the checks this jobs.json
made (slug `cronsync-<id>`, tag `cronsync`, `desc` naming this jobs.json) of jobs gone from it paused.
Failures are warnings: the timers are installed either way, and the next apply tries again.
"""

from __future__ import annotations

import json
from typing import Any

from cronsync.adapters.crontab import local_timezone
from cronsync.adapters.healthchecks import HealthchecksError, ManagementApi
from cronsync.core.ids import job_id
from cronsync.core.provision import TAG, check_payload, checks_to_pause, slug
from cronsync.userspace.compiled import read_compiled, source_key
from cronsync.userspace.paths import SECRETS_FILE, UserSpace, read_sources_bytes
from cronsync.userspace.secrets import Secrets, SecretsError


def provision(space: UserSpace) -> tuple[list[dict[str, Any]], list[str]] | None:
    """(one result per check, warnings); None when settings.json has no "healthchecks"."""
    jobs_bytes, settings_bytes = read_sources_bytes(space)
    compiled = read_compiled(space, source_key(space, jobs_bytes or b"", settings_bytes))
    wanted = (compiled or {}).get("settings", {}).get("healthchecks")
    if compiled is None or not isinstance(wanted, dict):
        return None
    secrets = Secrets(space.path(SECRETS_FILE))
    name = str(wanted["api_key_env"])
    try:
        key = secrets.get(name)
    except SecretsError as exc:
        return [], [f"healthchecks: {exc}"]
    if not key:
        return [], [
            f"healthchecks: ${{{name}}} is not set; "
            f"define it in the environment or in {space.path(SECRETS_FILE)}"
        ]
    api = ManagementApi(str(wanted["api_url"]), key)
    redact = secrets.redactor()
    results: list[dict[str, Any]] = []
    zone = local_timezone()
    for job in compiled["jobs"].values():
        results.append(_provision_job(api, job, zone, str(space.jobs_file), redact))
    results.extend(_pause_gone(api, _slugs_of_every_job(jobs_bytes), str(space.jobs_file), redact))
    warnings = [f"healthchecks: {r['check']}: {r['error']}" for r in results if not r["ok"]]
    return results, warnings


def _provision_job(
    api: ManagementApi, job: dict[str, Any], zone: str | None, jobs_file: str, redact: Any
) -> dict[str, Any]:
    payload = check_payload(job, zone, jobs_file)
    result: dict[str, Any] = {"id": job["id"], "check": slug(str(job["id"])), "ok": True}
    if payload is None:
        return {**result, "action": "skipped", "detail": "@reboot has no schedule to check against"}
    try:
        created, check = api.upsert(payload)
        result["action"] = "created" if created else "updated"
        uuid = str(check.get("uuid", ""))
        if not job.get("enabled", True) and check.get("status") != "paused" and uuid:
            api.pause(uuid)
            result["action"] += ", paused"
        elif job.get("enabled", True) and check.get("status") == "paused" and uuid:
            api.resume(uuid)
            result["action"] += ", resumed"
    except HealthchecksError as exc:
        return {**result, "ok": False, "action": "failed", "error": redact(str(exc))}
    return result


def _slugs_of_every_job(jobs_bytes: bytes | None) -> set[str]:
    """The checks of every job of jobs.json (valid: apply just installed it), those another host of a
    fleet runs too: compiled.json holds only this machine's."""
    return {slug(job_id(str(job["name"]))) for job in json.loads(jobs_bytes or b"[]")}


def _pause_gone(api: ManagementApi, wanted: set[str], jobs_file: str, redact: Any) -> list[dict[str, Any]]:
    try:
        listed = api.checks(TAG)
    except HealthchecksError as exc:
        return [
            {"id": None, "check": "(listing)", "ok": False, "action": "failed", "error": redact(str(exc))}
        ]
    results = []
    for check in checks_to_pause(listed, wanted, jobs_file):
        result: dict[str, Any] = {"id": None, "check": check.get("slug"), "ok": True, "action": "paused"}
        try:
            api.pause(str(check.get("uuid", "")))
        except HealthchecksError as exc:
            result.update(ok=False, action="failed", error=redact(str(exc)))
        results.append(result)
    return results
