"""Jobs -> the unit files and crontab lines that schedule them. Pure: nothing here touches the machine.

Everything a user typed is escaped the way systemd.syntax(7) and crontab(5) require, or refused.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cronsync import JOB_SKIPPED, SCHEDULER_VARIABLE, WATCH_UNHEALTHY, CronsyncError
from cronsync.core.chains import manager_starts, next_jobs
from cronsync.core.errors import Problem
from cronsync.core.ids import WATCH_ID
from cronsync.core.limits import service_lines
from cronsync.core.schedule import crontab_escape, crontab_form, on_calendar, parse

TYPE_CHECKING = False  # jinja2 and the pydantic schema are imported only when something is rendered
if TYPE_CHECKING:
    import jinja2

    from cronsync.core.jobs import AgentJob, ScriptJob

    AnyJob = ScriptJob | AgentJob

MARKER_PREFIX = "# Managed by cronsync from "
MARKER_SUFFIX = " - do not edit"
UNIT_PREFIX = "cronsync-"
SYNC_PATH_UNIT = "cronsync-sync.path"
SYNC_SERVICE_UNIT = "cronsync-sync.service"
CRONTAB_TAG_PREFIX = "cronsync:"
# exec's timeout kills the job and records it; systemd's own timeout is only the safety net behind it.
TIMEOUT_GRACE_SECONDS = 30


class RenderError(CronsyncError, ValueError):
    """Something cannot be written into a unit file or crontab line safely."""


@dataclass(frozen=True)
class Target:
    """Where the rendered files point: the installed cronsync and the user space."""

    cronsync_argv: tuple[str, ...]
    user_dir: Path
    jobs_file: Path
    systemd_run: str = "/usr/bin/systemd-run"
    # the folders, besides the config folder, that hold the real files behind a symlinked jobs.json or
    # settings.json (a dotfiles repository): the watcher watches them too
    linked_dirs: tuple[Path, ...] = ()

    def command(self, *args: str) -> list[str]:
        return [*self.cronsync_argv, "--user-dir", str(self.user_dir), *args]


@dataclass(frozen=True)
class CrontabEntry:
    job_id: str
    line: str
    enabled: bool


def marker(jobs_file: Path) -> str:
    return f"{MARKER_PREFIX}{jobs_file}{MARKER_SUFFIX}"


def is_managed_text(text: str) -> bool:
    return text.startswith(MARKER_PREFIX)


def marker_jobs_file(text: str) -> str:
    """The jobs.json a managed unit's marker line names (the user space that owns the unit)."""
    first = text.partition("\n")[0].removeprefix(MARKER_PREFIX)
    return first[: -len(MARKER_SUFFIX)] if first.endswith(MARKER_SUFFIX) else first


def service_name(job_id: str) -> str:
    return f"{UNIT_PREFIX}{job_id}.service"


def timer_name(job_id: str) -> str:
    return f"{UNIT_PREFIX}{job_id}.timer"


def crontab_tag(job_id: str) -> str:
    return f"{CRONTAB_TAG_PREFIX}{job_id}"


# --- escaping ------------------------------------------------------------------------------------


def _c_escape(value: str, *, dollar: bool) -> str:
    """The inside of a double-quoted systemd word: C escapes, `%%`, and `$$` where `$` is expanded."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "%":
            out.append("%%")
        elif ch == "$" and dollar:
            out.append("$$")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")  # a raw \xNN byte would not be UTF-8
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def systemd_exec_line(argv: Sequence[str]) -> str:
    """An ExecStart= value running exactly argv: every word quoted, `%` and `$` doubled."""
    for arg in argv:
        if "\0" in arg:
            raise RenderError(f"a command argument contains a NUL character: {arg!r}")
    return " ".join(f'"{_c_escape(arg, dollar=True)}"' for arg in argv)


def systemd_environment(name: str, value: str) -> str:
    """An Environment= value setting name to exactly value (Environment= expands no `$`)."""
    if "\0" in value:
        raise RenderError(f"environment variable {name} contains a NUL character")
    return f'"{_c_escape(f"{name}={value}", dollar=False)}"'


def systemd_plain_value(value: str) -> str:
    """A value systemd takes verbatim but for specifiers (Description=, PathChanged=): one line, `%%`."""
    return _one_line(value).replace("%", "%%")


def _one_line(value: str) -> str:
    bad = sorted({repr(ch) for ch in value if ord(ch) < 0x20 or ord(ch) == 0x7F})
    if bad:
        raise RenderError(f"{value!r} contains control character(s) {', '.join(bad)}")
    return value


def crontab_command(argv: Sequence[str]) -> str:
    """A crontab(5) command running exactly argv: shell-quoted, `%` escaped, one line."""
    for arg in argv:
        if "\n" in arg or "\r" in arg or "\0" in arg:
            raise RenderError(f"a crontab command cannot hold a newline or NUL: {arg!r}")
    return " ".join(_crontab_word(arg) for arg in argv)


def _crontab_word(arg: str) -> str:
    """One shell word with cron's `%` rule applied. cron reads `\\%` as `%`, but a backslash right before
    that escape (a path holding `\\%`) makes cron see `\\\\` then a bare `%`, which ends the command.
    So in single quotes each `%` goes outside them, as `'\\%'`, where no backslash can precede it."""
    quoted = shlex.quote(arg)
    if quoted.startswith("'"):
        return quoted.replace("%", "'\\%'")
    return crontab_escape(quoted)  # unquoted: shlex found no backslash in it


# --- rendering -----------------------------------------------------------------------------------


class Templates:
    """The Jinja2 templates by file name, as text: whoever loads them from disk hands them in."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = dict(sources)
        self._environment: jinja2.Environment | None = None

    def render(self, name: str, **values: object) -> str:
        if self._environment is None:
            import jinja2

            self._environment = jinja2.Environment(
                loader=jinja2.DictLoader(self.sources),
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
                undefined=jinja2.StrictUndefined,
                autoescape=False,
            )
        return self._environment.get_template(name).render(**values)


