"""The pure half of planning: what must change so that what is installed becomes what jobs.json wants.

Nothing here looks at the machine: the backends in `cronsync.apply` read what is installed (unit
texts, enable links, the crontab's text) and pass it in.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

from cronsync.core import render
from cronsync.core.crontab_block import compose, split
from cronsync.core.errors import InvalidInput, Problem
from cronsync.core.ids import RESERVED_ID, WATCHER_ID

Action = Literal["create", "update", "delete", "unchanged"]
BackendName = Literal["systemd", "crontab"]
UNIT_SUFFIXES = (".service", ".timer", ".path")


@dataclass
class JobPlan:
    """What happens to one job's units or entry."""

    job_id: str
    name: str | None
    action: Action
    enabled: bool | None
    changes: list[str] = field(default_factory=list)
    diff: str = ""
    is_reboot: bool = False
    is_interval: bool = False
    has_timer: bool = True  # False: a job without `cron`, started by other jobs' runs (`after`)

    def to_json(self, with_diff: bool) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.job_id,
            "name": self.name,
            "action": self.action,
            "enabled": self.enabled,
            "changes": self.changes,
        }
        if with_diff:
            data["diff"] = self.diff
        return data


@dataclass
class Plan:
    backend: BackendName
    jobs: list[JobPlan]
    # systemd: unit files to write and delete (file names in the unit dir)
    writes: dict[str, str] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    # systemd: every unit file the plan wants installed, {file name: text}
    unit_texts: dict[str, str] = field(default_factory=dict)
    # crontab: the whole new crontab text (None: remove the crontab), and the current one
    crontab_new: str | None = None
    crontab_old: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(job.action != "unchanged" for job in self.jobs)

    def to_json(self, with_diff: bool) -> dict[str, object]:
        return {
            "ok": True,
            "backend": self.backend,
            "changed": self.changed,
            "jobs": [job.to_json(with_diff) for job in self.jobs],
            "warnings": self.warnings,
        }


class Scheduled(NamedTuple):
    """What planning and checking a job's timer need besides its unit files."""

    name: str
    enabled: bool
    is_reboot: bool  # its timer is started by the manager's start-up, never by apply
    is_interval: bool = False  # @every: a monotonic timer, with no calendar elapse to wait for
    has_timer: bool = True  # False: no `cron`, only a service that other jobs' runs start (`after`)


WATCHER = Scheduled("auto-sync watcher", True, False)
WATCHDOG = Scheduled("watchdog", True, False)  # settings.json "watch": `cronsync watch` on a timer


@dataclass(frozen=True)
class InstalledUnits:
    """What the unit directory holds, as the systemd backend read it."""

    directory: str
    managed: dict[str, str]  # this user space's unit files (their marker names its jobs.json): {name: text}
    names: frozenset[str]  # every name in the directory (a file not cronsync's is in the way)
    enabled: frozenset[str]  # units linked from timers.target.wants or paths.target.wants
    others: dict[str, str] = field(default_factory=dict)  # other spaces' units: {name: their jobs.json}


def uninstall_command(jobs_file: str | Path, *options: str) -> str:
    """The command that removes the schedules of the user space whose jobs.json this is."""
    user_dir = Path(jobs_file).parent.parent  # USER/config/jobs.json
    return shlex.join(["cronsync", "--user-dir", str(user_dir), "uninstall", *options])


def reserved_id_problems(jobs_file: str, job_ids: Sequence[tuple[str, str]]) -> list[Problem]:
    """A job ((name, id)) whose id is the watcher's."""
    return [
        Problem(
            jobs_file,
            RESERVED_ID,
            job_index=index,
            job_name=name,
            field="name",
        )
        for index, (name, job_id) in enumerate(job_ids)
        if job_id == WATCHER_ID
    ]


def unit_job_id(file_name: str) -> str:
    stem = file_name.removeprefix(render.UNIT_PREFIX)
    return stem.rsplit(".", 1)[0]


def unit_names(job_id: str) -> tuple[str, str]:
    """The two unit files of a job (or of the watcher)."""
    if job_id == WATCHER_ID:
        return render.SYNC_PATH_UNIT, render.SYNC_SERVICE_UNIT
    return render.service_name(job_id), render.timer_name(job_id)


def scheduling_unit(job_id: str, has_timer: bool = True) -> str:
    """The unit that schedules a job: its timer (the watcher's path unit); for a job without a timer
    (started by other jobs' runs) its service."""
    if job_id == WATCHER_ID:
        return render.SYNC_PATH_UNIT
    return render.timer_name(job_id) if has_timer else render.service_name(job_id)


def diff(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name
    )
    return "".join(lines)


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
        elif "=" in stripped and not stripped.startswith(("#", ";")):
            key, value = stripped.split("=", 1)
            found.setdefault(f"{section}.{key}", []).append(value)
    return found


def _changed_directives(name: str, old: str, new: str) -> list[str]:
    before, after = _directives(old), _directives(new)
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if not keys and old != new:
        return [f"{name}: comments"]
    return [f"{name}: {key.split('.', 1)[1]}" for key in keys]


