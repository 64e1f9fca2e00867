"""Finding the job to run: its record in the compiled cache, or (on a miss) jobs.json validated again.

With a current cache this reads the cache's header and the job's own line (`Compiled.find`), and
stats jobs.json and settings.json: its cost does not grow with the number of jobs.
"""

from __future__ import annotations

from cronsync.exec.run import ExecError, say
from cronsync.userspace.compiled import CacheMiss, open_compiled, source_key
from cronsync.userspace.paths import JOBS_FILE, UserSpace
from cronsync.userspace.sources import SourcesError, read_sources_signed

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from cronsync.exec.run import Job, Settings
    from cronsync.userspace.compiled import Compiled
    from cronsync.userspace.sources import Signature


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
    return config.compiled_job(job), loaded.settings.model_dump(mode="json")