def check_target(target: Target) -> list[Problem]:
    """Paths that no unit file or crontab line can hold (a newline in the user dir, say)."""
    problems = []
    for label, value in (
        ("user dir", str(target.user_dir)),
        ("cronsync executable", " ".join(target.cronsync_argv)),
    ):
        try:
            _one_line(value)
        except RenderError as exc:
            problems.append(Problem(str(target.jobs_file), f"the {label} path cannot be scheduled: {exc}"))
    return problems


def _description(job: AnyJob) -> str:
    # Ends with ")" so that a name ending in a backslash cannot continue onto the next line.
    return systemd_plain_value(f"{job.name} (cronsync job {job.id})")


def _job_environment(job: AnyJob) -> list[str]:
    from cronsync.core.jobs import ScriptJob

    if isinstance(job, ScriptJob):
        return [systemd_environment(name, value) for name, value in sorted(job.payload.env.items())]
    return []


def job_units(
    job: AnyJob, target: Target, templates: Templates, starts: dict[str, list[str]] | None = None
) -> dict[str, str]:
    """The service and timer files of one job: {file name: text}; only the service for a job that has no
    `cron` (other jobs' runs start it). `starts`: those of the jobs its run starts that the manager
    starts (core/chains.manager_starts); None when its run starts none."""
    timeout = job.effective_timeout()
    head = marker(target.jobs_file)
    environment = _job_environment(job)
    limits = service_lines(job.limits.model_dump(exclude_none=True) if job.limits else None)
    if starts is not None or limits:
        # the manager starts the next jobs (OnSuccess=, OnFailure=; exec starts the shared ones through it)
        # and sets the limits: exec does neither itself
        environment.append(systemd_environment(SCHEDULER_VARIABLE, "systemd"))
    starts = starts or {}
    service = templates.render(
        "service.j2",
        marker=head,
        description=_description(job),
        exec_start=systemd_exec_line(target.command("exec", job.id)),
        syslog_identifier=f"cronsync-{job.id}",
        skipped_exit_status=JOB_SKIPPED,
        timeout_start=f"{timeout + TIMEOUT_GRACE_SECONDS}s" if timeout else None,
        environment=environment,
        on_success=" ".join(service_name(other) for other in starts.get("success", [])),
        on_failure=" ".join(service_name(other) for other in starts.get("failure", [])),
        limits=limits,
    )
    if job.cron is None:
        return {service_name(job.id): service}
    schedule = parse(job.cron)
    timer = templates.render(
        "timer.j2",
        marker=head,
        description=_description(job),
        on_calendar=on_calendar(schedule, job.timezone),
        on_startup="0" if schedule.is_reboot else None,
        # @every: the first run one interval after the timer starts, then one interval after each start.
        on_interval=f"{schedule.every_seconds}s" if schedule.is_every else None,
        persistent="true" if job.persistent else "false",
        random_delay=f"{job.random_delay}s",
        # Without it, every daemon-reload (each save) draws a new delay and can push a daily run past its
        # elapse again and again, so it never runs (systemd#18678). systemd 247+.
        fixed_random_delay=job.random_delay > 0,
        accuracy=f"{job.accuracy}s",
        service=service_name(job.id),
    )
    return {service_name(job.id): service, timer_name(job.id): timer}


