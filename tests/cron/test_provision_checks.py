"""settings.json "healthchecks": apply creates or updates one check per job through a local server that
follows healthchecks' Management API v3, idempotently, and pauses the checks of disabled and removed jobs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.support.cli import cronsync_in
from tests.support.exectools import clean_tmp_job, write_secrets
from tests.support.harness import CronDaemon
from tests.support.httpsink import Answer, HttpSink, Request
from tests.support.userspaces import write_jobs

API_KEY = "hcw_k3y-0f-the-pr0ject-991"
CHECK_FIELDS = ("name", "slug", "tags", "desc", "schedule", "tz", "grace")


class ManagementApi:
    """The part of healthchecks' Management API v3 cronsync uses: create (with "unique"), list by tag,
    pause, resume; X-Api-Key authenticates."""

    def __init__(self) -> None:
        self.checks: dict[str, dict[str, Any]] = {}

    def __call__(self, request: Request) -> Answer:
        if request.headers.get("X-Api-Key") != API_KEY:
            return self._json(401, {"error": "missing api key"})
        path = request.path.removeprefix("/api/v3/")
        if request.method == "POST" and path == "checks/":
            return self._upsert(request.json())
        if request.method == "GET" and path.startswith("checks/?tag="):
            tag = path.split("=", 1)[1]
            return self._json(200, {"checks": [c for c in self.checks.values() if tag in c["tags"].split()]})
        parts = path.split("/")
        if request.method == "POST" and len(parts) == 3 and parts[1] in self.checks:
            self.checks[parts[1]]["status"] = {"pause": "paused", "resume": "new"}[parts[2]]
            return self._json(200, self.checks[parts[1]])
        return self._json(404, {"error": "not found"})

    def _upsert(self, body: dict[str, Any]) -> Answer:
        unique = body.get("unique", [])
        for check in self.checks.values():
            if unique and all(check.get(field) == body.get(field) for field in unique):
                check.update({field: body[field] for field in CHECK_FIELDS if field in body})
                return self._json(200, check)
        key = str(uuid.uuid4())
        check = {field: body[field] for field in CHECK_FIELDS if field in body}
        self.checks[key] = {**check, "uuid": key, "status": "new", "ping_url": f"https://hc-ping.com/{key}"}
        return self._json(201, self.checks[key])

    @staticmethod
    def _json(status: int, body: object) -> Answer:
        return status, json.dumps(body).encode(), {"Content-Type": "application/json"}

    def by_slug(self) -> dict[str, dict[str, Any]]:
        return {check["slug"]: check for check in self.checks.values()}


def test_apply_provisions_one_check_per_job_and_pauses_what_is_gone(
    stopped_cron: CronDaemon, user_dir: Path
) -> None:
    api = ManagementApi()
    with HttpSink() as server:
        server.handler = api
        settings = {"healthchecks": {"api_url": f"{server.url}/api/v3/", "api_key_env": "HC_API_KEY"}}
        (user_dir / "config" / "settings.json").write_text(json.dumps(settings))
        write_secrets(user_dir, f"HC_API_KEY={API_KEY}\n")
        jobs = [
            clean_tmp_job("Often", "*/5 * * * *", random_delay="5m", timeout="10m"),
            clean_tmp_job("Resting", "0 3 * * *", enabled=False),
            clean_tmp_job("At Boot", "@reboot"),
        ]
        write_jobs(user_dir, jobs)
        first = cronsync_in(stopped_cron, user_dir, "apply", "--backend", "crontab", "--json")
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert {(r["check"], r["action"]) for r in report["healthchecks"]} == {
            ("cronsync-often", "created"),
            ("cronsync-resting", "created, paused"),
            ("cronsync-at-boot", "skipped"),
        }
        checks = api.by_slug()
        assert set(checks) == {"cronsync-often", "cronsync-resting"}
        often = checks["cronsync-often"]
        assert (often["name"], often["schedule"], often["tags"]) == ("Often", "*/5 * * * *", "cronsync")
        assert often["grace"] == 300 + 1 + 600 + 60 and often["tz"]
        assert checks["cronsync-resting"]["status"] == "paused"

        again = json.loads(
            cronsync_in(stopped_cron, user_dir, "apply", "--backend", "crontab", "--json").stdout
        )
        assert {r["check"]: r["action"] for r in again["healthchecks"]}["cronsync-often"] == "updated"
        assert len(api.checks) == 2  # idempotent: keyed by slug

        write_jobs(user_dir, jobs[1:])
        removed = json.loads(
            cronsync_in(stopped_cron, user_dir, "apply", "--backend", "crontab", "--json").stdout
        )
        assert ("cronsync-often", "paused") in {(r["check"], r["action"]) for r in removed["healthchecks"]}
        assert api.by_slug()["cronsync-often"]["status"] == "paused" and len(api.checks) == 2
        outputs = first.stdout + first.stderr + json.dumps(again) + json.dumps(removed)
        assert API_KEY not in outputs


def test_apply_pauses_only_its_own_jobs_checks(stopped_cron: CronDaemon, user_dir: Path) -> None:
    """A check of another user space in the same project, and one of a job of this jobs.json that only
    another host of the fleet runs, are not this apply's to pause; a removed job's check is."""
    api = ManagementApi()
    with HttpSink() as server:
        server.handler = api
        settings = {
            "healthchecks": {"api_url": f"{server.url}/api/v3/", "api_key_env": "HC_API_KEY"},
            "fleet": {"etcd": [f"{server.url}/etcd"], "host": "laptop", "timeout": "1s"},
        }
        (user_dir / "config" / "settings.json").write_text(json.dumps(settings))
        write_secrets(user_dir, f"HC_API_KEY={API_KEY}\n")
        jobs = [clean_tmp_job("Here"), clean_tmp_job("On The Nas", hosts=["nas"]), clean_tmp_job("Gone")]
        write_jobs(user_dir, jobs)
        jobs_file = user_dir / "config" / "jobs.json"
        for slug, desc in (
            ("cronsync-on-the-nas", f"cronsync job on-the-nas from {jobs_file}"),
            ("cronsync-gone", f"cronsync job gone from {jobs_file}"),
            ("cronsync-theirs", "cronsync job theirs from /home/other/USER/config/jobs.json"),
        ):
            api._upsert({"name": slug, "slug": slug, "tags": "cronsync", "desc": desc, "unique": ["slug"]})
        write_jobs(user_dir, jobs[:2])
        applied = cronsync_in(stopped_cron, user_dir, "apply", "--backend", "crontab", "--json")
        assert applied.returncode == 0, applied.stderr
        report = json.loads(applied.stdout)
        assert {(r["check"], r["action"]) for r in report["healthchecks"]} == {
            ("cronsync-here", "created"),
            ("cronsync-gone", "paused"),
        }
        status = {slug: check["status"] for slug, check in api.by_slug().items()}
        assert status == {
            "cronsync-here": "new",
            "cronsync-on-the-nas": "new",
            "cronsync-gone": "paused",
            "cronsync-theirs": "new",
        }


def test_a_refusing_api_is_a_warning_and_the_schedules_are_installed(
    stopped_cron: CronDaemon, user_dir: Path
) -> None:
    with HttpSink() as server:
        server.default = (401, b'{"error": "wrong api key"}', {"Content-Type": "application/json"})
        settings_file = user_dir / "config" / "settings.json"
        settings = json.loads(settings_file.read_text())
        settings["healthchecks"] = {"api_url": f"{server.url}/api/v3/", "api_key_env": "HC_API_KEY"}
        settings_file.write_text(json.dumps(settings))
        write_secrets(user_dir, f"HC_API_KEY={API_KEY}\n")
        applied = cronsync_in(stopped_cron, user_dir, "apply", "--backend", "crontab")
        assert applied.returncode == 0, applied.stderr
        assert "warning: healthchecks: cronsync-clean-temp-files: POST checks: HTTP 401" in applied.stderr
        assert "exec clean-temp-files" in stopped_cron.crontab()
        assert API_KEY not in applied.stdout + applied.stderr
        (user_dir / "config" / "secrets.env").unlink()
        unset = cronsync_in(stopped_cron, user_dir, "apply", "--backend", "crontab")
        assert "warning: healthchecks: ${HC_API_KEY} is not set" in unset.stderr
