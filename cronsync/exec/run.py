"""The vocabulary of one run, shared by every part of `cronsync exec`: the Run, its Outcome, ExecError.

A leaf: it imports nothing of cronsync.exec. Import-light: loaded on every run.
"""

from __future__ import annotations

import os
import sys
import time

from cronsync import JOB_CONFIG, JOB_TIMEOUT, CronsyncError
from cronsync.adapters.process import Capture, job_environment
from cronsync.userspace.paths import SECRETS_FILE, UserSpace

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from typing import Any

    from cronsync.exec.claim import Claim
    from cronsync.userspace.secrets import Secrets

    Job = dict[str, Any]
    Settings = dict[str, Any]

TRIGGERS = ("timer", "manual")
REPLACED_EXIT = 128 + 15  # what a job stopped by SIGTERM exits with: a replaced run's exit code
REPLACED_MARGIN_SECONDS = 0.05  # an attempt stopped this close to the next scheduled time was stopped for it


class ExecError(CronsyncError):
    """The run cannot go ahead; `exit_code` says why (78: job missing or invalid)."""

    exit_code = JOB_CONFIG

    def __init__(self, message: str, exit_code: int = JOB_CONFIG, log: dict[str, Any] | None = None) -> None:
        super().__init__(message, exit_code)
        self.log = log  # the log settings, when they could be read: where and how to log this failure


def say(message: str) -> None:
    print(f"cronsync exec: {message}", file=sys.stderr, flush=True)


class Outcome:
    """What a run produced: status, exit code, captured output, and cronsync's own error if any."""

    def __init__(self, capture_bytes: int) -> None:
        self.status = "success"
        self.exit_code = 0
        self.stdout = Capture(capture_bytes)
        self.stderr = Capture(capture_bytes)
        self.error: str | None = None
        self.pings: list[dict[str, Any]] | None = None  # a job's healthcheck pings (exec/healthcheck.py)

    def replaced(self) -> None:
        """Stopped because the job's next scheduled run is due (overlap: replace, exec/retry.py)."""
        self.status, self.exit_code = "replaced", REPLACED_EXIT
        self.error = (
            "replaced: the next scheduled run was due while this one still ran; its process group was "
            "stopped (overlap: replace)"
        )
        say(self.error)

    def fail(self, message: str, exit_code: int, *, timed_out: bool = False) -> None:
        self.status = "timeout" if timed_out else "failure"
        self.exit_code = JOB_TIMEOUT if timed_out else exit_code
        self.error = message
        say(message)


