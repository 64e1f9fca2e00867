"""cronsync: compile a jobs.json into systemd user timers or crontab entries.

The package's root holds what every part of it shares: the version, every exit code, and
CronsyncError, the one base error, which carries the code it exits with (only `cronsync.cli`, for
every command but exec, and `cronsync.exec.main` turn an error into an exit); and
SitePackagesOnDemand. It imports nothing: `cronsync exec` loads it on every run.

Units and crontab entries run `python -I -S .../cronsync/__main__.py` (see
`cronsync.apply.target.launcher_argv`): -S skips `site`, which costs milliseconds on every run, so
site-packages is added on demand, by `SitePackagesOnDemand`, the first time an import needs more than
the standard library. It lives here, not in `__main__.py`, because Python compiles a script anew on
every start, while this module's bytecode is cached.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__version__ = "0.1.0"

OK = 0
INVALID = 1  # invalid input, or the machine refused (every problem and what would be right is printed)
USAGE = 2  # a usage error (click's)
WATCH_UNHEALTHY = 3  # `cronsync watch`: a job is missed, late or failing (or the watchdog itself missed runs)
BUG = 70  # EX_SOFTWARE: an unexpected error; a bug in cronsync, with the details written to a file

# `cronsync exec` (README: "Exit codes of cronsync exec"); any other code is the job's own
JOB_SKIPPED = 75  # EX_TEMPFAIL: the previous run still holds the lock (the units treat it as success)
JOB_CONFIG = 78  # EX_CONFIG: the job is missing, invalid, or cannot start as configured
JOB_NOT_FOUND = 127  # as a shell says it: a command the job needs is not installed
JOB_TIMEOUT = 124  # as timeout(1)

# Set (to "systemd") in the service of a job with `limits`, or whose run starts others (`after`,
# `on_failure`): the manager applies those limits and starts those jobs, so exec does not (cron: exec does).
SCHEDULER_VARIABLE = "CRONSYNC_SCHEDULER"


class CronsyncError(Exception):
    """An error cronsync expects and explains: its message is for the user, `exit_code` what it exits with."""

    exit_code = INVALID

    def __init__(self, message: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
        self.json_fields: dict[str, object] = {}  # added to the {"ok": false, "errors"} of --json output


class SitePackagesOnDemand:
    """The last finder on sys.meta_path in a start with -S: the first import of a module outside the
    standard library that nothing else finds runs `site.main()` (site-packages and its .pth files,
    as a start without -S would) and is retried."""

    @classmethod
    def find_spec(
        cls, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] in sys.stdlib_module_names:
            return None  # a module this Python lacks (an optional accelerator, say): site cannot help
        sys.meta_path.remove(cls)
        import site

        site.main()
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                return spec
        return None
