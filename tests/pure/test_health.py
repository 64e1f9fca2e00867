"""Health: each scheduled instant against the logged runs (cronsync.core.health), by cases and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronsync.core.health import (
    FAILING_RUNS,
    GRACE_MARGIN_SECONDS,
    JobTiming,
    RunRecord,
    classify,
    job_health,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
EVERY_MINUTE = JobTiming("* * * * *", "UTC")
HOURLY = JobTiming("0 * * * *", "UTC", persistent=False)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(minutes: float, status: str = "success", trigger: str = "timer", took: float = 0.1) -> RunRecord:
    start = at(minutes)
    return RunRecord(start, trigger, status, start + timedelta(minutes=took))


def kinds(timing: JobTiming, runs: list[RunRecord], now: float, since: float = -0.5) -> list[str]:
    return [instant.kind for instant in classify(timing, at(since), at(now), runs)]


CASES = [
    # (what, timing, runs (minutes after 10:00), now, kinds of the instants 10:00, 10:01, ...)
    ("every instant ran", EVERY_MINUTE, [run(0.01), run(1.01), run(2.02)], 2.9, ["ran"] * 3),
    ("a gap is missed", EVERY_MINUTE, [run(0.01), run(3.01)], 3.9, ["ran", "missed", "missed", "ran"]),
    ("not judged before its grace ends", EVERY_MINUTE, [run(0.01)], 1.2, ["ran"]),
    ("judged once the grace ended", EVERY_MINUTE, [run(0.01)], 1.6, ["ran", "missed"]),
    ("a manual run answers no instant", EVERY_MINUTE, [run(0.5, trigger="manual")], 0.9, ["missed"]),
    ("an overlap skip is no miss", EVERY_MINUTE, [run(0.01), run(1.01, "skipped")], 1.9, ["ran", "skipped"]),
    (
        "still running at the next instant",
        EVERY_MINUTE,
        [run(0.01, took=2.5)],
        2.9,
        ["ran", "skipped", "skipped"],
    ),
    ("a failed run still ran", EVERY_MINUTE, [run(0.01, "failure")], 0.9, ["ran"]),
    ("hourly run 20 minutes late", HOURLY, [run(20)], 59, ["late"]),
    ("hourly run within grace", HOURLY, [run(GRACE_MARGIN_SECONDS / 60)], 59, ["ran"]),
    ("hourly, nothing", HOURLY, [], 59, ["missed"]),
    ("a run before the window answers nothing", HOURLY, [run(-30)], 59, ["missed"]),
    (
        "persistent catch-up counts for the instant it caught up",
        JobTiming("0 * * * *", "UTC"),
        [run(150)],
        170,
        ["missed", "missed", "caught-up"],
    ),
    (
        "random delay widens the grace",
        JobTiming("0 * * * *", "UTC", random_delay=600, persistent=False),
        [run(9)],
        59,
        ["ran"],
    ),
]


@pytest.mark.parametrize(("what", "timing", "runs", "now", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_instant_is_classified(
    what: str, timing: JobTiming, runs: list[RunRecord], now: float, expected: list[str]
) -> None:
    assert kinds(timing, runs, now) == expected, what


def test_a_catch_up_says_how_late_it_was() -> None:
    instants = classify(JobTiming("0 3 * * *", "UTC"), at(-60 * 8), at(60 * 5), [run(60 * 5 - 1)])
    assert [i.kind for i in instants] == ["caught-up"]
    assert instants[0].at == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert instants[0].late_by == (at(60 * 5 - 1) - instants[0].at).total_seconds()


def test_a_run_in_progress_is_not_a_miss() -> None:
    instants = classify(EVERY_MINUTE, at(-0.5), at(0.9), [], running=True)
    assert [i.kind for i in instants] == ["running"]


def test_the_time_zone_places_the_instants() -> None:
    timing = JobTiming("0 9 * * *", "Europe/Berlin")
    instants = classify(timing, datetime(2026, 3, 2, 0, 0, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC), [])
    assert [i.at.astimezone(UTC).hour for i in instants] == [8]  # 09:00 CET


HEALTH_CASES = [
    ("ok", EVERY_MINUTE, [run(0.01), run(1.01)], 1.9, "ok"),
    ("the latest instant missed", EVERY_MINUTE, [run(0.01)], 2.9, "missed"),
    ("a miss that ran again since is ok", EVERY_MINUTE, [run(0.01), run(2.01)], 2.9, "ok"),
    (
        "the last runs all failed",
        EVERY_MINUTE,
        [run(m + 0.01, "failure") for m in range(FAILING_RUNS)],
        2.9,
        "failing",
    ),
    (
        "fewer failures in a row",
        EVERY_MINUTE,
        [run(0.01), run(1.01, "failure"), run(2.01, "timeout")],
        2.9,
        "ok",
    ),
    (
        "skips do not break a failing streak",
        EVERY_MINUTE,
        [run(0.01, "failure"), run(1.01, "skipped"), run(2.01, "failure"), run(3.01, "timeout")],
        3.9,
        "failing",
    ),
    (
        "a replaced run does not break a failing streak either",
        EVERY_MINUTE,
        [run(0.01, "failure"), run(1.01, "replaced"), run(2.01, "failure"), run(3.01, "timeout")],
        3.9,
        "failing",
    ),
    (
        "missed beats failing",
        EVERY_MINUTE,
        [run(m + 0.01, "failure") for m in range(FAILING_RUNS)],
        4.9,
        "missed",
    ),
    ("late", HOURLY, [run(20)], 59, "late"),
    ("nothing due yet, nothing ran", HOURLY, [], -1, "never-ran"),
]


@pytest.mark.parametrize(
    ("what", "timing", "runs", "now", "expected"), HEALTH_CASES, ids=[c[0] for c in HEALTH_CASES]
)
def test_health(what: str, timing: JobTiming, runs: list[RunRecord], now: float, expected: str) -> None:
    since = at(-0.5) if now >= 0 else at(now - 1)
    assert job_health(timing, since, at(now), runs).health == expected, what


def test_health_of_a_disabled_job_and_of_an_unknown_install() -> None:
    disabled = JobTiming("* * * * *", "UTC", enabled=False)
    assert job_health(disabled, at(-0.5), at(5), []).health == "disabled"
    assert job_health(EVERY_MINUTE, None, at(5), []).health == "never-ran"
    assert job_health(EVERY_MINUTE, None, at(5), [run(0.01)]).health == "ok"


def test_missed_count_and_last_missed() -> None:
    health = job_health(EVERY_MINUTE, at(-0.5), at(5.9), [run(0.01), run(3.01)])
    assert health.missed_runs == 4 and health.last_missed == at(5)  # 10:01, 10:02, 10:04, 10:05
    assert health.health == "missed"


# --- properties ---

minutes = st.integers(0, 24 * 60 - 1)
schedules = st.sampled_from(["* * * * *", "*/5 * * * *", "0 * * * *", "30 9 * * 1-5", "0,15 */2 * * *"])


@settings(max_examples=150, deadline=None)
@given(schedules, st.lists(minutes, max_size=40), minutes)
def test_every_run_answers_at_most_one_instant_and_no_instant_is_answered_twice(
    cron: str, starts: list[int], now: int
) -> None:
    runs = [run(m) for m in sorted(set(starts))]
    instants = classify(JobTiming(cron, "UTC"), at(-0.5), at(now), runs)
    answered = [i.run_start for i in instants if i.run_start is not None]
    assert len(answered) == len(set(answered))
    assert set(answered) <= {r.start for r in runs}
    assert [i.at for i in instants] == sorted({i.at for i in instants})
    for instant in instants:
        assert at(-0.5) < instant.at <= at(now)
        if instant.run_start is not None:
            assert instant.run_start >= instant.at - timedelta(seconds=2)


@settings(max_examples=150, deadline=None)
@given(schedules, minutes)
def test_a_run_at_every_instant_leaves_nothing_missed(cron: str, now: int) -> None:
    timing = JobTiming(cron, "UTC")
    every = classify(timing, at(-0.5), at(now), [])
    runs = [
        RunRecord(i.at + timedelta(seconds=1), "timer", "success", i.at + timedelta(seconds=2)) for i in every
    ]
    judged = classify(timing, at(-0.5), at(now), runs)
    assert all(i.kind == "ran" for i in judged)
    assert job_health(timing, at(-0.5), at(now), runs).health in ("ok", "never-ran")


@settings(max_examples=150, deadline=None)
@given(schedules, st.lists(minutes, max_size=40), minutes, st.integers(1, 600))
def test_adding_a_run_never_adds_a_miss(cron: str, starts: list[int], now: int, extra: int) -> None:
    timing = JobTiming(cron, "UTC")
    runs = [run(m) for m in sorted(set(starts))]
    before = job_health(timing, at(-0.5), at(now), runs).missed_runs
    more = sorted([*runs, run(extra / 10)], key=lambda r: r.start)
    assert job_health(timing, at(-0.5), at(now), more).missed_runs <= before


@settings(max_examples=100, deadline=None)
@given(schedules, minutes)
def test_with_no_runs_every_judged_instant_is_missed(cron: str, now: int) -> None:
    instants = classify(JobTiming(cron, "UTC"), at(-0.5), at(now), [])
    assert all(i.kind == "missed" for i in instants)
    assert all(i.at + JobTiming(cron).grace < at(now) for i in instants)


def test_a_fleet_run_etcd_could_not_claim_is_missed_and_one_another_host_ran_is_not() -> None:
    from cronsync.userspace.runhealth import run_record

    def logged(minutes: float, **fields: object) -> RunRecord:
        start = at(minutes).isoformat()
        record = run_record({"start": start, "end": start, "trigger": "timer", "status": "skipped", **fields})
        assert record is not None
        return record

    unclaimed = logged(0.01, fleet_error="etcd unreachable (http://10.0.0.2:2379: timed out)")
    ran_elsewhere = logged(1.01, ran_on="nas", slot="2026-03-02T10:01:00Z")
    assert kinds(EVERY_MINUTE, [unclaimed, ran_elsewhere], 1.9) == ["missed", "skipped"]
