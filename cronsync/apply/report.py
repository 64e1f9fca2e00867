"""What an apply did, per job and in all: the report `cronsync apply` prints (and its --json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from cronsync.core.plan import Action, BackendName


def iso_from_usec(usec: int) -> str | None:
    """A systemd timestamp (µs since the epoch; 0 for none) as ISO 8601 in UTC."""
    if usec <= 0:
        return None
    return datetime.fromtimestamp(usec / 1_000_000, UTC).isoformat(timespec="seconds")


@dataclass
class JobReport:
    """The outcome of apply for one job."""

    job_id: str
    name: str | None
    action: Action
    ok: bool
    detail: str = ""
    next_elapse_usec: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.job_id,
            "name": self.name,
            "action": self.action,
            "ok": self.ok,
            "detail": self.detail,
            "next_run": iso_from_usec(self.next_elapse_usec),
        }


@dataclass
class ApplyReport:
    backend: BackendName
    jobs: list[JobReport]
    files_written: list[str] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)
    reloaded: bool = False
    warnings: list[str] = field(default_factory=list)
    stopped_runs: list[str] = field(default_factory=list)  # removed jobs whose running run was stopped
    healthchecks: list[dict[str, object]] | None = (
        None  # provisioning's results (settings.json "healthchecks")
    )

    @property
    def ok(self) -> bool:
        return all(job.ok for job in self.jobs)

    @property
    def changed(self) -> bool:
        return bool(self.files_written or self.files_deleted or self.reloaded) or any(
            job.action != "unchanged" for job in self.jobs
        )

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "ok": self.ok,
            "backend": self.backend,
            "changed": self.changed,
            "reloaded": self.reloaded,
            "files_written": self.files_written,
            "files_deleted": self.files_deleted,
            "jobs": [job.to_json() for job in self.jobs],
            "warnings": self.warnings,
            "stopped_runs": self.stopped_runs,
        }
        if self.healthchecks is not None:
            data["healthchecks"] = self.healthchecks
        return data
