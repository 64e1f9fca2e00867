"""`cronsync exec`'s whole run (find the job, lock, run it, notify, log) and its entry point.

Finding the job: with a current cache this reads the cache's header and the job's own line
(`Compiled.find`) and stats jobs.json and settings.json, so its cost does not grow with the number
of jobs; on a miss jobs.json is validated again (pydantic, imported only then).

`fast_main` is called by `cronsync/__main__.py` before click is imported: this is on every run's path.
Anything it does not understand (--help, a bad option) it leaves to the click command in
`cronsync.commands.exec`, for the usual help and usage errors. This is one of the two places where an
error becomes an exit code (the other is `cronsync.cli`).
"""

from __future__ import annotations

import os
import time

from cronsync import BUG, JOB_SKIPPED
from cronsync.exec import overlap
from cronsync.exec.record import (
    bare_record,
    hook_seconds,
    log_unrunnable,
    record_run,
    run_hook,
    send_notifications,
    should_notify,
    write_record,
)
from cronsync.exec.run import ExecError, Outcome, Run, check_secrets_file, say
from cronsync.userspace.compiled import CacheMiss, open_compiled, source_key
from cronsync.userspace.paths import (
    JOBS_FILE,
    SourcesError,
    UserSpace,
    read_sources_signed,
    user_dir_path,
)

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from cronsync.exec.overlap import JobLock
    from cronsync.exec.run import Job, Settings
    from cronsync.userspace.compiled import Compiled
    from cronsync.userspace.paths import Signature


def fast_main(argv: list[str]) -> int | None:
    """argv: `[--user-dir DIR | --user-dir=DIR] exec <job> [--dry-run] [--trigger T] [--guard]`, T one of
    timer, manual, after:<job id>, on_failure:<job id> (a run another job's run started under cron);
    None when they are not that (--help, a usage error): then click has them, for its help and messages."""
    parsed = parse_argv(argv)
    if parsed is None:
        return None
    user_dir, job, dry_run, trigger, guard = parsed
    _ensure_standard_fds()
    return main(UserSpace(user_dir_path(user_dir)), job, trigger=trigger, dry_run=dry_run, guard=guard)


def main(
    space: UserSpace, name_or_id: str, *, trigger: str | None, dry_run: bool, guard: bool = False
) -> int:
    """One run, its exit code; an error nobody expected is reported as a bug, and the run still logged."""
    try:
        return execute(space, name_or_id, trigger=trigger, dry_run=dry_run, guard=guard)
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


def parse_argv(argv: list[str]) -> tuple[str | None, str, bool, str | None, bool] | None:
    """The arguments, or None when click should handle them (help, usage errors)."""
    rest = list(argv)
    user_dir = None
    if rest and rest[0] == "--user-dir" and len(rest) > 1:
        user_dir, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith("--user-dir="):
        user_dir, rest = rest[0].partition("=")[2], rest[1:]
    if not rest or rest[0] != "exec":
        return None
    job, dry_run, trigger, guard = None, False, None, False
    args = iter(rest[1:])
    for arg in args:
        if arg == "--dry-run":
            dry_run = True
        elif arg == "--guard":
            guard = True
        elif arg == "--trigger" or arg.startswith("--trigger="):
            trigger = arg.partition("=")[2] if "=" in arg else next(args, "")
            if not valid_trigger(trigger):
                return None
        elif arg == "--":
            job = next(args, None) if job is None else None
            if job is None or next(args, None) is not None:
                return None
        elif arg.startswith("-") or job is not None:
            return None
        else:
            job = arg
    return None if job is None else (user_dir, job, dry_run, trigger, guard)


_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def valid_trigger(trigger: str) -> bool:
    """timer, manual, or `after:<job id>` / `on_failure:<job id>` (no `re`: this is on every run's path)."""
    if trigger in ("timer", "manual"):
        return True
    kind, _, source = trigger.partition(":")
    return kind in ("after", "on_failure") and bool(source) and set(source) <= _ID_CHARACTERS


