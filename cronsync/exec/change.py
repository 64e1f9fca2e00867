"""`notify.on: "change"`: tell the first failure after a success and the first success after failures.

Imported only for a job with that setting: it reads the job's previous records from scheduler.log
(newest first, stopping at the first that decides). Skipped runs never count.
"""

from __future__ import annotations

from cronsync.userspace.paths import LOG_FILE
from cronsync.userspace.runlog import job_records_newest_first

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from cronsync.exec.run import Run

FAILED = ("failure", "timeout")


def failures_before(run: Run) -> int:
    """How many runs in a row before this one failed (skips aside); 0 after a success or for a first run."""
    count = 0
    log = run.space.path(LOG_FILE)
    for record in job_records_newest_first(log, run.job["id"], run.log_settings["keep"]):
        status = record.get("status")
        if status == "skipped":
            continue
        if status not in FAILED:
            break
        count += 1
    return count
