"""`cronsync doctor`: is everything in place for jobs to run? Each finding with the command that fixes it."""

from __future__ import annotations

import getpass
import json
import os
import shlex
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import click

from cronsync import CronsyncError
from cronsync.adapters import crontab, systemd
from cronsync.apply.crontab import CrontabBackend
from cronsync.apply.diagnose import causes
from cronsync.apply.engine import catches_up, installed_backend, make_plan
from cronsync.apply.systemd import UnitDirNotSearched, check_searched
from cronsync.apply.unitfiles import managed_unit_files
from cronsync.commands.common import JSON_OPTION, user_space
from cronsync.config import load_config
from cronsync.core.crontab_block import split
from cronsync.core.errors import InvalidInput, Problem
from cronsync.core.health import PROBLEMS, timing_of
from cronsync.core.limits import needed_controllers
from cronsync.userspace.paths import (
    UntrustedScript,
    UserSpace,
    cli_for,
    read_sources_bytes,
    systemd_user_unit_dir,
)
from cronsync.userspace.runhealth import HEALTH_WINDOW, healths, runs_by_job

Level = Literal["ok", "warning", "error"]


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str
    fix: str | None = None


@click.command()
@JSON_OPTION
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> int:
    """Check the user manager, lingering, cron, and that installed units point at an existing cronsync."""
    findings = run_checks(user_space(ctx))
    ok = all(f.level != "error" for f in findings)
    if as_json:
        click.echo(json.dumps({"ok": ok, "findings": [asdict(f) for f in findings]}, indent=2))
    else:
        for finding in findings:
            click.echo(f"[{finding.level}] {finding.check}: {finding.message}")
            if finding.fix:
                click.echo(f"    fix: {finding.fix}")
    return 0 if ok else 1


def run_checks(space: UserSpace) -> list[Finding]:
    user = getpass.getuser()
    unit_dir = systemd_user_unit_dir()
    units = managed_unit_files(unit_dir, space.jobs_file)  # this user space's, not another's
    uses_crontab = CrontabBackend().holds_schedules(space.jobs_file)
    manager = systemd.connect()
    uses_systemd = bool(units) or not uses_crontab
    findings = [_manager_finding(manager, user, required=uses_systemd)]
    if manager is not None:
        findings.append(_unit_dir_finding(manager, unit_dir, required=uses_systemd))
    findings.append(_linger_finding(user))
    if uses_crontab or manager is None:
        findings.append(_cron_finding(required=uses_crontab))
    findings.extend(_executable_findings(space, units, uses_crontab))
    untrusted = _untrusted_scripts(space)
    findings.extend(_script_findings(space, untrusted))
    findings.append(_sync_finding(space, manager, uses_crontab, untrusted))
    if manager is not None and uses_systemd:
        findings.extend(_limits_findings(space, manager))
    findings.extend(_run_findings(space, manager))
    findings.extend(_fleet_findings(space))
    return findings


def _fleet_findings(space: UserSpace) -> list[Finding]:
    """etcd reachable, clocks in step with etcd's and the other hosts', the same jobs.json everywhere:
    only when settings.json has a "fleet"."""
    from cronsync.apply.fleetstate import fleet_checks

    try:
        settings = load_config(space).settings.fleet
    except InvalidInput:
        return []  # the jobs.json finding says why
    if settings is None:
        return []
    checks = fleet_checks(space, settings.model_dump(mode="json"))
    return [Finding(*check) for check in checks]


def _run_findings(space: UserSpace, manager: systemd.Manager | None) -> list[Finding]:
    """Jobs with missed, late or failed runs in the health window, each with the causes it can see."""
    try:
        config = load_config(space)
    except InvalidInput:
        return []  # the jobs.json finding says why
    persistent = catches_up(space)
    jobs = [job for job in config.jobs if job.enabled]
    logged = runs_by_job(space)
    runs = logged[0]
    found = healths(space, [(job.id, timing_of(job, catches_up=persistent)) for job in jobs], None, logged)
    findings = []
    for job in jobs:
        health = found[job.id]
        if not health.missed_runs and health.health not in PROBLEMS:
            continue
        message = f"{job.id} is {health.health}"
        if health.missed_runs:
            last = health.last_missed.isoformat(timespec="seconds") if health.last_missed else "?"
            message += (
                f"; {health.missed_runs} run(s) missed in the last {HEALTH_WINDOW.days} days, the last {last}"
            )
        seen = causes(space, job.id, job.persistent and persistent, health, runs.get(job.id, []), manager)
        if seen:
            message += "; likely: " + "; ".join(cause.text for cause in seen)
        fixes = list(dict.fromkeys(cause.fix for cause in seen if cause.fix))
        findings.append(Finding(f"runs of {job.id}", "warning", message, " && ".join(fixes) or None))
    if jobs and not findings:
        findings.append(
            Finding("runs", "ok", f"no missed, late or failing runs in the last {HEALTH_WINDOW.days} days")
        )
    return findings


