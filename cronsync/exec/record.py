"""After the run: notify the gateways, write the run's record (scheduler.log), its event, run the hook."""

from __future__ import annotations

import os
import time

from cronsync.adapters.process import (
    DRAIN_AFTER_EXIT_SECONDS,
    KILL_GRACE_SECONDS,
    StartError,
    job_environment,
    run_process,
)
from cronsync.exec.run import ExecError, Outcome, Run, iso_time, new_run_id, say
from cronsync.userspace import fastjson
from cronsync.userspace.paths import EVENTS_FILE, LOG_FILE, UserSpace
from cronsync.userspace.runlog import LogWriteError, append_json_line

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from cronsync.adapters.process import Redact
    from cronsync.exec.run import Job

HOOK_TIMEOUT_SECONDS = 10  # hooks.timeout's default (core/settings.py): exec must not import the schema
FAILURE_TAIL_BYTES = 1500


def should_notify(job: Job, outcome: Outcome) -> bool:
    when = job["notify"]["on"]
    if not job["notify"]["gateways"] or outcome.status == "skipped" or when == "never":
        return False
    if when in ("always", "change"):
        return True  # "change": send_notifications asks the log whether this run changed anything
    if when == "failure":
        return outcome.status in ("failure", "timeout")
    return bool(outcome.stdout.text().strip())  # "output"


def message(job: Job, outcome: Outcome, redact: Redact) -> str:
    """`<Job name>: <output>`; a failure names the exit code and the tail of stderr. Output is redacted
    before it is cut, then the whole message again (the error, the name)."""
    return redact(_message(job, outcome, redact))


def _message(job: Job, outcome: Outcome, redact: Redact) -> str:
    name = job["name"]
    output = outcome.stdout.text(redact).strip()
    if outcome.status == "success":
        return f"{name}: {output or 'done (no output)'}"
    what = {"timeout": "timed out", "replaced": "was replaced by the next scheduled run"}.get(
        outcome.status, f"failed with exit code {outcome.exit_code}"
    )
    parts = [f"{name}: {what}"]
    if outcome.error:
        parts.append(outcome.error)
    stderr_tail = outcome.stderr.tail_text(FAILURE_TAIL_BYTES, redact).strip()
    if stderr_tail:
        parts.append(stderr_tail)
    elif output:
        parts.append(outcome.stdout.tail_text(FAILURE_TAIL_BYTES, redact).strip())
    return "\n".join(parts)


def send_notifications(run: Run, outcome: Outcome) -> list[dict[str, Any]]:
    body = (
        change_message(run, outcome)
        if run.job["notify"]["on"] == "change"
        else message(run.job, outcome, run.redact)
    )
    if body is None:
        return []
    from cronsync.adapters.notify import notify_gateways

    results = notify_gateways(
        run.job["notify"]["gateways"],
        run.settings.get("gateways") or {},
        body,
        failed=outcome.status != "success",
        secrets=run.secrets(),
    )
    for result in results:
        if not result["ok"]:
            say(f"notification failed: {result['error']} (attempts: {result['attempts']})")
    return results


def change_message(run: Run, outcome: Outcome) -> str | None:
    """`notify.on: "change"`: the message of the first failure after a success, or of the first
    success after failures ("Backup: recovered after 3 failures"); None when nothing changed."""
    from cronsync.exec.change import failures_before

    before = failures_before(run)
    if outcome.status in ("failure", "timeout"):
        return message(run.job, outcome, run.redact) if before == 0 else None
    if outcome.status == "success" and before:
        plural = "" if before == 1 else "s"
        return run.redact(f"{run.job['name']}: recovered after {before} failure{plural}")
    return None


def make_record(
    run_id: str, job_id: str, job_name: str, trigger: str, started: float, clock: float
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "job_id": job_id,
        "job_name": job_name,
        "trigger": trigger,
        "start": iso_time(started),
        "end": iso_time(time.time()),
        "duration": round(time.monotonic() - clock, 3),
    }


