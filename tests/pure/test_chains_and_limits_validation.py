"""`after`, `on_failure` and `limits` checked by validate: each problem on its job (counted from 1) and field,
saying what was wrong and what would be right; unknown names with "did you mean", a cycle with its jobs in
order; `cron` optional only beside `after`. And exec's --trigger for a chained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cronsync.adapters.systemd import version_number
from cronsync.core.chains import manager_starts, next_jobs, shared_targets, systemd_chain_problems
from cronsync.core.jobs import validate_jobs_data
from cronsync.exec.main import parse_argv
from tests.support.cli import cronsync
from tests.support.userspaces import write_jobs


def job(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "cron": "0 3 * * *",
        "action": "script",
        "payload": {"path": "scripts/clean_tmp.py"},
        **extra,
    }


def errors_of(user_dir: Path, jobs: list[dict[str, Any]]) -> list[str]:
    write_jobs(user_dir, jobs)
    result = cronsync("--user-dir", str(user_dir), "validate")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
    return [line.removeprefix(f"error: {user_dir}/config/") for line in result.stderr.splitlines()]


def test_unknown_names_are_said_with_did_you_mean_and_a_cycle_with_its_jobs_in_order(user_dir: Path) -> None:
    errors = errors_of(
        user_dir,
        [
            job("Fetch Mail"),
            job("Sort", after=["fetch mail"], on_failure=["Alret Me"]),
            job("Alert Me", on_failure=["Nobody At All"]),
            job("Loop A", after=["Loop C"]),
            job("Loop B", after=["Loop A"]),
            job("Loop C", after=["Loop B"]),
            job("Selfish", after=["Selfish"]),
        ],
    )
    assert errors == [
        "jobs.json, job #2 ('Sort'), field 'after[0]': no job is named 'fetch mail'; "
        """did you mean 'Fetch Mail'? (jobs are named as in their "name")""",
        "jobs.json, job #2 ('Sort'), field 'on_failure[0]': no job is named 'Alret Me'; "
        "did you mean 'Alert Me'?",
        "jobs.json, job #3 ('Alert Me'), field 'on_failure[0]': no job is named 'Nobody At All'; "
        "the jobs are: "
        "'Fetch Mail', 'Sort', 'Alert Me', 'Loop A', 'Loop B', 'Loop C', 'Selfish'",
        "jobs.json, job #4 ('Loop A'), field 'after[0]': after/on_failure form a cycle: "
        "'Loop A' -> 'Loop B' -> "
        "'Loop C' -> 'Loop A' (each run would start the next for ever); remove one of these links",
        "jobs.json, job #7 ('Selfish'), field 'after[0]': a job cannot wait for itself; name another job",
    ]


def test_a_cycle_through_on_failure_is_refused_on_the_field_that_closes_it(user_dir: Path) -> None:
    errors = errors_of(user_dir, [job("A", on_failure=["B"]), job("B", on_failure=["A"])])
    assert errors == [
        "jobs.json, job #2 ('B'), field 'on_failure[0]': after/on_failure form a cycle: 'A' -> 'B' -> 'A' "
        "(each run would start the next for ever); remove one of these links"
    ]


def test_cron_may_be_left_out_only_beside_after(user_dir: Path) -> None:
    bare = {k: v for k, v in job("Bare").items() if k != "cron"}
    errors = errors_of(user_dir, [job("First"), bare, {**bare, "name": "Chained", "after": ["First"]}])
    assert errors == [
        "jobs.json, job #2 ('Bare'), field 'cron': required field is missing: give a schedule such as "
        '"cron": "0 9 * * 1-5", or "after": ["<name of another job>"] to run it when that job succeeds'
    ]


@pytest.mark.parametrize(
    ("limits", "field", "message"),
    [
        (
            {"nice": -5},
            "nice",
            "-5 would raise the job's priority, which only root may do; use 0 (normal) to 19",
        ),
        ({"nice": 20}, "nice", "20 is past the nicest level; use 0 (normal) to 19 (nicest)"),
        ({"nice": "10"}, "nice", "Input should be a valid integer"),
        ({"io": "realtime"}, "io", '"realtime" I/O needs root; use "best-effort" (the default) or "idle"'),
        ({"io": "lazy"}, "io", '\'lazy\' is not an I/O class cronsync sets; use "best-effort" or "idle"'),
        ({"cpu_weight": 0}, "cpu_weight", "0 is out of range for the CPU weight: use 1 to 10000"),
        (
            {"memory_max": "1 gig"},
            "memory_max",
            "'1 gig' is not a size; use bytes (1073741824) or a size with K",
        ),
        (
            {"memory_max": 4096},
            "memory_max",
            '4096 bytes is too little for any job to start; use at least "1M"',
        ),
        ({"tasks_max": 0}, "tasks_max", "0 is out of range for the number of tasks: use 1 to 4194304"),
        ({"threads": 2}, "threads", "unknown field; known fields here: nice, io, cpu_weight, memory_max"),
        ({"memory": "1G"}, "memory", "unknown field; did you mean 'memory_max'?"),
    ],
)
def test_each_limit_is_checked_with_its_field_named(
    user_dir: Path, limits: dict[str, Any], field: str, message: str
) -> None:
    (error,) = errors_of(user_dir, [job("Limited", limits=limits)])
    assert error.startswith(f"jobs.json, job #1 ('Limited'), field 'limits.{field}': {message}"), error


def test_sizes_are_read_as_systemd_reads_them() -> None:
    jobs, problems = validate_jobs_data([job("A", limits={"memory_max": "1G", "nice": 10})], "jobs.json")
    assert problems == [] and jobs[0].limits is not None and jobs[0].limits.memory_max == 1024**3


def test_a_run_starts_only_enabled_jobs() -> None:
    jobs, problems = validate_jobs_data(
        [
            job("A", on_failure=["X", "Off"]),
            job("B", after=["A"]),
            job("Off", after=["A"], enabled=False),
            job("X"),
        ],
        "jobs.json",
    )
    assert problems == []
    assert next_jobs(jobs) == {"a": {"success": ["b"], "failure": ["x"]}}


def test_a_job_several_jobs_start_is_left_to_exec_on_systemd() -> None:
    jobs, problems = validate_jobs_data(
        [job("A", on_failure=["Alert"]), job("B", on_failure=["Alert"]), job("C", after=["A"]), job("Alert")],
        "jobs.json",
    )
    assert problems == []
    chained = next_jobs(jobs)
    assert shared_targets(chained) == {"alert"}
    assert manager_starts(chained) == {
        "a": {"success": ["c"], "failure": []},
        "b": {"success": [], "failure": []},
    }


def test_chains_on_a_systemd_older_than_251_are_refused_with_what_would_work() -> None:
    jobs, problems = validate_jobs_data(
        [job("A", on_failure=["X"]), job("B", after=["A"]), job("X")], "jobs.json"
    )
    assert problems == []
    refused = systemd_chain_problems("jobs.json", jobs, 250)
    assert [(p.job_name, p.field) for p in refused] == [("A", "on_failure"), ("B", "after")]
    assert "needs systemd 251 or later" in refused[0].message and "systemd 250" in refused[0].message
    assert "--backend crontab" in refused[0].message
    assert systemd_chain_problems("jobs.json", jobs, 251) == []
    assert systemd_chain_problems("jobs.json", jobs, None) == []  # a manager that does not say


@pytest.mark.parametrize(
    ("text", "version"),
    [("252.36-1~deb12u1", 252), ("247 (247.3-7+deb11u4)", 247), ("v255", None), ("", None)],
)
def test_the_managers_version_is_read_as_a_number(text: str, version: int | None) -> None:
    assert version_number(text) == version


@pytest.mark.parametrize(
    ("trigger", "accepted"),
    [
        ("timer", True),
        ("manual", True),
        ("after:fetch-mail", True),
        ("on_failure:fetch-mail", True),
        ("after:", False),
        ("after:Fetch Mail", False),
        ("before:fetch-mail", False),
        ("on_failure", False),
    ],
)
def test_exec_takes_a_chained_runs_trigger(trigger: str, accepted: bool) -> None:
    parsed = parse_argv(["exec", "b", "--trigger", trigger])
    assert (parsed is not None) is accepted
    if parsed is not None:
        assert parsed[3] == trigger