def _limits_findings(space: UserSpace, manager: systemd.Manager) -> list[Finding]:
    """Whether the user manager has the cgroup controllers the jobs' limits take effect through."""
    try:
        jobs = load_config(space).jobs
    except InvalidInput:
        return []
    needs = {
        job.id: needed_controllers(job.limits.model_dump(exclude_none=True)) for job in jobs if job.limits
    }
    wanted = {controller for controllers in needs.values() for controller in controllers}
    if not wanted:
        return []
    have, where = systemd.delegated_controllers(manager)
    missing = sorted(wanted - have)
    if not missing:
        listed = ", ".join(sorted(wanted))
        return [Finding("limits", "ok", f"the user manager has the {listed} controller(s) the limits need")]
    affected = ", ".join(sorted(job for job, controllers in needs.items() if set(controllers) & set(missing)))
    fix = (
        "boot with the unified cgroup hierarchy (systemd.unified_cgroup_hierarchy=1)"
        if "cgroup v1" in where
        else f"sudo systemctl edit user@.service: [Service] Delegate={' '.join(missing)}, then log in again"
    )
    return [
        Finding(
            "limits",
            "warning",
            f"the limits of {affected} need the cgroup controller(s) {', '.join(missing)}, which the user "
            f"manager has not been delegated ({where}): systemd accepts them but does not enforce them",
            fix,
        )
    ]


def _unit_dir_finding(manager: systemd.Manager, unit_dir: Path, required: bool) -> Finding:
    """Whether the user manager loads units from the folder apply writes them to."""
    try:
        check_searched(manager, unit_dir)
    except UnitDirNotSearched as exc:
        message, _, fix = str(exc).partition(" Fix: ")
        return Finding("unit directory", "error" if required else "warning", message, fix or None)
    return Finding("unit directory", "ok", f"the user manager loads units from {unit_dir}")


def _manager_finding(manager: systemd.Manager | None, user: str, required: bool) -> Finding:
    if manager is not None:
        return Finding("user manager", "ok", f"systemd user manager answers (via {manager.via})")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    fix = f"sudo loginctl enable-linger {user}, then log in again"
    if not runtime:
        fix = f"export XDG_RUNTIME_DIR=/run/user/$(id -u) (and: {fix})"
    level: Level = "error" if required else "warning"
    return Finding("user manager", level, "no systemd user manager answers; timers cannot be used", fix)


def _linger_finding(user: str) -> Finding:
    linger = systemd.lingering(user)
    if linger is None:
        return Finding(
            "lingering",
            "warning",
            "logind cannot tell whether lingering is on (is systemd-logind running?)",
            f"sudo loginctl enable-linger {user}",
        )
    if linger:
        return Finding("lingering", "ok", f"lingering is on for {user}: timers run while logged out")
    return Finding(
        "lingering",
        "warning",
        f"lingering is off for {user}: user timers stop when you log out",
        f"sudo loginctl enable-linger {user}",
    )


def _cron_finding(required: bool) -> Finding:
    if shutil.which("crontab") is None:
        level: Level = "error" if required else "warning"
        return Finding("cron", level, "cron is not installed", "sudo apt-get install cron")
    if crontab.cron_running():
        return Finding("cron", "ok", "the cron daemon is running")
    level = "error" if required else "warning"
    return Finding("cron", level, "the cron daemon is not running", crontab.start_command())


def _program_paths(words: list[str]) -> list[str]:
    """The interpreter and the cronsync file it runs: the absolute paths before `--user-dir`."""
    end = words.index("--user-dir") if "--user-dir" in words else len(words)
    return [word for word in words[:end] if word.startswith("/")] or words[:1]