def plan_units(wanted: dict[str, tuple[Scheduled, dict[str, str]]], installed: InstalledUnits) -> Plan:
    """The plan that leaves exactly the wanted unit files ({job id: (job, {file name: text})}) where
    `installed` is now; InvalidInput when one would replace a file not this user space's."""
    taken = [
        _taken_problem(installed.directory, name, installed.others[name])
        for _, files in wanted.values()
        for name in files
        if name in installed.others
    ]
    if taken:
        raise InvalidInput(taken)
    conflicts = [
        Problem(
            f"{installed.directory}/{name}",
            "exists but is not managed by cronsync (no marker line); move it away or rename the job",
        )
        for _, files in wanted.values()
        for name in files
        if name not in installed.managed and name in installed.names
    ]
    if conflicts:
        raise InvalidInput(conflicts)

    plan = Plan("systemd", [])
    for job_id, (scheduled, files) in wanted.items():
        plan.unit_texts.update(files)
        job = _plan_job_units(job_id, scheduled, files, installed, plan)
        # a file the job no longer has: the timer of a job whose `cron` gave way to `after`
        gone = sorted(n for n in installed.managed if unit_job_id(n) == job_id and n not in files)
        if gone:
            plan.deletes.extend(gone)
            job.changes.extend(f"remove {name}" for name in gone)
            job.diff += "".join(
                diff(installed.managed[name], "", f"{installed.directory}/{name}", "/dev/null")
                for name in gone
            )
            if job.action == "unchanged":
                job.action = "update"
        plan.jobs.append(job)
    installed_ids = {unit_job_id(name) for name in installed.managed}
    for job_id in sorted(installed_ids - set(wanted)):
        names = sorted(name for name in installed.managed if unit_job_id(name) == job_id)
        plan.deletes.extend(names)
        removed = "".join(
            diff(installed.managed[name], "", f"{installed.directory}/{name}", "/dev/null") for name in names
        )
        plan.jobs.append(JobPlan(job_id, None, "delete", None, [f"remove {name}" for name in names], removed))
    return plan


def _taken_problem(directory: str, name: str, owner: str) -> Problem:
    remove = f"`{uninstall_command(owner)}`"
    if unit_job_id(name) == WATCHER_ID:
        why = (
            f"is the auto-sync watcher of the user space of {owner}; the user manager holds one watcher "
            f"under this name, so this space cannot use the systemd backend beside it: remove that "
            f"space's units with {remove}, or apply this space with --backend crontab"
        )
    else:
        why = (
            f"belongs to the user space of {owner} (a job with the same id); rename the job here, "
            f"or remove that space's units with {remove}"
        )
    return Problem(f"{directory}/{name}", why)


def _plan_job_units(
    job_id: str, scheduled: Scheduled, files: dict[str, str], installed: InstalledUnits, plan: Plan
) -> JobPlan:
    name, enabled, is_reboot, is_interval, has_timer = scheduled
    changes: list[str] = []
    diffs = []
    for file_name, text in files.items():
        old = installed.managed.get(file_name)
        if old == text:
            continue
        plan.writes[file_name] = text
        old_name = f"{installed.directory}/{file_name}" if old else "/dev/null"
        diffs.append(diff(old or "", text, old_name, file_name))
        if old is not None:
            changes.extend(_changed_directives(file_name, old, text))
    if any(name not in installed.managed for name in files):
        return JobPlan(job_id, name, "create", enabled, [], "".join(diffs), is_reboot, is_interval, has_timer)
    linked = render.timer_name(job_id) in installed.enabled
    if job_id != WATCHER_ID and has_timer and linked != enabled:
        changes.append(f"enabled: {str(not enabled).lower()} -> {str(enabled).lower()}")
    action: Action = "update" if changes else "unchanged"
    return JobPlan(job_id, name, action, enabled, changes, "".join(diffs), is_reboot, is_interval, has_timer)


def plan_crontab(
    jobs: Sequence[tuple[str, str, bool]],
    entries: Sequence[render.CrontabEntry],
    current: str | None,
    jobs_file: Path,
) -> Plan:
    """The crontab with exactly these entries (one per job: (id, name, enabled)) in jobs_file's block;
    other user spaces' blocks and every other line stay as they are."""
    cut = split(current or "", jobs_file)
    installed_lines = {_tag_of(line): line for line in cut.managed_lines}
    plan = Plan("crontab", [], crontab_old=current)
    for (job_id, name, enabled), entry in zip(jobs, entries, strict=True):
        old = installed_lines.get(job_id)
        if old is None:
            added = diff("", entry.line + "\n", "", "crontab")
            plan.jobs.append(JobPlan(job_id, name, "create", enabled, [], added))
        elif old != entry.line:
            changed = diff(old + "\n", entry.line + "\n", "", "")
            plan.jobs.append(
                JobPlan(job_id, name, "update", enabled, _entry_changes(old, entry.line), changed)
            )
        else:
            plan.jobs.append(JobPlan(job_id, name, "unchanged", enabled))
    wanted_ids = {job_id for job_id, _, _ in jobs}
    for job_id, line in installed_lines.items():
        if job_id not in wanted_ids:
            plan.jobs.append(
                JobPlan(job_id, None, "delete", None, ["remove entry"], diff(line + "\n", "", "", ""))
            )
    new_text = compose(cut, entries, jobs_file)
    plan.crontab_new = None if (current is None and not new_text) else new_text
    if current is not None and not new_text and not cut.user_text():
        plan.crontab_new = None  # cronsync made the crontab; leave none behind
    return plan


def _tag_of(line: str) -> str:
    return line.rsplit(f"# {render.CRONTAB_TAG_PREFIX}", 1)[1].strip()


def _entry_changes(old: str, new: str) -> list[str]:
    changes = []
    if old.startswith("#") != new.startswith("#"):
        changes.append(
            f"enabled: {str(not old.startswith('#')).lower()} -> {str(not new.startswith('#')).lower()}"
        )
    old_fields, new_fields = old.lstrip("#").split(), new.lstrip("#").split()
    if old_fields[:5] != new_fields[:5]:
        changes.append("schedule")
    if old_fields[5:] != new_fields[5:]:
        changes.append("command")
    return changes or ["entry text"]
