"""cronsync: compile a jobs.json into systemd user timers or crontab entries.

The package's root holds what every part of it shares: the version, every exit code, and
CronsyncError, the one base error, which carries the code it exits with. Only `cronsync.cli` (every
command but exec) and `cronsync.exec.main` turn an error into an exit. It imports nothing: `cronsync
exec` loads it on every run.
"""

from __future__ import annotations

__version__ = "0.1.0"

OK = 0
INVALID = 1  # invalid input, or the machine refused (every problem and what would be right is printed)
USAGE = 2  # a usage error (click's)
BUG = 70  # EX_SOFTWARE: an unexpected error; a bug in cronsync, with the details written to a file

# `cronsync exec` (README: "Exit codes of cronsync exec"); any other code is the job's own
JOB_SKIPPED = 75  # EX_TEMPFAIL: the previous run still holds the lock (the units treat it as success)
JOB_CONFIG = 78  # EX_CONFIG: the job is missing, invalid, or cannot start as configured
JOB_NOT_FOUND = 127  # as a shell says it: a command the job needs is not installed
JOB_TIMEOUT = 124  # as timeout(1)


class CronsyncError(Exception):
    """An error cronsync expects and explains: its message is for the user, `exit_code` what it exits with."""

    exit_code = INVALID

    def __init__(self, message: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
        self.json_fields: dict[str, object] = {}  # added to the {"ok": false, "errors"} of --json output