def _executable_findings(space: UserSpace, units: dict[str, str], uses_crontab: bool) -> list[Finding]:
    commands: dict[str, list[str]] = {}
    for name, text in units.items():
        for line in text.splitlines():
            if line.startswith("ExecStart="):
                words = shlex.split(line.removeprefix("ExecStart=").replace("%%", "%").replace("$$", "$"))
                commands[name] = _program_paths(words)
    if uses_crontab:
        for job_id, entry in split(crontab.read() or "", space.jobs_file).entries().items():
            commands[f"crontab entry {job_id}"] = _program_paths(shlex.split(entry.command))
    missing = {
        where: " ".join(paths)
        for where, paths in commands.items()
        if not (os.access(paths[0], os.X_OK) and all(os.access(p, os.R_OK) for p in paths[1:]))
    }
    if not commands:
        return []
    if missing:
        listed = "; ".join(f"{where} -> {exe}" for where, exe in sorted(missing.items()))
        return [
            Finding(
                "cronsync executable",
                "error",
                f"installed schedules run a cronsync that does not exist: {listed}",
                f"{cli_for(space)} apply (with the cronsync you use now)",
            )
        ]
    return [Finding("cronsync executable", "ok", f"{len(commands)} schedule(s) run an existing cronsync")]


def _script_paths(space: UserSpace) -> list[str]:
    """Every script job's payload.path in jobs.json, read as it is (valid or not)."""
    try:
        jobs_bytes, _ = read_sources_bytes(space)
        data = json.loads(jobs_bytes or b"[]")
    except (CronsyncError, ValueError, RecursionError):
        return []
    jobs = data if isinstance(data, list) else []
    payloads = [job.get("payload") for job in jobs if isinstance(job, dict) and job.get("action") == "script"]
    return sorted({p["path"] for p in payloads if isinstance(p, dict) and isinstance(p.get("path"), str)})


def _untrusted_scripts(space: UserSpace) -> list[UntrustedScript]:
    """Why each script another account could change is refused (the check `cronsync exec` refuses by)."""
    untrusted: list[UntrustedScript] = []
    for path in _script_paths(space):
        try:
            space.script_path(path)
        except UntrustedScript as exc:
            untrusted.append(exc)
        except ValueError:
            continue  # a missing or escaping script: the jobs.json finding reports it
    return untrusted


def _chmod_fix(untrusted: list[UntrustedScript]) -> str:
    return " && ".join(dict.fromkeys(fix for exc in untrusted for fix in exc.fixes))


def _script_findings(space: UserSpace, untrusted: list[UntrustedScript]) -> list[Finding]:
    if untrusted:
        return [Finding("scripts", "error", "; ".join(str(exc) for exc in untrusted), _chmod_fix(untrusted))]
    paths = _script_paths(space)
    return (
        [Finding("scripts", "ok", f"{len(paths)} script(s), none another account could change")]
        if paths
        else []
    )


def _jobs_file_finding(
    space: UserSpace, problems: list[Problem], untrusted: list[UntrustedScript]
) -> Finding:
    """The problems of jobs.json, with the fix for what they are: one finding, one level (error)."""
    if not space.jobs_file.exists():
        return Finding("jobs.json", "error", f"there is no {space.jobs_file}", f"{cli_for(space)} init")
    refused = {str(exc) for exc in untrusted}
    others = [problem for problem in problems if problem.message not in refused]
    if not others:
        message = f"{len(problems)} job(s) run a script another account could change (see scripts above)"
        return Finding("jobs.json", "error", message, _chmod_fix(untrusted))
    message = f"{len(problems)} problem(s): {others[0]}"
    return Finding(
        "jobs.json",
        "error",
        message,
        f"{cli_for(space)} validate (every problem), then {cli_for(space)} edit",
    )


def _sync_finding(
    space: UserSpace, manager: systemd.Manager | None, uses_crontab: bool, untrusted: list[UntrustedScript]
) -> Finding:
    try:
        config = load_config(space)
    except InvalidInput as exc:
        return _jobs_file_finding(space, exc.problems, untrusted)
    if manager is None and not uses_crontab:
        return Finding("installed", "warning", "nothing is installed", f"{cli_for(space)} apply")
    try:
        backend = installed_backend("auto", space)
        plan = make_plan(config, backend)
    except InvalidInput as exc:
        return Finding("installed", "error", str(exc.problems[0]), f"{cli_for(space)} plan")
    except CronsyncError as exc:
        return Finding("installed", "error", str(exc))
    stale = [f"{job.job_id} ({job.action})" for job in plan.jobs if job.action != "unchanged"]
    if stale:
        return Finding(
            "installed",
            "warning",
            f"installed schedules differ from jobs.json: {', '.join(stale)}",
            f"{cli_for(space)} apply",
        )
    return Finding("installed", "ok", f"installed {backend.name} schedules match jobs.json")
