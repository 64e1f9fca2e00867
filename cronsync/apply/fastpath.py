"""Validate and render only the jobs that changed since the last successful systemd apply.

A successful systemd apply records a manifest (`cronsync.userspace.manifest`). The next apply with
the same base key validates and renders only the jobs whose JSON object it has no record of; every
other job keeps its installed unit files, when they still have the recorded sha256, and its
compiled.json entry. What spans jobs is checked over all of them again (distinct names and ids, every
script in place). On any problem, or anything the manifest cannot vouch for, all of jobs.json is
validated and rendered, so that every problem is reported. Either way the plan is carried out the
same: enable links, files newer than the manager's last load, and every timer's state are still
checked and repaired.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import cronsync
from cronsync.apply.target import installation_target
from cronsync.apply.unitfiles import read_installed
from cronsync.core import render
from cronsync.core.errors import InvalidInput
from cronsync.core.health import watch_schedule
from cronsync.core.ids import WATCH_ID, WATCHER_ID
from cronsync.core.jsontext import loads_unique
from cronsync.core.plan import (
    WATCHDOG,
    WATCHER,
    InstalledUnits,
    Plan,
    Scheduled,
    plan_units,
    unit_job_id,
    unit_names,
)
from cronsync.core.schedule import parse
from cronsync.resources import resource_dir, templates
from cronsync.userspace.compiled import read_compiled, source_key
from cronsync.userspace.manifest import MANIFEST_FORMAT, JobRecord, Manifest, read_manifest, sha256
from cronsync.userspace.paths import UserSpace

if TYPE_CHECKING:
    from cronsync.config import AnyJob, Config

# The code whose every file decides what is validated, rendered and compiled: the whole package.
CODE_ROOT = Path(cronsync.__file__).resolve().parent


def job_key(raw: object) -> str:
    """A digest of one job's JSON object as parsed: the layout of jobs.json around it does not count."""
    return sha256(json.dumps(raw).encode())