def record_run(run: Run, outcome: Outcome, notifications: list[dict[str, Any]]) -> dict[str, Any]:
    excerpt_bytes = run.log_settings["excerpt_bytes"]
    record = make_record(run.run_id, run.job["id"], run.job["name"], run.trigger, run.started, run.clock)
    record.update(
        status=outcome.status,
        exit_code=outcome.exit_code,
        output_bytes=outcome.stdout.total + outcome.stderr.total,
        excerpt=outcome.stdout.excerpt(excerpt_bytes, run.redact),
    )
    if outcome.stderr.total:
        record["stderr_excerpt"] = outcome.stderr.tail_text(excerpt_bytes, run.redact)
    if outcome.error:
        record["error"] = run.redact(outcome.error)
    if run.waited is not None:
        record["waited"] = run.waited
    if run.group_waited is not None:
        record["group_waited"] = run.group_waited
    if run.attempts is not None:
        record["attempts"] = run.attempts
    if run.replaced is not None:
        record["replaced"] = run.replaced
    record.update(run.record_fields)
    if notifications:
        record["notifications"] = notifications
    if outcome.pings is not None:
        record["healthcheck"] = outcome.pings
    return record


def bare_record(run: Run, outcome: Outcome) -> dict[str, Any]:
    """The run's record without its output (when making the full one failed)."""
    record = make_record(run.run_id, run.job["id"], run.job["name"], run.trigger, run.started, run.clock)
    record.update(status=outcome.status, exit_code=outcome.exit_code, output_bytes=0, excerpt="")
    record["error"] = outcome.error
    return record


def write_record(space: UserSpace, record: dict[str, Any], log: Mapping[str, Any]) -> dict[str, Any]:
    """The run's line in scheduler.log and its job_completed event (returned, for the hook)."""
    limits = {"max_bytes": log["max_bytes"], "keep": log["keep"]}
    event = {"event": "job_completed", **record}
    for path, line in ((space.path(LOG_FILE), record), (space.path(EVENTS_FILE), event)):
        try:
            append_json_line(path, line, **limits)
        except LogWriteError as exc:
            say(str(exc))
    return event


def hook_seconds(run: Run) -> float:
    """How long the hook may keep exec after the run (0: no hook): its timeout, then the kill."""
    hooks = run.settings.get("hooks") or {}
    if not hooks.get("job_completed"):
        return 0.0
    return float(hooks.get("timeout") or HOOK_TIMEOUT_SECONDS) + KILL_GRACE_SECONDS + DRAIN_AFTER_EXIT_SECONDS


def run_hook(hooks: Mapping[str, Any], event: dict[str, Any]) -> None:
    """hooks.job_completed with the event on stdin, in its own process group, stopped (the whole
    group) after hooks.timeout."""
    argv = hooks.get("job_completed")
    if not argv:
        return
    import tempfile

    timeout = float(hooks.get("timeout") or HOOK_TIMEOUT_SECONDS)
    with tempfile.TemporaryFile() as stdin:
        stdin.write(fastjson.dumps(event).encode() + b"\n")
        stdin.seek(0)
        try:
            result = run_process(
                argv,
                cwd=os.path.expanduser("~"),
                env=job_environment({}),
                timeout=timeout,
                capture_bytes=4096,
                stdin=stdin,
            )
        except StartError as exc:
            say(f"hooks.job_completed: {exc}")
            return
    if result.timed_out:
        say(
            f"hooks.job_completed {argv[0]!r} ran longer than {timeout:g}s (hooks.timeout) and was stopped; "
            "the run's status is unchanged"
        )
    elif result.exit_code != 0:
        say(
            f"hooks.job_completed {argv[0]!r} failed (exit {result.exit_code}); the run's status is unchanged"
        )


def log_unrunnable(
    space: UserSpace,
    name_or_id: str,
    trigger: str,
    error: ExecError,
    started: float,
    clock: float,
) -> None:
    """A run that never found a valid job is still logged (job_id derived from what was asked)."""
    from cronsync.core.ids import job_id

    run_id = new_run_id(started)
    record = make_record(run_id, job_id(name_or_id) or name_or_id, name_or_id, trigger, started, clock)
    record.update(status="failure", exit_code=error.exit_code, output_bytes=0, excerpt="", error=str(error))
    write_record(space, record, error.log or default_log_settings())


def default_log_settings() -> dict[str, Any]:
    """Log settings when settings.json could not be read (error paths only: imports pydantic)."""
    from cronsync.core.settings import LogSettings

    return LogSettings().model_dump()
