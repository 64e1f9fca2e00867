"""`cronsync exec`'s whole run (find the job, lock, run it, notify, log) and its entry point.

`fast_main` is called by `cronsync/__main__.py` before click is imported: this is on every run's path.
Anything it does not understand (--help, a bad option) it leaves to the click command in
`cronsync.commands.exec`, for the usual help and usage errors. This is one of the two places where an
error becomes an exit code (the other is `cronsync.cli`).
"""

from __future__ import annotations

import os
import time

from cronsync.core.exits import JOB_SKIPPED
from cronsync.exec.job import load_job
from cronsync.exec.record import (
    log_unrunnable,
    record_run,
    send_notifications,
    should_notify,
    write_record,
)
from cronsync.exec.run import ExecError, Outcome, Run, check_secrets_file, say
from cronsync.userspace.files import lock, open_error
from cronsync.userspace.paths import UserSpace, lock_name, user_dir_path
from cronsync.userspace.runrequests import consume_run_request


def fast_main(argv: list[str]) -> int | None:
    """argv: `[--user-dir DIR | --user-dir=DIR] exec <job> [--dry-run] [--trigger timer|manual]`; None
    when they are not that (--help, a usage error): then click has them, for its help and messages."""
    parsed = parse_argv(argv)
    if parsed is None:
        return None
    user_dir, job, dry_run, trigger = parsed
    _ensure_standard_fds()
    return main(UserSpace(user_dir_path(user_dir)), job, trigger=trigger, dry_run=dry_run)


def main(space: UserSpace, name_or_id: str, *, trigger: str | None, dry_run: bool) -> int:
    """One run, its exit code; an error nobody expected is reported as a bug, and the run still logged."""
    try:
        return execute(space, name_or_id, trigger=trigger, dry_run=dry_run)
    except Exception as exc:
        from cronsync.userspace.bugreport import report_bug

        return report_bug(exc, space.root_str, "cronsync exec")


def _ensure_standard_fds() -> None:
    """cron or a careless caller may start us with fd 0, 1 or 2 closed; a pipe would then take that
    number and be lost to the job. Fill any gap with /dev/null (os.open returns the lowest free fd)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)


def parse_argv(argv: list[str]) -> tuple[str | None, str, bool, str | None] | None:
    """The arguments, or None when click should handle them (help, usage errors)."""
    rest = list(argv)
    user_dir = None
    if rest and rest[0] == "--user-dir" and len(rest) > 1:
        user_dir, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith("--user-dir="):
        user_dir, rest = rest[0].partition("=")[2], rest[1:]
    if not rest or rest[0] != "exec":
        return None
    job, dry_run, trigger = None, False, None
    args = iter(rest[1:])
    for arg in args:
        if arg == "--dry-run":
            dry_run = True
        elif arg == "--trigger" or arg.startswith("--trigger="):
            trigger = arg.partition("=")[2] if "=" in arg else next(args, "")
            if trigger not in ("timer", "manual"):
                return None
        elif arg == "--":
            job = next(args, None) if job is None else None
            if job is None or next(args, None) is not None:
                return None
        elif arg.startswith("-") or job is not None:
            return None
        else:
            job = arg
    return None if job is None else (user_dir, job, dry_run, trigger)


def acquire_lock(space: UserSpace, job_id: str, policy: str) -> int | None:
    """The held lock's fd, or None when the previous run still holds it and the policy is skip."""
    path = space.path(lock_name(job_id))
    try:
        fd = lock(path, wait=False)
        if fd is None and policy == "queue":
            say("the previous run is still running; waiting for it (overlap: queue)")
            fd = lock(path)
    except OSError as exc:
        raise ExecError(open_error(path, exc, "the lock")) from None
    return fd


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
        trigger = "manual" if not dry_run and consume_run_request(space, job["id"]) else "timer"
    run = Run(space, job, settings, trigger)
    run.started, run.clock = started, clock
    if dry_run:
        from cronsync.exec.dryrun import describe

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
            outcome.status, outcome.exit_code = "skipped", JOB_SKIPPED
            outcome.error = "skipped: the previous run is still running (overlap: skip)"
            say(outcome.error)
        elif run.job["action"] == "agent_workflow":
            from cronsync.exec.agent import run_agent

            run_agent(run, outcome)
        else:
            from cronsync.exec.script import run_script

            run_script(run, outcome)
    except ExecError as exc:
        outcome.fail(f"error: {exc}", exc.exit_code)
    notifications = send_notifications(run, outcome) if should_notify(run.job, outcome) else []
    record = record_run(run, outcome, notifications)
    write_record(run.space, record, run.log_settings, (run.settings.get("hooks") or {}).get("job_completed"))
    if lock_fd is not None:
        os.close(lock_fd)
    return int(outcome.exit_code)
