"""USER/logs/errors.log: the details of an error nobody expected (a bug in cronsync), kept for the report.

The user is told one line: that it is a bug, and where these details are. The line names the error's
type and where it was raised, never its message (which could hold anything a job handled, a secret too).
"""

from __future__ import annotations

import os
import sys

from cronsync import BUG
from cronsync.userspace.paths import ERRORS_FILE

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Callable


def report_bug(exc: BaseException, user_dir: str, command: str) -> int:
    """Write the traceback where it can be found, say so in one line on stderr, return the BUG code."""
    print(f"{command}: {keep_bug(exc, user_dir, command)}", file=sys.stderr, flush=True)
    return BUG


def keep_bug(
    exc: BaseException, user_dir: str, command: str, redact: Callable[[str], str] | None = None
) -> str:
    """Write the traceback (through `redact`, when a run knows secrets) where it can be found; the one
    line that says so (no message of the error's)."""
    import time
    import traceback

    from cronsync import __version__

    versions = f"cronsync {__version__}, Python {sys.version.split()[0]}"
    head = f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {command} ({versions})\n"
    details = head + "".join(traceback.format_exception(exc)) + "\n"
    if redact is not None:
        details = redact(details)
    where = _keep(details, os.path.join(user_dir, ERRORS_FILE))
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    place = f" at {os.path.basename(frame[0].filename)}:{frame[0].lineno}" if frame else ""
    return (
        f"unexpected {type(exc).__name__}{place}: this is a bug in cronsync; "
        f"the details are in {where} (please include them in a report)"
    )


def _keep(details: str, path: str) -> str:
    """Append to USER/logs/errors.log (0600, never through a symlink); else a new temp file."""
    from cronsync.userspace.files import make_dirs, open_no_follow

    data = details.encode("utf-8", "replace")
    try:
        make_dirs(os.path.dirname(path))
        fd = open_no_follow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return path
    except OSError:
        import tempfile

        fd, other = tempfile.mkstemp(prefix="cronsync-error-", suffix=".log")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return other