def execute(
    space: UserSpace, name_or_id: str, *, trigger: str | None, dry_run: bool, guard: bool = False
) -> int:
    started, clock = time.time(), time.monotonic()
    if trigger is None and "MONITOR_UNIT" in os.environ:  # systemd started it: OnSuccess= / OnFailure=
        from cronsync.exec.chain import monitor_trigger

        trigger = monitor_trigger(os.environ)
        if trigger == "":
            return 0  # the run that started it was skipped, not a success (exec/chain.py said so)
    try:
        job, settings = load_job(space, name_or_id)
        if guard and trigger != "manual" and not dry_run and not scheduled_now(job, started):
            return 0  # a crontab entry's extra fire: not one of the job's times, so nothing happens
        if trigger is None:
            requested = None if dry_run else space.consume_run_request(job["id"])
            trigger = requested if requested is not None and valid_trigger(requested) else "timer"
        run = Run(space, job, settings, trigger)
    except ExecError as exc:
        say(f"error: {exc}")
        if not dry_run:
            log_unrunnable(space, name_or_id, trigger or "timer", exc, started, clock)
        return exc.exit_code
    except Exception as exc:  # a bug: reported, and the run still logged
        line = _report_bug(space, exc)
        if not dry_run:
            log_unrunnable(space, name_or_id, trigger or "timer", ExecError(line, BUG), started, clock)
        return BUG
    run.started, run.triggered, run.clock = started, started, clock
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
    held = None
    try:
        held = run_job(run, outcome)
    except ExecError as exc:
        outcome.fail(f"error: {exc}", exc.exit_code)
    except Exception as exc:  # a bug: reported, and the run still logged as a failure
        outcome.fail(_bug_line(run.space, exc, run), BUG)
    finally:
        if held is not None:
            held.job_ended()
    if run.claim is not None:
        run.claim.finish(outcome)
    try:
        notifications = send_notifications(run, outcome) if should_notify(run.job, outcome) else []
    except Exception as exc:  # a bug in notifying: the job's own status and exit code stand
        line = _report_bug(run.space, exc, run)
        outcome.error = f"{outcome.error}\n{line}" if outcome.error else line
        notifications = []
    if outcome.pings is not None:
        from cronsync.exec.healthcheck import ping_end

        outcome.pings.append(ping_end(run, outcome))
    try:
        record = record_run(run, outcome, notifications)
    except Exception as exc:
        outcome.fail(_bug_line(run.space, exc, run), BUG)
        record = bare_record(run, outcome)
    event = write_record(run.space, record, run.log_settings)
    if held is not None:
        ran = None if outcome.status == "skipped" else (run.started, time.time())
        held.release(ran, run.run_id if outcome.status == "replaced" else None)
    if "next" in run.job and outcome.status != "skipped":  # after / on_failure: only jobs that have them
        from cronsync.exec.chain import start_next

        start_next(run, outcome.status == "success")
    run_hook(run.settings.get("hooks") or {}, event)  # the next run need not wait for it
    return int(outcome.exit_code)


def scheduled_now(job: Job, now: float) -> bool:
    """Whether this minute is one of the job's times (`--guard`: its crontab entry fires on a superset of
    them, since cron cannot say L, W, #, or a job timezone). cron starts an entry at second 0 of the
    minute it fires for; exec starts within that minute."""
    match = job.get("guard")
    if match is None:  # @reboot or @every: no times of the wall clock to check
        return True
    from cronsync.exec.guard import fires_at

    return fires_at(match, now)


def run_job(run: Run, outcome: Outcome) -> JobLock | None:
    """Run the job (or record the skip); the job's locks while they are held."""
    check_secrets_file(run)
    held = overlap.acquire(run.space, run.job["id"], run.job.get("overlap", "skip"))
    if isinstance(held, str):
        _skip(outcome, held)
        return None
    policy = run.job.get("overlap", "skip")
    try:
        if held.waited:  # the run itself starts now (overlap: queue, replace)
            run.waited, run.started, run.clock = round(held.waited, 3), time.time(), time.monotonic()
        elif run.trigger == "timer" and policy == "skip":
            reason = overlap.missed_while_running(run.job, held.previous, time.time(), hook_seconds(run))
            if reason is not None:
                _skip(outcome, reason)
                return held
        if policy == "replace":
            run.replaced = held.previous_replaced
            if held.stopped_leftovers:
                run.record_fields["stopped_leftovers"] = held.stopped_leftovers
        if run.job.get("group") and not _join_group(run, outcome, held, policy):
            return held
        if run.job.get("run_on") == "one" and run.trigger == "timer" and not _claimed(run, outcome):
            return held
        held.hand_to_job()
        _ping_start(run, outcome)
        if policy == "replace" or run.job.get("retries"):
            from cronsync.exec.retry import run_attempts

            run_attempts(run, outcome, run_action)
        else:
            run_action(run, outcome)
    except BaseException:
        held.release(None)
        raise
    return held