class Run:
    def __init__(self, space: UserSpace, job: Job, settings: Settings, trigger: str) -> None:
        self.space = space
        self.job = job
        self.settings = settings
        self.trigger = trigger
        self.started = time.time()
        self.clock = time.monotonic()
        self.run_id = new_run_id(self.started)
        self.waited: float | None = None  # seconds the run waited for the previous one (overlap: queue)
        self.record_fields: dict[str, Any] = {}  # added to the run's log record (the fleet's slot, say)
        self.triggered = self.started  # when exec began: its slot's time, whatever the run waits for
        self.claim: Claim | None = None  # run_on "one": this host's claim of the slot (exec/claim.py)
        # issue #16's run policies (exec/retry.py, exec/groups.py); None for a job without them
        self.group_waited: float | None = None  # seconds it waited for a place in its group
        self.attempts: list[dict[str, Any]] | None = None  # each attempt of a job with `retries`
        self.attempt_clock: float | None = None  # when the current attempt began (monotonic)
        self.stop_at: float | None = None  # overlap: replace: the next scheduled run's time (monotonic)
        self.replaced: str | None = None  # the run id of the run this one replaced
        self._secrets: Secrets | None = None

    @property
    def log_settings(self) -> dict[str, Any]:
        log: dict[str, Any] = self.settings["log"]
        return log

    def secrets(self) -> Secrets:
        """Created (and secrets.env read) only when a run needs it: the module imports `re`."""
        if self._secrets is None:
            from cronsync.userspace.secrets import Secrets

            self._secrets = Secrets(self.space.path(SECRETS_FILE))
        return self._secrets

    def redact(self, text: str) -> str:
        """`text` without any secret this run has used or secrets.env holds (a job may print one too)."""
        if self._secrets is None:
            if not os.path.exists(self.space.path(SECRETS_FILE)):
                return text  # no secrets, and no import of `re` for them
            self._read_secrets_quietly()
        assert self._secrets is not None
        return self._secrets.redactor()(text)

    def _read_secrets_quietly(self) -> None:
        """secrets.env's values, to be hidden; a file refused as unsafe was not used by this run, and is
        refused (exit 78) by the first run that needs it."""
        from cronsync.userspace.secrets import SecretsError

        try:  # noqa: SIM105 - contextlib costs exec an import
            self.secrets().file_values()
        except SecretsError:
            pass

    def environment(self) -> dict[str, str]:
        extra = dict(self.job["payload"].get("env") or {})
        extra.update(
            CRONSYNC_JOB_ID=self.job["id"],
            CRONSYNC_RUN_ID=self.run_id,
            CRONSYNC_TRIGGER=self.trigger,
            CRONSYNC_USER_DIR=self.space.root_str,
        )
        return job_environment(extra)

    def deadline(self) -> float | None:
        """When the current attempt must end (monotonic): its timeout, or the run replacing it."""
        timeout = self.job.get("timeout")
        began = self.clock if self.attempt_clock is None else self.attempt_clock
        ends = [began + float(timeout)] if timeout else []
        if self.stop_at is not None:
            ends.append(self.stop_at)
        return min(ends) if ends else None

    def due_to_be_replaced(self) -> bool:
        """Whether the next scheduled run is due (overlap: replace): an attempt stopped now is replaced."""
        return self.stop_at is not None and time.monotonic() >= self.stop_at - REPLACED_MARGIN_SECONDS

    def own_limits(self) -> dict[str, Any] | None:
        """The job's limits its processes set themselves (under cron: exec/limits.py); None without any."""
        if not self.job.get("limits"):
            return None
        from cronsync.exec.limits import own_limits

        return own_limits(self.job)

    def attempt_timeout(self) -> float | None:
        """Seconds the current attempt may still take (None: no bound)."""
        deadline = self.deadline()
        return None if deadline is None else max(deadline - time.monotonic(), 0.01)


def iso_time(epoch: float) -> str:
    """Local time in ISO 8601 with milliseconds and the UTC offset (datetime costs an import)."""
    local = time.localtime(epoch)
    offset_minutes = local.tm_gmtoff // 60
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    millis = int(epoch % 1 * 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', local)}.{millis:03d}{sign}{hours:02d}:{minutes:02d}"


def new_run_id(epoch: float) -> str:
    """Sortable and unique: local start time and 6 random hex digits."""
    return f"{time.strftime('%Y%m%dT%H%M%S', time.localtime(epoch))}-{os.urandom(3).hex()}"


def needs_secrets(run: Run) -> bool:
    agent = run.settings.get("agent") or {}
    uses_key = run.job["action"] == "agent_workflow" and bool(agent.get("api_key_env"))
    etcd_password = run.job.get("run_on") == "one" and bool(
        (run.settings.get("fleet") or {}).get("password_env")
    )
    return (
        uses_key or etcd_password or bool(run.job["notify"]["gateways"]) or bool(run.job.get("healthcheck"))
    )


def check_secrets_file(run: Run) -> None:
    """Refuse an unsafe secrets.env before the job runs, not half-way (after it ran, at notify time)."""
    if not needs_secrets(run):
        return
    from cronsync.userspace.secrets import SecretsError

    try:
        run.secrets().file_values()
    except SecretsError as exc:
        raise ExecError(str(exc)) from None