def base_key(space: UserSpace, target: render.Target, unit_dir: Path, settings_bytes: bytes | None) -> str:
    """A digest of every input of validating and rendering a job other than the job itself: cronsync's
    whole package (every module, so a renamed or added one counts too) and templates among them."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("format", MANIFEST_FORMAT.encode())
    add("version", cronsync.__version__.encode())
    add("user dir", space.root_str.encode())
    add("target", repr(target).encode())
    add("unit dir", str(unit_dir).encode())
    if settings_bytes is None:
        add("no settings.json", b"")
    else:
        add("settings.json", settings_bytes)
    for module in sorted(CODE_ROOT.rglob("*.py")):
        add(f"code {module.relative_to(CODE_ROOT)}", module.read_bytes())
    for template in sorted(resource_dir("templates").iterdir()):
        if template.is_file():
            add(f"template {template.name}", template.read_bytes())
    return digest.hexdigest()


def record_of(key: str, job: AnyJob) -> JobRecord:
    from cronsync.core.jobs import ScriptJob

    script = job.payload.path if isinstance(job, ScriptJob) else None
    if job.cron is None:  # no timer: such a job has `after`, and then the fast path is not taken
        return JobRecord(key, job.id, job.name, job.enabled, False, script, False)
    schedule = parse(job.cron)
    return JobRecord(key, job.id, job.name, job.enabled, schedule.is_reboot, script, schedule.is_every)


def scheduled_of(record: JobRecord) -> Scheduled:
    return Scheduled(record.name, record.enabled, record.is_reboot, record.is_interval)


@dataclass
class Update:
    """A systemd plan and what a successful apply of it leaves in USER/state."""

    plan: Plan
    records: list[JobRecord]
    base: str | None  # None: no manifest can vouch for this apply
    compiled_key: str
    # compiled.json to write before the plan is carried out; None when it is current
    compiled: dict[str, Any] | None = None
    recorded: Manifest | None = None  # the manifest as this apply found it

    def manifest(self) -> Manifest | None:
        if self.base is None:
            return None
        files = {name: sha256(text.encode()) for name, text in self.plan.unit_texts.items()}
        return Manifest(self.base, self.compiled_key, self.records, files)


class Prepared(NamedTuple):
    """One job ready to plan: its manifest record, unit files and compiled.json entry."""

    record: JobRecord
    files: dict[str, str]
    entry: dict[str, Any]


def _intact_ids(installed: dict[str, str], recorded: dict[str, str]) -> set[str]:
    """The jobs (and the watcher) whose unit files are all installed with the recorded sha256."""
    same = {name for name, text in installed.items() if recorded.get(name) == sha256(text.encode())}
    ids = {unit_job_id(name) for name in same}
    return {job_id for job_id in ids if all(name in same for name in unit_names(job_id))}


def plan_changes(space: UserSpace, unit_dir: Path, sources: tuple[bytes, bytes | None]) -> Update | None:
    """The systemd plan, validating and rendering only the jobs that changed since the last successful
    apply; None whenever the manifest cannot vouch for the others or anything is wrong (then all of
    jobs.json is validated, and every problem reported)."""
    manifest = read_manifest(space)
    target = installation_target(space)
    try:
        base = base_key(space, target, unit_dir, sources[1])
        data = loads_unique(sources[0].decode())  # a key written twice: the full path names it
    except (OSError, ValueError, RecursionError):
        return None
    if manifest is None or manifest.base != base or not isinstance(data, list):
        return None
    if any(isinstance(raw, dict) and "hosts" in raw for raw in data):
        return None  # jobs for some hosts only: which are here is the full path's to tell
    keys = [job_key(raw) for raw in data]
    compiled_key = source_key(space, *sources)
    compiled = read_compiled(space, manifest.compiled) or read_compiled(space, compiled_key)
    if compiled is None or len(set(keys)) < len(keys):
        return None  # two identical jobs: the full path names the duplicate
    if _chained(data) or _chained(list(compiled["jobs"].values())):
        return None  # a job's units name the jobs its run starts: a change to one changes another's
    installed = read_installed(unit_dir, space.jobs_file)
    intact = _intact_ids(installed.managed, manifest.files)
    reused = _reusable(manifest.jobs, intact, installed.managed, compiled["jobs"])
    changed = [(key, raw) for key, raw in zip(keys, data, strict=True) if key not in reused]
    checked = _check_and_render(space, target, sources[1], changed) if changed else []
    if checked is None:
        return None
    fresh = iter(checked)
    jobs = [reused[key] if key in reused else next(fresh) for key in keys]
    records = [job.record for job in jobs]
    wanted = {job.record.job_id: (scheduled_of(job.record), job.files) for job in jobs}
    if len(wanted) < len(jobs) or len({record.name for record in records}) < len(jobs):
        return None  # a changed job took another's name or id
    watch = (compiled["settings"] or {}).get("watch")
    if isinstance(watch, dict):
        expression = watch_schedule(int(watch["every"]))
        wanted[WATCH_ID] = (WATCHDOG, render.watch_units(target, templates(), expression))
    plan = _plan_with_watcher(space, target, wanted, records, intact, installed)
    if plan is None:
        return None
    update = Update(plan, records, base, compiled_key, recorded=manifest)
    if compiled["key"] != compiled_key:
        entries = {job.record.job_id: job.entry for job in jobs}
        update.compiled = {"key": compiled_key, "jobs": entries, "settings": compiled["settings"]}
    return update


def _chained(jobs: list[Any]) -> bool:
    """Whether any job (its JSON object) has `after` or `on_failure`."""
    return any(isinstance(job, dict) and (job.get("after") or job.get("on_failure")) for job in jobs)


def _plan_with_watcher(
    space: UserSpace,
    target: render.Target,
    wanted: dict[str, tuple[Scheduled, dict[str, str]]],
    records: list[JobRecord],
    intact: set[str],
    installed: InstalledUnits,
) -> Plan | None:
    try:
        for script in {record.script for record in records if record.script is not None}:
            space.script_path(script)
        if WATCHER_ID in intact:
            wanted[WATCHER_ID] = (WATCHER, {name: installed.managed[name] for name in unit_names(WATCHER_ID)})
        else:
            wanted[WATCHER_ID] = (WATCHER, render.sync_units(target, templates()))
        return plan_units(wanted, installed)
    except (ValueError, InvalidInput):  # a script gone, a unit that cannot be rendered, a conflict
        return None


def _reusable(
    records: list[JobRecord], intact: set[str], installed: dict[str, str], compiled_jobs: dict[str, Any]
) -> dict[str, Prepared]:
    """The recorded jobs whose unit files and compiled.json entry are still as recorded, by key."""
    return {
        record.key: Prepared(
            record,
            {name: installed[name] for name in unit_names(record.job_id)},
            compiled_jobs[record.job_id],
        )
        for record in records
        if record.job_id in intact and record.job_id in compiled_jobs
    }


def _check_and_render(
    space: UserSpace, target: render.Target, settings_bytes: bytes | None, changed: list[tuple[str, Any]]
) -> list[Prepared] | None:
    """Each changed job ((key, JSON object)) validated against the user space, with its unit files and
    compiled.json entry; None on any problem."""
    from cronsync.config import check_jobs, compiled_job, load_settings

    try:
        settings, problems = load_settings(space, settings_bytes)
    except InvalidInput:
        return None
    jobs, job_problems = check_jobs(space, settings, [raw for _, raw in changed])
    if problems or job_problems or any(job.id == WATCHER_ID for job in jobs):
        return None
    shipped = templates()
    try:
        return [
            Prepared(record_of(key, job), render.job_units(job, target, shipped), compiled_job(job))
            for (key, _), job in zip(changed, jobs, strict=True)
        ]
    except render.RenderError:
        return None


def full_update(config: Config, plan: Plan, unit_dir: Path, sources: tuple[bytes, bytes | None]) -> Update:
    """The Update for a plan of all of a validated config; sources are the bytes it was validated from."""
    data = json.loads(sources[0].decode())
    raw_of = {raw["name"]: raw for raw in data}  # a valid config: objects with distinct names
    records = [record_of(job_key(raw_of[job.name]), job) for job in config.jobs]
    try:
        base: str | None = base_key(config.space, installation_target(config.space), unit_dir, sources[1])
    except OSError:
        base = None
    return Update(plan, records, base, config.source_key)
