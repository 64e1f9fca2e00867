"""One run of one job, as `cronsync exec` does it: find the job, lock, run, notify, log, emit the event.

Import-light on purpose: with a current USER/state/compiled.json, nothing here imports pydantic,
click, apprise or an HTTP client unless the job needs it.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time

from cronsync import fastjson
from cronsync.compiled import read_compiled, source_key
from cronsync.paths import (
    EVENTS_FILE,
    JOBS_FILE,
    LOG_FILE,
    SECRETS_FILE,
    SETTINGS_FILE,
    UserSpace,
    lock_name,
)
from cronsync.runlog import LogWriteError, append_json_line
from cronsync.runner import (
    EXIT_CONFIG,
    EXIT_SKIPPED,
    EXIT_TIMEOUT,
    Capture,
    StartError,
    job_environment,
    run_process,
    script_command,
)

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from cronsync.secretenv import Secrets

    Job = dict[str, Any]
    Settings = dict[str, Any]

TRIGGERS = ("timer", "manual")
HOOK_TIMEOUT_SECONDS = 60
FAILURE_TAIL_BYTES = 1500


class ExecError(Exception):
    """The run cannot go ahead; `exit_code` says why (78: job missing or invalid)."""

    def __init__(self, message: str, exit_code: int = EXIT_CONFIG, log: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.log = log  # the log settings, when they could be read: where and how to log this failure


def say(message: str) -> None:
    print(f"cronsync exec: {message}", file=sys.stderr, flush=True)


# --- finding the job ----------------------------------------------------------------------------


def load_job(space: UserSpace, name_or_id: str) -> tuple[Job, Settings]:
    """The job (compiled.json form) and the settings, from the cache when it matches the sources."""
    jobs_bytes = _read(space.path(JOBS_FILE))
    if jobs_bytes is None:
        raise ExecError(f"no jobs.json at {space.path(JOBS_FILE)}; create a user space with `cronsync init`")
    settings_bytes = _read(space.path(SETTINGS_FILE))
    compiled = read_compiled(space, source_key(space, jobs_bytes, settings_bytes))
    if compiled is None:
        return _load_job_slowly(space, name_or_id, jobs_bytes, settings_bytes)
    jobs: dict[str, Job] = compiled["jobs"]
    job = jobs.get(name_or_id) or next((j for j in jobs.values() if j.get("name") == name_or_id), None)
    if job is None:
        known = [str(j.get("id")) for j in jobs.values()]
        raise ExecError(_missing(space, name_or_id, known), log=compiled["settings"].get("log"))
    return job, compiled["settings"]


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ExecError(f"cannot read {path}: {exc.strerror}") from None


def _missing(space: UserSpace, name_or_id: str, known: list[str]) -> str:
    listed = ", ".join(sorted(known)) or "none"
    return (
        f"no job {name_or_id!r} in {space.path(JOBS_FILE)} (jobs: {listed}); if it was just removed, "
        "`cronsync apply` removes its timer"
    )


def _load_job_slowly(
    space: UserSpace, name_or_id: str, jobs_bytes: bytes, settings_bytes: bytes | None
) -> tuple[Job, Settings]:
    """Cache miss: validate with pydantic. Run this job if it is valid even when others are not."""
    from cronsync import config
    from cronsync.core.errors import InvalidInput
    from cronsync.core.ids import job_id

    try:
        loaded, problems = config.parse_config(space, jobs_bytes, settings_bytes)
    except InvalidInput as exc:
        raise ExecError("invalid configuration:\n" + "\n".join(f"  {p}" for p in exc.problems)) from None
    if not problems:
        config.write_compiled(loaded)
    settings_problems = [p for p in problems if p.file == str(space.settings_file)]
    job = loaded.find(name_or_id)
    wanted = job.id if job is not None else job_id(name_or_id)
    own = [p for p in problems if p.job_name is not None and job_id(p.job_name) == wanted]
    unattributed = [p for p in problems if p.job_name is None and p.file == str(space.jobs_file)]
    blocking = settings_problems + own + (unattributed if job is None else [])
    if blocking:
        raise ExecError(f"job {name_or_id!r} cannot run:\n" + "\n".join(f"  {p}" for p in blocking))
    if job is None:
        raise ExecError(_missing(space, name_or_id, [j.id for j in loaded.jobs]))
    if problems:
        say(
            f"warning: other jobs in {space.jobs_file} have problems (run `cronsync validate`); "
            f"running {job.name!r}"
        )
    return config.compiled_job(job), loaded.settings.model_dump(mode="json")


def default_log_settings() -> dict[str, Any]:
    """Log settings when settings.json could not be read (error paths only: imports pydantic)."""
    from cronsync.core.settings import LogSettings

    return LogSettings().model_dump()


# --- one run ------------------------------------------------------------------------------------


class Outcome:
    """What a run produced: status, exit code, captured output, and cronsync's own error if any."""

    def __init__(self, capture_bytes: int) -> None:
        self.status = "success"
        self.exit_code = 0
        self.stdout = Capture(capture_bytes)
        self.stderr = Capture(capture_bytes)
        self.error: str | None = None

    def fail(self, message: str, exit_code: int, *, timed_out: bool = False) -> None:
        self.status = "timeout" if timed_out else "failure"
        self.exit_code = EXIT_TIMEOUT if timed_out else exit_code
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
        self._secrets: Secrets | None = None

    @property
    def log_settings(self) -> dict[str, Any]:
        log: dict[str, Any] = self.settings["log"]
        return log

    def secrets(self) -> Secrets:
        """Created (and secrets.env read) only when a run needs it: the module imports `re`."""
        if self._secrets is None:
            from cronsync.secretenv import Secrets

            self._secrets = Secrets(self.space.path(SECRETS_FILE))
        return self._secrets

    def redact(self, text: str) -> str:
        """`text` without any secret this run has used (nothing to hide if it used none)."""
        return self._secrets.redactor()(text) if self._secrets is not None else text

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
        timeout = self.job.get("timeout")
        return self.clock + float(timeout) if timeout else None


