"""Load and check a user space's jobs.json and settings.json, reporting every problem at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cronsync.core.errors import InvalidInput, Problem
from cronsync.core.field_errors import did_you_mean
from cronsync.core.fleet import installs
from cronsync.core.ids import WATCH_ID, WATCH_ID_TAKEN
from cronsync.core.jobs import AgentJob, ScriptJob, validate_jobs_data
from cronsync.core.jsontext import format_loc, parse_json_text
from cronsync.core.schedule import parse as parse_schedule
from cronsync.core.schedule import to_match
from cronsync.core.settings import AGENT_BACKENDS, SETTINGS_ADAPTER, Settings, settings_error_message
from cronsync.userspace.compiled import current_signature, is_current, save_compiled, source_key
from cronsync.userspace.paths import UserSpace, host_name, read_sources_bytes

AnyJob = ScriptJob | AgentJob
RUN_ON_ONE_NEEDS_FLEET = (
    'run_on "one" needs settings.json "fleet" (the etcd cluster the machines claim each run in), e.g. '
    '"fleet": {"etcd": ["http://10.0.0.2:2379"]}; or run_on "each"'
)

GUARD = "guard"  # the compiled job's schedule as data (core/cronmatch.py), for `cronsync exec --guard`


@dataclass(frozen=True)
class Config:
    """A user space's valid jobs for this machine (`jobs`) and settings; `elsewhere`, the valid jobs whose
    `hosts` leave this machine out (validated all the same: every machine shares one jobs.json)."""

    space: UserSpace
    jobs: list[AnyJob]
    settings: Settings
    source_key: str
    elsewhere: tuple[AnyJob, ...] = ()

    def find(self, name_or_id: str) -> AnyJob | None:
        for job in self.jobs:
            if name_or_id in (job.id, job.name):
                return job
        return None


def read_sources(space: UserSpace) -> tuple[bytes, bytes | None]:
    """The raw bytes of jobs.json and settings.json (None when there is no settings.json)."""
    jobs_bytes, settings_bytes = read_sources_bytes(space)
    if jobs_bytes is None:
        raise InvalidInput(
            [Problem(str(space.jobs_file), "no jobs.json here; create a user space with `cronsync init`")]
        )
    return jobs_bytes, settings_bytes


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput([Problem(file, f"not UTF-8 text (byte {exc.start})")]) from None


def load_settings(space: UserSpace, settings_bytes: bytes | None) -> tuple[Settings, list[Problem]]:
    if settings_bytes is None:
        return Settings(), []
    file = str(space.settings_file)
    data, repeated = parse_json_text(_decode(settings_bytes, file), file)
    try:
        return SETTINGS_ADAPTER.validate_python(data), repeated
    except ValidationError as exc:
        return Settings(), repeated + [
            Problem(file, settings_error_message(err), field=_settings_field(err) or None)
            for err in exc.errors()
        ]


def _settings_field(err: Any) -> str:
    loc = list(err["loc"])
    if len(loc) > 1 and loc[0] == "agent" and loc[1] in AGENT_BACKENDS:
        del loc[1]  # the tag pydantic puts in the location of a tagged union's member
    return format_loc(loc)


def _script_errors(space: UserSpace, jobs: list[AnyJob]) -> dict[str, str]:
    """Why each refused script path is refused. Each distinct path is resolved once: many jobs often
    run the same script."""
    errors = {}
    for path in {job.payload.path for job in jobs if isinstance(job, ScriptJob)}:
        try:
            space.script_path(path)
        except ValueError as exc:
            errors[path] = str(exc)
    return errors


def _cross_problems(
    space: UserSpace, jobs: list[AnyJob], settings: Settings, data: list[Any]
) -> list[Problem]:
    """What only the user space can tell: scripts that exist, gateways and a fleet that are defined."""
    file = str(space.jobs_file)
    index_of: dict[str, int] = {}
    for i, raw in enumerate(data):
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            index_of.setdefault(raw["name"], i)
    script_errors = _script_errors(space, jobs)
    problems = []
    for job in jobs:
        index = index_of.get(job.name)
        if isinstance(job, ScriptJob) and job.payload.path in script_errors:
            problems.append(Problem(file, script_errors[job.payload.path], index, job.name, "payload.path"))
        if settings.watch is not None and job.id == WATCH_ID:
            problems.append(Problem(file, WATCH_ID_TAKEN, index, job.name, "name"))
        if job.run_on == "one" and settings.fleet is None:
            problems.append(Problem(file, RUN_ON_ONE_NEEDS_FLEET, index, job.name, "run_on"))
        listed = job.notify.gateways if job.notify is not None else []
        for gateway in job.effective_notify().gateways:
            if gateway not in settings.gateways:
                # name the field the user wrote the gateway in
                field = f"notify.gateways[{listed.index(gateway)}]" if gateway in listed else "payload.output"
                known = ", ".join(sorted(settings.gateways)) or "none yet"
                problems.append(
                    Problem(
                        file,
                        f"gateway {gateway!r} is not defined in settings.json 'gateways' (defined: {known})",
                        index,
                        job.name,
                        field,
                    )
                )
        if job.group is not None and job.group not in settings.groups:
            message = group_problem(job.group, settings.groups)
            problems.append(Problem(file, message, index, job.name, "group"))
    return problems


def group_problem(group: str, groups: Mapping[str, int]) -> str:
    """A job's `group` that settings.json does not define: the defined ones, or the closest of them."""
    known = ", ".join(sorted(groups)) or "none yet"
    hint = did_you_mean(group, groups)
    return (
        f"group {group!r} is not defined in settings.json 'groups' (defined: {known}){hint}; "
        f'add it with how many of its jobs may run at once, e.g. "groups": {{"{group}": 1}}'
    )