def sync_units(target: Target, templates: Templates) -> dict[str, str]:
    """The watcher that re-applies jobs.json when it is saved."""
    head = marker(target.jobs_file)
    described = systemd_plain_value(str(target.jobs_file))
    path_unit = templates.render(
        "sync.path.j2",
        marker=head,
        jobs_file_description=described,
        config_dir=systemd_plain_value(str(target.jobs_file.parent)),
        linked_dirs=[systemd_plain_value(str(folder)) for folder in target.linked_dirs],
        service=SYNC_SERVICE_UNIT,
    )
    service = templates.render(
        "sync.service.j2",
        marker=head,
        jobs_file_description=described,
        exec_start=systemd_exec_line(watcher_command(target)),
    )
    return {SYNC_PATH_UNIT: path_unit, SYNC_SERVICE_UNIT: service}


def watcher_command(target: Target) -> list[str]:
    """What cronsync-sync.service runs: the apply, handed to a fresh transient unit.

    A path unit stops watching while the unit it triggered is active, so saves during a long apply
    would be lost; `systemd-run --no-block` returns at once and the transient apply, which waits a
    moment and then reads jobs.json under the apply lock, sees every save made before it read.
    systemd-run's argv is `$`-expanded once more (`$$` -> `$`); the user dir goes in the
    environment, which is not.
    """
    apply = [*target.cronsync_argv, "apply", "--backend", "systemd", "--from-watcher"]
    return [
        target.systemd_run,
        "--user",
        "--no-block",
        "--quiet",
        "--collect",
        "--property=SyslogIdentifier=cronsync-sync",
        f"--setenv=CRONSYNC_USER_DIR={target.user_dir}",
        "--",
        *(arg.replace("$", "$$") for arg in apply),
    ]


WATCH_DESCRIPTION = "cronsync watchdog of "


def watch_units(target: Target, templates: Templates, expression: str) -> dict[str, str]:
    """The watchdog's service and timer (settings.json "watch"): `cronsync watch` on `expression`."""
    head = marker(target.jobs_file)
    description = systemd_plain_value(f"{WATCH_DESCRIPTION}{target.jobs_file}")
    service = templates.render(
        "watch.service.j2",
        marker=head,
        description=description,
        exec_start=systemd_exec_line(target.command("watch", "--scheduled")),
        unhealthy_exit_status=WATCH_UNHEALTHY,
    )
    timer = templates.render(
        "watch.timer.j2",
        marker=head,
        description=description,
        on_calendar=on_calendar(parse(expression)),
        service=service_name(WATCH_ID),
    )
    return {service_name(WATCH_ID): service, timer_name(WATCH_ID): timer}


def watch_crontab_entry(target: Target, templates: Templates, expression: str) -> CrontabEntry:
    line = templates.render(
        "crontab_entry.j2",
        enabled=True,
        expression=expression,
        command=crontab_command(target.command("watch", "--scheduled")),
        tag=crontab_tag(WATCH_ID),
    ).rstrip("\n")
    return CrontabEntry(WATCH_ID, line, True)


def systemd_units(jobs: Sequence[AnyJob], target: Target, templates: Templates) -> dict[str, str]:
    """Every unit file the systemd backend wants installed, the watcher included."""
    units: dict[str, str] = {}
    starts = manager_starts(next_jobs(jobs))
    for job in jobs:
        units.update(job_units(job, target, templates, starts.get(job.id)))
    units.update(sync_units(target, templates))
    return units


def crontab_entry(
    job: AnyJob, target: Target, templates: Templates, zone: str | None = None, local_zone: str | None = None
) -> CrontabEntry:
    """The job's crontab line; `zone` is the job's timezone when it is not the machine's (`local_zone`).
    ScheduleError when cron cannot start the job at its times (seconds, @every). Not for a job without
    `cron` (other jobs' runs start it: see crontab_entries)."""
    assert job.cron is not None
    form = crontab_form(parse(job.cron), zone, local_zone)
    guard = ("--guard",) if form.emulated else ()
    line = templates.render(
        "crontab_entry.j2",
        enabled=job.enabled,
        expression=form.expression,
        command=crontab_command(target.command("exec", job.id, *guard)),
        tag=crontab_tag(job.id),
    ).rstrip("\n")
    return CrontabEntry(job.id, line, job.enabled)


def crontab_entries(
    jobs: Sequence[AnyJob],
    target: Target,
    templates: Templates,
    zones: dict[str, str | None] | None = None,
    local_zone: str | None = None,
) -> list[CrontabEntry]:
    """Every scheduled job's crontab line (a job without `cron` has none: exec starts it after the jobs it
    follows); `zones`: the job's timezone by id, where it is not the machine's."""
    zones = zones or {}
    return [
        crontab_entry(job, target, templates, zones.get(job.id), local_zone)
        for job in jobs
        if job.cron is not None
    ]
