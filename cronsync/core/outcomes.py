"""What a run's status says of its job, one rule for the watchdog's "failing" and notify's "change".

No imports at module level: exec loads it for a job with `notify.on: "change"`."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

FAILED = ("failure", "timeout")
# Neither a success nor a failure: a skip ran nothing of the job; a replaced run was stopped by the next
# scheduled run, as its overlap policy asks, before it could end either way.
UNDECIDED = ("skipped", "replaced")


def failed_in_a_row(statuses_newest_first: Iterable[object]) -> int:
    """How many of the latest runs failed, undecided runs aside, back to the last one that did not."""
    count = 0
    for status in statuses_newest_first:
        if status in UNDECIDED:
            continue
        if status not in FAILED:
            break
        count += 1
    return count