def script_plan(run: Run) -> tuple[list[str], str, dict[str, str]]:
    """argv, working directory and environment of a script job; ExecError when it cannot start."""
    payload = run.job["payload"]
    try:
        script = run.space.script_path(payload["path"])
    except ValueError as exc:
        raise ExecError(f"job {run.job['name']!r}, payload.path: {exc}") from None
    env = run.environment()
    try:
        argv = script_command(
            script, payload.get("args") or [], python=run.settings.get("python"), path_value=env["PATH"]
        )
    except StartError as exc:
        raise ExecError(str(exc)) from None
    return argv, working_dir(run), env


def working_dir(run: Run) -> str:
    """payload.working_dir (`~` expanded, relative to USER), else the home directory."""
    chosen = run.job["payload"].get("working_dir")
    if not chosen:
        return os.path.expanduser("~")
    folder = os.path.join(run.space.root_str, os.path.expanduser(chosen))
    if not os.path.isdir(folder):
        raise ExecError(f"job {run.job['name']!r}, payload.working_dir: {folder} is not a directory")
    return folder


def run_script(run: Run, outcome: Outcome) -> None:
    argv, cwd, env = script_plan(run)
    timeout = run.job.get("timeout")
    try:
        result = run_process(
            argv, cwd=cwd, env=env, timeout=timeout, capture_bytes=run.log_settings["capture_bytes"]
        )
    except StartError as exc:
        raise ExecError(str(exc)) from None
    outcome.stdout, outcome.stderr = result.stdout, result.stderr
    if result.timed_out:
        outcome.fail(
            f"timed out after {timeout}s; its process group was stopped", EXIT_TIMEOUT, timed_out=True
        )
    elif result.exit_code != 0:
        outcome.status, outcome.exit_code = "failure", result.exit_code


def needs_secrets(run: Run) -> bool:
    agent = run.settings.get("agent") or {}
    uses_key = run.job["action"] == "agent_workflow" and bool(agent.get("api_key_env"))
    return uses_key or bool(run.job["notify"]["gateways"])


def check_secrets_file(run: Run) -> None:
    """Refuse an unsafe secrets.env before the job runs, not half-way (after it ran, at notify time)."""
    if not needs_secrets(run):
        return
    from cronsync.secretenv import SecretsError

    try:
        run.secrets().file_values()
    except SecretsError as exc:
        raise ExecError(str(exc)) from None


# --- locking --------------------------------------------------------------------------------------


