"""`cronsync run` waits for the run it started, read as the manager answers: in several calls, the active
state first, so one reading can be torn between before and after the run began."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cronsync import CronsyncError
from cronsync.adapters.systemd import UnitState
from cronsync.apply.systemd import wait_for_run_end

SERVICE = "cronsync-job.service"
NEVER_RAN = UnitState(SERVICE, load_state="loaded", active_state="inactive")


def reader(*states: UnitState) -> Callable[[], UnitState]:
    """The manager's answers in turn; the last one again once they run out."""
    answers: Iterator[UnitState] = iter(states)

    def read() -> UnitState:
        nonlocal last
        last = next(answers, last)
        return last

    last = states[0]
    return read


def run_state(
    active: str, *, start: int, exit_at: int = 0, status: int = 0, result: str = "success"
) -> UnitState:
    return UnitState(
        SERVICE,
        load_state="loaded",
        active_state=active,
        result=result,
        exec_start_usec=start,
        exec_exit_usec=exit_at,
        exit_status=status,
    )


def test_a_reading_torn_across_the_start_is_not_taken_for_the_end() -> None:
    # inactive from before the start, with the new run's start time: the run has only begun
    torn = run_state("inactive", start=1_000)
    running = run_state("active", start=1_000)
    ended = run_state("failed", start=1_000, exit_at=2_000, status=78, result="exit-code")
    state = wait_for_run_end(reader(torn, running, ended), NEVER_RAN)
    assert (state.exit_status, state.result) == (78, "exit-code")


def test_a_run_that_ended_before_the_first_reading_is_taken_at_once() -> None:
    ended = run_state("inactive", start=1_000, exit_at=1_500, status=0)
    assert wait_for_run_end(reader(ended), NEVER_RAN) == ended


def test_the_last_runs_end_is_never_this_runs() -> None:
    last_run = run_state("failed", start=500, exit_at=600, status=1, result="exit-code")
    this_run = run_state("inactive", start=1_000, exit_at=1_200, status=0)
    state = wait_for_run_end(reader(last_run, last_run, this_run), last_run)
    assert state == this_run


def test_a_run_that_never_starts_is_an_error_naming_the_service() -> None:
    with pytest.raises(CronsyncError, match=f"{SERVICE} did not start within 0.3 s"):
        wait_for_run_end(reader(NEVER_RAN), NEVER_RAN, start_wait=0.3)
