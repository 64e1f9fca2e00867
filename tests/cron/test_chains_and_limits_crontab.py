"""`after`, `on_failure` and `limits` under a real cron daemon: exec starts the next job itself, detached
(the first run's end does not wait for it, and it holds none of the first run's locks), with a trigger that
names the run that started it; the job's own process sets nice, its I/O class and its rlimits."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.cli import cronsync_in
from tests.support.exectools import log_records, make_space, script_job
from tests.support.harness import CronDaemon, wait_for

FETCH = "#!/bin/sh\n[ -e {t}/fail ] && {{ echo failing >&2; exit 1; }}\necho fetched\n"
# Runs a while (until `go` is gone) so that the test can look at it running.
SLOW = """#!/bin/sh
touch {t}/sorting
while [ -e {t}/go ]; do sleep 0.1; done
echo "trigger=$CRONSYNC_TRIGGER"
"""
SEES = '#!/bin/sh\necho "nice=$(nice) io=$(ionice)"\n'
HOG = "#!/usr/bin/env python3\nblock = bytearray(300 * 1024 * 1024)\nprint('allocated', len(block))\n"


def records_of(user: Path, job_id: str) -> list[dict[str, object]]:
    return [record for record in log_records(user) if record["job_id"] == job_id]


def run(daemon: CronDaemon, user: Path, job: str) -> int:
    return cronsync_in(daemon, user, "run", "--backend", "crontab", job).returncode


def test_after_and_on_failure_under_cron(cron_daemon: CronDaemon, tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [
            script_job("Fetch Mail", "fetch.sh", on_failure=["Alert Me"]),
            {
                k: v
                for k, v in script_job("Sort Mail", "slow.sh", after=["Fetch Mail"]).items()
                if k != "cron"
            },
            script_job("Alert Me", "fetch.sh", cron="@yearly"),
        ],
        scripts={"fetch.sh": FETCH.format(t=tmp_path), "slow.sh": SLOW.format(t=tmp_path)},
    )
    applied = cronsync_in(cron_daemon, user, "apply", "--backend", "crontab")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    crontab = cron_daemon.crontab()
    assert "cronsync:fetch-mail" in crontab and "sort-mail" not in crontab
    shown = json.loads(cronsync_in(cron_daemon, user, "status", "--json").stdout)
    installed = {row["id"]: row["installed"] for row in shown["jobs"]}
    # sort-mail has no entry, and needs none: exec starts it
    assert installed == {"fetch-mail": "in-sync", "sort-mail": "in-sync", "alert-me": "in-sync"}

    (tmp_path / "go").touch()
    began = time.monotonic()
    assert run(cron_daemon, user, "fetch-mail") == 0
    assert wait_for((tmp_path / "sorting").exists, 30)
    assert time.monotonic() - began < 20 and not records_of(user, "sort-mail")  # fetch's end did not wait
    # the chained run holds none of fetch's locks: fetch runs again beside it
    assert run(cron_daemon, user, "fetch-mail") == 0
    # the second fetch's chained run finds the first still going: skipped, as sort-mail's overlap says.
    # It is detached, so it may start late: the first is held running until the skip is on record.
    assert wait_for(lambda: records_of(user, "sort-mail"), 30)
    assert [r["status"] for r in records_of(user, "sort-mail")] == ["skipped"]
    (tmp_path / "go").unlink()
    assert wait_for(lambda: len(records_of(user, "sort-mail")) == 2, 30)
    by_status = {str(r["status"]): r for r in records_of(user, "sort-mail")}
    assert sorted(by_status) == ["skipped", "success"]
    assert {str(r["trigger"]) for r in by_status.values()} == {"after:fetch-mail"}
    assert "trigger=after:fetch-mail" in str(by_status["success"]["excerpt"])
    assert records_of(user, "alert-me") == []

    (tmp_path / "fail").touch()
    assert run(cron_daemon, user, "fetch-mail") == 1
    assert wait_for(lambda: records_of(user, "alert-me"), 30)
    assert records_of(user, "alert-me")[0]["trigger"] == "on_failure:fetch-mail"
    time.sleep(1)
    assert len(records_of(user, "sort-mail")) == 2  # not after a failed run


def test_limits_under_cron_are_set_by_the_jobs_process(cron_daemon: CronDaemon, tmp_path: Path) -> None:
    limits = {"nice": 10, "io": "idle", "cpu_weight": 20, "memory_max": "128M", "tasks_max": 50}
    user = make_space(
        tmp_path,
        [script_job("Limited", "sees.sh", limits=limits), script_job("Hog", "hog.py", limits=limits)],
        scripts={"sees.sh": SEES, "hog.py": HOG},
    )
    assert cronsync_in(cron_daemon, user, "apply", "--backend", "crontab").returncode == 0
    assert run(cron_daemon, user, "limited") == 0
    assert str(records_of(user, "limited")[0]["excerpt"]).startswith("nice=10 io=idle")
    # the address-space rlimit: the allocation past memory_max fails in the job, not in exec
    assert run(cron_daemon, user, "hog") == 1
    (hog,) = records_of(user, "hog")
    assert hog["status"] == "failure" and "MemoryError" in str(hog.get("stderr_excerpt")), hog