def check_jobs(space: UserSpace, settings: Settings, data: Any) -> tuple[list[AnyJob], list[Problem]]:
    """The valid jobs of data (jobs.json's array, or apply's list of the jobs that changed since it last
    ran) and every problem: each job on its own, then against the user space."""
    jobs, problems = validate_jobs_data(data, str(space.jobs_file))
    if isinstance(data, list):
        problems.extend(_cross_problems(space, jobs, settings, data))
    return jobs, problems


def parse_config(
    space: UserSpace, jobs_bytes: bytes, settings_bytes: bytes | None
) -> tuple[Config, list[Problem]]:
    """Every valid job and every problem, so that callers choose between strict and per-job use."""
    jobs_file = str(space.jobs_file)
    problems: list[Problem] = []
    try:
        settings, settings_problems = load_settings(space, settings_bytes)
    except InvalidInput as exc:
        settings, settings_problems = Settings(), exc.problems
    problems.extend(settings_problems)
    data, repeated = parse_json_text(_decode(jobs_bytes, jobs_file), jobs_file, jobs_array=True)
    jobs, job_problems = check_jobs(space, settings, data)
    problems.extend(repeated + job_problems)
    problems.sort(key=lambda p: (p.file != jobs_file, -1 if p.job_index is None else p.job_index))
    host = host_name(settings.fleet.host if settings.fleet is not None else None)
    here = [job for job in jobs if installs(job.hosts, host)]
    elsewhere = tuple(job for job in jobs if not installs(job.hosts, host))
    config = Config(space, here, settings, source_key(space, jobs_bytes, settings_bytes), elsewhere)
    return config, problems


def load_config(space: UserSpace) -> Config:
    """The whole user space, valid, or InvalidInput with every problem found."""
    jobs_bytes, settings_bytes = read_sources(space)
    config, problems = parse_config(space, jobs_bytes, settings_bytes)
    if problems:
        raise InvalidInput(problems)
    write_compiled(config)
    return config


NEXT = "next"  # the jobs a run starts: {"success": [ids], "failure": [ids]} (core/chains.py)
NEXT_SHARED = "next_shared"  # those of them that other jobs start too: exec starts them under systemd too
COMPUTED_KEYS = ("id", GUARD, NEXT, NEXT_SHARED)  # what compiled_job adds that jobs.json does not have


def compiled_job(
    job: AnyJob, starts: dict[str, list[str]] | None = None, shared: set[str] | None = None
) -> dict[str, Any]:
    """What `cronsync exec` needs of a job, as plain JSON: exec must not pay for importing pydantic.
    `starts`: the jobs its run starts (`next_jobs` of all the jobs), which exec starts under cron;
    `shared`: the jobs several jobs start (core/chains.shared_targets), which it starts under systemd."""
    data = job.model_dump(mode="json")
    data["id"] = job.id
    data["timeout"] = job.effective_timeout()
    data["notify"] = job.effective_notify().model_dump(mode="json")
    if job.limits is not None:
        data["limits"] = job.limits.model_dump(mode="json", exclude_none=True) or None
    if starts:
        data[NEXT] = starts
        data[NEXT_SHARED] = sorted({*starts["success"], *starts["failure"]} & (shared or set()))
    if job.cron is None:
        return data  # started only by other jobs' runs (`after`)
    schedule = parse_schedule(job.cron)
    if not schedule.is_reboot and not schedule.every_seconds:
        # The job's times as data, for exec: `--guard` (a crontab entry firing on a superset of them) and
        # the check for a timer re-fired after a long run (exec/overlap.py).
        data[GUARD] = to_match(schedule, job.timezone)
    return data


def write_compiled(config: Config) -> None:
    """Cache the validated config for exec, keyed by the bytes it came from, with the stat signature
    of jobs.json and settings.json if they still hold those bytes (stat'ed before they are read again:
    a signature only ever vouches for bytes checked to be the validated ones). Best effort."""
    space, key = config.space, config.source_key
    signature = current_signature(space, key)
    if is_current(space, key, signature):
        return
    from cronsync.core.chains import next_jobs, shared_targets

    starts = next_jobs(config.jobs)
    shared = shared_targets(starts)
    jobs = {job.id: compiled_job(job, starts.get(job.id), shared) for job in config.jobs}
    save_compiled(space, key, signature, jobs, config.settings.model_dump(mode="json"))


def last_valid_config(space: UserSpace) -> Config | None:
    """The configuration the compiled cache was made from: the last valid jobs.json and settings.json,
    for the commands that must go on while jobs.json has an error. None when there is no whole cache."""
    from cronsync.userspace.compiled import CacheMiss, open_compiled

    compiled = open_compiled(space)
    if compiled is None:
        return None
    with compiled:
        try:
            records, settings, key = compiled.records(), compiled.settings, compiled.key
        except CacheMiss:
            return None
    data = [{k: v for k, v in record.items() if k not in COMPUTED_KEYS} for record in records.values()]
    jobs, problems = validate_jobs_data(data, str(space.jobs_file))
    try:
        valid_settings = SETTINGS_ADAPTER.validate_python(settings)
    except ValidationError:
        return None
    return None if problems else Config(space, jobs, valid_settings, key)
