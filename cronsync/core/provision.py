"""What `apply` asks healthchecks' Management API v3 for: one check per job, with the job's own schedule.

Pure: built from the jobs as compiled.json holds them. A check is keyed by its slug, `cronsync-<id>`
(sent with `"unique": ["slug"]`, so re-applying updates it instead of adding another); its grace is
the job's random delay + accuracy + timeout + GRACE_MARGIN_SECONDS, so a run late within what the job
allows is not reported down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cronsync.core.schedule import Schedule, crontab_expression, on_calendar, parse

TAG = "cronsync"
SLUG_PREFIX = "cronsync-"
GRACE_MARGIN_SECONDS = 60
MIN_GRACE_SECONDS = 60  # the API's lower bound


def slug(job_id: str) -> str:
    return f"{SLUG_PREFIX}{job_id}"


def grace(job: Mapping[str, Any]) -> int:
    seconds = int(job.get("random_delay") or 0) + int(job.get("accuracy") or 1)
    seconds += int(job.get("timeout") or 0) + GRACE_MARGIN_SECONDS
    return max(seconds, MIN_GRACE_SECONDS)


def check_payload(job: Mapping[str, Any], local_zone: str | None, jobs_file: str) -> dict[str, Any] | None:
    """The check of one job (compiled.json form); None for an @reboot or @every job, which has no times
    a monitor could expect."""
    if job.get("cron") is None:
        return None  # runs after other jobs' runs: no times of its own
    schedule = parse(str(job["cron"]))
    if schedule.is_reboot or schedule.every_seconds:
        return None
    return {
        "name": job["name"],
        "slug": slug(str(job["id"])),
        "tags": TAG,
        "desc": description(str(job["id"]), jobs_file),
        "schedule": _schedule_text(schedule),
        "tz": job.get("timezone") or local_zone or "UTC",
        "grace": grace(job),
        "unique": ["slug"],
    }


def _schedule_text(schedule: Schedule) -> str:
    """The cron expression when cron can say it, else the OnCalendar= lines (healthchecks reads both, one
    OnCalendar expression per line; the zone goes in `tz`)."""
    if schedule.special_days or schedule.seconds != frozenset({0}):
        return "\n".join(on_calendar(schedule))
    return crontab_expression(schedule)


def description(job_id: str, jobs_file: str) -> str:
    """A check's `desc`: which job of which jobs.json it watches (whose apply may pause it)."""
    return f"cronsync job {job_id} from {jobs_file}"


def checks_to_pause(
    listed: Iterable[Mapping[str, Any]], wanted: set[str], jobs_file: str
) -> list[Mapping[str, Any]]:
    """Checks this jobs.json made (tag, slug and `desc`) for jobs it no longer has, not already paused:
    another user space's checks in the same project, or those of jobs another host of a fleet runs,
    are left alone."""
    return [
        check
        for check in listed
        if str(check.get("slug", "")).startswith(SLUG_PREFIX)
        and check.get("slug") not in wanted
        and check.get("desc") == description(str(check["slug"]).removeprefix(SLUG_PREFIX), jobs_file)
        and check.get("status") != "paused"
    ]
