"""`cronsync history`: the last runs from the real log written by real `cronsync exec` runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import cronsync
from tests.support.exectools import make_space, run_exec, script_job


def test_history_lists_runs_filters_and_limits(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job("Good Job", "ok.sh"), script_job("Bad Job", "bad.sh")],
        {"log": {"max_bytes": 4096, "keep": 5}},
        scripts={"ok.sh": "#!/bin/sh\necho fine\n", "bad.sh": "#!/bin/sh\nexit 5\n"},
    )
    for job in ("good-job", "bad-job", "good-job", "good-job"):
        run_exec(user, job)
    table = cronsync("history", user_dir=user)
    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["START", "JOB", "TRIGGER", "STATUS", "DURATION", "EXIT"]
    assert [row.split()[2] for row in rows] == ["good-job", "bad-job", "good-job", "good-job"]
    assert rows[1].split()[-3:-2] == ["failure"] and rows[1].split()[-1] == "5"

    by_name = json.loads(cronsync("history", "Good Job", "-n", "2", "--json", user_dir=user).stdout)
    assert [r["job_id"] for r in by_name] == ["good-job", "good-job"]
    everything = json.loads(cronsync("history", "--json", user_dir=user).stdout)
    assert by_name == everything[-2:]

    empty = cronsync("history", "never-ran", user_dir=user)
    assert empty.returncode == 0 and "no runs of 'never-ran'" in empty.stdout


def test_history_reads_rotated_files_in_order(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job("Big", "big.sh")],
        {"log": {"max_bytes": 4096, "keep": 5, "excerpt_bytes": 1500}},
        scripts={"big.sh": "#!/bin/sh\nhead -c 1500 /dev/zero | tr '\\0' 'q'\n"},
    )
    for _ in range(6):
        run_exec(user, "big")
    assert (user / "logs" / "scheduler.log.1").exists()
    runs = json.loads(cronsync("history", "--json", "-n", "100", user_dir=user).stdout)
    assert len(runs) == 6
    assert [r["start"] for r in runs] == sorted(r["start"] for r in runs)
