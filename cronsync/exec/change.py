"""`notify.on: "change"`: tell the first failure after a success and the first success after failures.

Imported only for a job with that setting: it reads the job's previous records from scheduler.log
(newest first, stopping at the first that decides). Skipped and replaced runs never count.
"""

from __future__ import annotations

from cronsync.core.outcomes import failed_in_a_row
from cronsync.userspace.paths import LOG_FILE
from cronsync.userspace.runlog import job_records_newest_first

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from cronsync.exec.run import Run


def failures_before(run: Run) -> int:
    """How many runs in a row before this one failed (undecided ones aside); 0 after a success or for a
    first run."""
    records = job_records_newest_first(run.space.path(LOG_FILE), run.job["id"], run.log_settings["keep"])
    return failed_in_a_row(record.get("status") for record in records)