def acquire_lock(space: UserSpace, job_id: str, policy: str) -> int | None:
    """The held lock's fd, or None when the previous run still holds it and the policy is skip."""
    path = space.path(lock_name(job_id))
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        hint = " (a symlink: cronsync never follows one here)" if os.path.islink(path) else ""
        raise ExecError(f"cannot open the lock {path}: {exc.strerror}{hint}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if policy != "queue":
            os.close(fd)
            return None
        say("the previous run is still running; waiting for it (overlap: queue)")
        fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


# --- after the run ------------------------------------------------------------------------------


def should_notify(job: Job, outcome: Outcome) -> bool:
    when = job["notify"]["on"]
    if not job["notify"]["gateways"] or outcome.status == "skipped" or when == "never":
        return False
    if when == "always":
        return True
    if when == "failure":
        return outcome.status in ("failure", "timeout")
    return bool(outcome.stdout.text().strip())  # "output"


def message(job: Job, outcome: Outcome) -> str:
    """`<Job name>: <output>`; a failure names the exit code and the tail of stderr."""
    name = job["name"]
    output = outcome.stdout.text().strip()
    if outcome.status == "success":
        return f"{name}: {output or 'done (no output)'}"
    what = "timed out" if outcome.status == "timeout" else f"failed with exit code {outcome.exit_code}"
    parts = [f"{name}: {what}"]
    if outcome.error:
        parts.append(outcome.error)
    stderr_tail = outcome.stderr.tail_text(FAILURE_TAIL_BYTES).strip()
    if stderr_tail:
        parts.append(stderr_tail)
    elif output:
        parts.append(outcome.stdout.tail_text(FAILURE_TAIL_BYTES).strip())
    return "\n".join(parts)


def send_notifications(run: Run, outcome: Outcome) -> list[dict[str, Any]]:
    from cronsync.adapters.notify import notify_gateways

    results = notify_gateways(
        run.job["notify"]["gateways"],
        run.settings.get("gateways") or {},
        run.redact(message(run.job, outcome)),
        failed=outcome.status != "success",
        secrets=run.secrets(),
    )
    for result in results:
        if not result["ok"]:
            say(f"notification failed: {result['error']} (attempts: {result['attempts']})")
    return results


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
        excerpt=run.redact(outcome.stdout.excerpt(excerpt_bytes)),
    )
    if outcome.stderr.total:
        record["stderr_excerpt"] = run.redact(outcome.stderr.tail_text(excerpt_bytes))
    if outcome.error:
        record["error"] = run.redact(outcome.error)
    if notifications:
        record["notifications"] = notifications
    return record


def write_record(
    space: UserSpace, record: dict[str, Any], log: Mapping[str, Any], hook: list[str] | None
) -> None:
    """The run's line in scheduler.log, its job_completed event, and the hook if configured."""
    limits = {"max_bytes": log["max_bytes"], "keep": log["keep"]}
    event = {"event": "job_completed", **record}
    for path, line in ((space.path(LOG_FILE), record), (space.path(EVENTS_FILE), event)):
        try:
            append_json_line(path, line, **limits)
        except LogWriteError as exc:
            say(str(exc))
    if hook:
        run_hook(hook, event)


def run_hook(argv: list[str], event: dict[str, Any]) -> None:
    import tempfile

    with tempfile.TemporaryFile() as stdin:
        stdin.write(fastjson.dumps(event).encode() + b"\n")
        stdin.seek(0)
        try:
            result = run_process(
                argv,
                cwd=os.path.expanduser("~"),
                env=job_environment({}),
                timeout=HOOK_TIMEOUT_SECONDS,
                capture_bytes=4096,
                stdin=stdin,
            )
        except StartError as exc:
            say(f"hooks.job_completed: {exc}")
            return
    if result.timed_out or result.exit_code != 0:
        say(
            f"hooks.job_completed {argv[0]!r} failed (exit {result.exit_code}); the run's status is unchanged"
        )


# --- the whole thing ----------------------------------------------------------------------------


def execute(space: UserSpace, name_or_id: str, *, trigger: str | None, dry_run: bool) -> int:
    started, clock = time.time(), time.monotonic()
    try:
        job, settings = load_job(space, name_or_id)
    except ExecError as exc:
        say(f"error: {exc}")
        if not dry_run:
            log_unrunnable(space, name_or_id, trigger or "timer", exc, started, clock)
        return exc.exit_code
    if trigger is None:
        trigger = "manual" if not dry_run and space.consume_run_request(job["id"]) else "timer"
    run = Run(space, job, settings, trigger)
    run.started, run.clock = started, clock
    if dry_run:
        from cronsync.dryrun import describe

        try:
            print(describe(run))
        except ExecError as exc:
            say(f"error: {exc}")
            return exc.exit_code
        return 0
    return execute_run(run)


def execute_run(run: Run) -> int:
    outcome = Outcome(run.log_settings["capture_bytes"])
    lock_fd = None
    try:
        check_secrets_file(run)
        lock_fd = acquire_lock(run.space, run.job["id"], run.job.get("overlap", "skip"))
        if lock_fd is None:
            outcome.status, outcome.exit_code = "skipped", EXIT_SKIPPED
            outcome.error = "skipped: the previous run is still running (overlap: skip)"
            say(outcome.error)
        elif run.job["action"] == "agent_workflow":
            from cronsync.agentjob import run_agent

            run_agent(run, outcome)
        else:
            run_script(run, outcome)
    except ExecError as exc:
        outcome.fail(f"error: {exc}", exc.exit_code)
    notifications = send_notifications(run, outcome) if should_notify(run.job, outcome) else []
    record = record_run(run, outcome, notifications)
    write_record(run.space, record, run.log_settings, (run.settings.get("hooks") or {}).get("job_completed"))
    if lock_fd is not None:
        os.close(lock_fd)
    return int(outcome.exit_code)


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
    write_record(space, record, error.log or default_log_settings(), None)