def _claimed(run: Run, outcome: Outcome) -> bool:
    """run_on "one": whether this host runs the slot (it claimed it, or etcd is unreachable and
    fleet.when_unreachable is "run"); else the outcome says why not."""
    from cronsync.exec.claim import claim_slot

    run.claim = claim_slot(run, outcome)
    if run.claim is not None:
        run.claim.keep_alive()
    return outcome.status != "skipped"


def run_action(run: Run, outcome: Outcome) -> None:
    """One attempt of the job: its script, or its agent workflow."""
    if run.job["action"] == "agent_workflow":
        from cronsync.exec.agent import run_agent

        run_agent(run, outcome)
    else:
        from cronsync.exec.script import run_script

        run_script(run, outcome)


def _join_group(run: Run, outcome: Outcome, held: JobLock, policy: str) -> bool:
    """A place in the job's group for this run (False: skipped, the group is full)."""
    from cronsync.exec.groups import take_place

    place = take_place(run, policy)
    if isinstance(place, str):
        _skip(outcome, place)
        return False
    fd, waited = place
    held.inherited.append(fd)
    run.group_waited = round(waited, 3)
    if waited:  # the run itself starts now
        run.started, run.clock = time.time(), time.monotonic()
    return True


def _skip(outcome: Outcome, reason: str) -> None:
    outcome.status, outcome.exit_code, outcome.error = "skipped", JOB_SKIPPED, reason
    say(reason)


def _ping_start(run: Run, outcome: Outcome) -> None:
    """The healthcheck's /start, once the run holds its lock (only for a job with a healthcheck)."""
    if run.job.get("healthcheck"):
        from cronsync.exec.healthcheck import ping_start

        outcome.pings = [ping_start(run)]


def _bug_line(space: UserSpace, exc: Exception, run: Run | None = None) -> str:
    """The details of a bug kept in errors.log (without the run's secrets); the line saying so (never
    the error's own message)."""
    from cronsync.userspace.bugreport import keep_bug

    return keep_bug(exc, space.root_str, "cronsync exec", run.redact if run is not None else None)


def _report_bug(space: UserSpace, exc: Exception, run: Run | None = None) -> str:
    line = _bug_line(space, exc, run)
    say(line)
    return line


# --- finding the job: its record in the compiled cache, or (on a miss) jobs.json validated again ---


def load_job(space: UserSpace, name_or_id: str) -> tuple[Job, Settings]:
    """The job (compiled.json form) and the settings, from the cache when it is current: vouched for
    by the stat of the sources, else by their hash."""
    compiled = open_compiled(space)
    try:
        if compiled is None or not compiled.vouched(space):
            jobs_bytes, settings_bytes, signature = _read_sources(space)
            if compiled is None or compiled.key != source_key(space, jobs_bytes, settings_bytes):
                return _load_job_slowly(space, name_or_id, jobs_bytes, settings_bytes)
            compiled.refresh(space, signature)  # so that the next runs need not hash
        try:
            job = _find(compiled, name_or_id)
            known = list(compiled.records()) if job is None else []  # an error path: reads it all
        except CacheMiss:
            return _load_job_slowly(space, name_or_id, *_read_sources(space)[:2])
        if job is None:
            raise ExecError(_missing(space, name_or_id, known), log=compiled.settings.get("log"))
        return job, compiled.settings
    finally:
        if compiled is not None:
            compiled.close()


def _read_sources(space: UserSpace) -> tuple[bytes, bytes | None, Signature]:
    try:
        jobs_bytes, settings_bytes, signature = read_sources_signed(space)
    except SourcesError as exc:
        raise ExecError(str(exc)) from None
    if jobs_bytes is None:
        raise ExecError(f"no jobs.json at {space.path(JOBS_FILE)}; create a user space with `cronsync init`")
    return jobs_bytes, settings_bytes, signature


def _find(compiled: Compiled, name_or_id: str) -> Job | None:
    """The job with this id, else the job with this name (whose id is made from it); CacheMiss."""
    job = compiled.find(name_or_id)
    if job is not None:
        return job
    from cronsync.core.ids import job_id  # imports re: only for a name

    wanted = job_id(name_or_id)
    if wanted == name_or_id:
        return None
    job = compiled.find(wanted)
    return job if job is not None and job.get("name") == name_or_id else None


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
    from cronsync.core.chains import next_jobs, shared_targets

    starts = next_jobs(loaded.jobs)
    compiled = config.compiled_job(job, starts.get(job.id), shared_targets(starts))
    return compiled, loaded.settings.model_dump(mode="json")
