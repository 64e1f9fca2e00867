"""Whether each enabled job can run as configured, asked the way a run would ask: for apply and status,
which say "will fail: ..." for a job that cannot (never on exec's hot path).

The answers come from exec's own checks on the jobs in the compiled cache, so they cannot drift from
what a run does: the script and its interpreter, the agent backend and its API key, secrets.env, and
every `${VAR}` of the gateways a job notifies. Variables are looked up in this process's environment
and secrets.env, as a run started from here would see them.
"""

from __future__ import annotations

from typing import Any

from cronsync import CronsyncError
from cronsync.exec.run import Run, check_secrets_file
from cronsync.userspace.compiled import CacheMiss, open_compiled
from cronsync.userspace.paths import UserSpace


def will_fail(space: UserSpace) -> dict[str, list[str]]:
    """Per enabled job id: why it cannot run as configured (jobs that can are left out)."""
    compiled = open_compiled(space)
    if compiled is None:
        return {}
    with compiled:
        try:
            jobs, settings = compiled.records(), compiled.settings
        except CacheMiss:
            return {}
    found = {}
    for job_id, job in sorted(jobs.items()):
        if job.get("enabled", True):
            reasons = _reasons(Run(space, job, settings, "timer"))
            if reasons:
                found[job_id] = reasons
    return found


def _reasons(run: Run) -> list[str]:
    checks = [check_secrets_file, _can_start, _gateways_resolve]
    reasons = []
    for check in checks:
        try:
            check(run)
        except CronsyncError as exc:
            reasons.append(str(exc))
    return reasons


def _can_start(run: Run) -> None:
    if run.job["action"] == "agent_workflow":
        from cronsync.exec.agent import agent_backend, api_key

        api_key(run, agent_backend(run))
    else:
        from cronsync.exec.script import script_plan

        script_plan(run)


def _gateways_resolve(run: Run) -> None:
    gateways: dict[str, Any] = run.settings.get("gateways") or {}
    for name in run.job["notify"]["gateways"]:
        for number, url in enumerate(gateways.get(name, []), 1):
            run.secrets().expand(url, f"gateway {name!r} URL #{number}")
