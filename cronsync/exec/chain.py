"""`after` and `on_failure` in exec: which job's run started this one, and starting the next jobs.

Under systemd the job's service names them in OnSuccess= and OnFailure=, and the manager starts their
services; the started service's exec learns from `$MONITOR_UNIT` and `$MONITOR_SERVICE_RESULT` (systemd 251+)
which run started it and how it ended. A skipped run (exit 75) is a success to systemd (SuccessExitStatus=75),
so OnSuccess= starts the next service then too; its exec sees `$MONITOR_EXIT_STATUS=75` and does nothing.

Under cron (and any exec not run by a job's service) exec starts them itself, once the run is recorded and
its locks let go: `cronsync exec <id> --trigger after:<this id>` in a session of its own, its output to
/dev/null (it is logged like any run), so that it neither holds up this run's end (cron waits for the
output it mails) nor inherits anything of this run. Loaded only by jobs that have these fields.
"""

from __future__ import annotations

import os
import sys

from cronsync import JOB_SKIPPED, SCHEDULER_VARIABLE
from cronsync.exec.run import Run, say

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import MutableMapping

UNIT_PREFIX = "cronsync-"  # core/render.py's: importing it would cost exec the schema
MONITOR_VARIABLES = (
    "MONITOR_UNIT",
    "MONITOR_SERVICE_RESULT",
    "MONITOR_EXIT_CODE",
    "MONITOR_EXIT_STATUS",
    "MONITOR_INVOCATION_ID",
)


def monitor_trigger(environ: MutableMapping[str, str]) -> str | None:
    """The trigger of a run the manager started for another cronsync job's run (`after:<id>` when that
    run succeeded, `on_failure:<id>` when it failed); "" when that run was skipped (no run then); None
    when another unit started it. The variables are taken out: the job's processes are not told them."""
    values = {name: environ.pop(name, "") for name in MONITOR_VARIABLES}
    unit = values["MONITOR_UNIT"]
    if not (unit.startswith(UNIT_PREFIX) and unit.endswith(".service")):
        return None
    source = unit.removeprefix(UNIT_PREFIX).removesuffix(".service")
    if values["MONITOR_SERVICE_RESULT"] != "success":
        return f"on_failure:{source}"
    if values["MONITOR_EXIT_STATUS"] == str(JOB_SKIPPED):
        say(f"not run: the run of {source} that started it was skipped (exit {JOB_SKIPPED}), not a success")
        return ""
    return f"after:{source}"


def start_next(run: Run, succeeded: bool) -> None:
    """Start the jobs this run's result starts (`next` in compiled.json), unless the manager does: in
    the job's service OnSuccess= and OnFailure= start them, but for the ones other jobs start too
    (`next_shared`), which exec starts through the manager, since systemd tells those no $MONITOR_*."""
    kind = "after" if succeeded else "on_failure"
    trigger = f"{kind}:{run.job['id']}"
    in_service = bool(os.environ.get(SCHEDULER_VARIABLE))
    shared = run.job.get("next_shared") or []
    for job_id in run.job["next"].get("success" if succeeded else "failure") or []:
        if not in_service:
            _start(run, job_id, trigger)
        elif job_id in shared:
            _start_service(run, job_id, trigger)


def _start_service(run: Run, job_id: str, trigger: str) -> None:
    """Start the job's service as OnSuccess= would (without waiting for it), its trigger in a run request."""
    import subprocess

    from cronsync.adapters.systemd import SystemctlManager, SystemdError

    run.space.request_manual_run(job_id, trigger)
    service = f"{UNIT_PREFIX}{job_id}.service"
    try:
        SystemctlManager().start(service)
    except (SystemdError, OSError, subprocess.TimeoutExpired) as exc:
        say(f"could not start {service} ({trigger}): {exc}")
        return
    say(f"started {service} ({trigger})")


def _start(run: Run, job_id: str, trigger: str) -> None:
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = [
        os.path.abspath(sys.executable),
        "-I",
        "-S",
        os.path.join(package_dir, "__main__.py"),
        "--user-dir",
        run.space.root_str,
        "exec",
        job_id,
        "--trigger",
        trigger,
    ]
    env = {k: v for k, v in os.environ.items() if k != SCHEDULER_VARIABLE}
    actions = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    try:
        os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
    except OSError as exc:
        say(f"could not start {job_id} ({trigger}): {exc.strerror}")
        return
    say(f"started {job_id} ({trigger})")
