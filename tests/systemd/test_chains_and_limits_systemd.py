"""`after`, `on_failure` and `limits` under a real user manager: OnSuccess=/OnFailure= start the next jobs'
services (a skipped run starts none), each chained run's record names the run that started it, and the
limits are the service's (read back from the manager, and seen by the job itself)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from cronsync.adapters.systemd import SystemctlManager, connect, delegated_controllers
from cronsync.core.chains import SYSTEMD_CHAINS
from tests.support.cli import apply_json, cronsync
from tests.support.exectools import exec_argv, log_records, make_space, script_job
from tests.support.harness import UserManager, wait_for

# Fails while `fail` exists; while `hold` exists, marks `held` and waits, then fails (exit 3).
FETCH = """#!/bin/sh
if [ -e {t}/hold ]; then touch {t}/held; while [ -e {t}/hold ]; do sleep 0.1; done; exit 3; fi
[ -e {t}/fail ] && {{ echo failing >&2; exit 1; }}
echo fetched
"""
SEES = '#!/bin/sh\necho "nice=$(nice) io=$(ionice) trigger=$CRONSYNC_TRIGGER"\n'


def records_of(user: Path, job_id: str) -> list[dict[str, object]]:
    return [record for record in log_records(user) if record["job_id"] == job_id]


def installed_chain(manager: UserManager, tmp_path: Path) -> Path:
    user = make_space(
        tmp_path,
        [
            script_job("Fetch Mail", "fetch.sh", on_failure=["Alert Me"]),
            {
                k: v
                for k, v in script_job("Sort Mail", "sees.sh", after=["Fetch Mail"]).items()
                if k != "cron"
            },
            script_job("Alert Me", "sees.sh", cron="@yearly"),
        ],
        scripts={"fetch.sh": FETCH.format(t=tmp_path), "sees.sh": SEES},
    )
    apply_json(user)
    manager.systemctl("stop", "cronsync-sync.path", check=False)
    return user


def test_after_runs_on_success_only_and_on_failure_on_failure(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user = installed_chain(systemd_user, tmp_path)
    assert systemd_user.show("cronsync-sort-mail.timer", "LoadState")["LoadState"] == "not-found"
    fetch = systemd_user.show("cronsync-fetch-mail.service", "OnSuccess", "OnFailure")
    assert fetch == {"OnSuccess": "cronsync-sort-mail.service", "OnFailure": "cronsync-alert-me.service"}

    assert cronsync("run", "fetch-mail", user_dir=user).returncode == 0
    assert wait_for(lambda: records_of(user, "sort-mail"), 30)
    (sorted_run,) = records_of(user, "sort-mail")
    assert sorted_run["trigger"] == "after:fetch-mail" and sorted_run["status"] == "success"
    assert "trigger=after:fetch-mail" in str(sorted_run["excerpt"])
    time.sleep(1)
    assert records_of(user, "alert-me") == []

    (tmp_path / "fail").touch()
    assert cronsync("run", "fetch-mail", user_dir=user).returncode == 1
    assert wait_for(lambda: records_of(user, "alert-me"), 30)
    (alert,) = records_of(user, "alert-me")
    assert alert["trigger"] == "on_failure:fetch-mail"
    time.sleep(1)
    assert len(records_of(user, "sort-mail")) == 1  # not after a failed run


def test_a_skipped_run_starts_no_after_job_and_a_run_outside_the_unit_starts_them_itself(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user = installed_chain(systemd_user, tmp_path)
    (tmp_path / "hold").touch()
    holding = subprocess.Popen(
        exec_argv(user, "fetch-mail"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert wait_for((tmp_path / "held").exists, 30)
        # the service's run is skipped (exit 75, a success to systemd): OnSuccess= starts sort-mail's service,
        # whose exec sees $MONITOR_EXIT_STATUS=75 and runs nothing
        systemd_user.systemctl("start", "cronsync-fetch-mail.service")
        assert systemd_user.show("cronsync-fetch-mail.service", "ExecMainStatus")["ExecMainStatus"] == "75"
        assert wait_for(lambda: "was skipped" in " ".join(systemd_user.journal("cronsync-sort-mail")), 30)
        assert records_of(user, "sort-mail") == []
    finally:
        (tmp_path / "hold").unlink()
        holding.wait(timeout=60)
    # the held run (not the unit's) failed: exec itself started on_failure's job
    assert wait_for(lambda: records_of(user, "alert-me"), 30)
    assert records_of(user, "alert-me")[0]["trigger"] == "on_failure:fetch-mail"
    assert records_of(user, "sort-mail") == []


LIMITS = {"nice": 10, "io": "idle", "cpu_weight": 20, "memory_max": "64M", "tasks_max": 50}
HOG = "#!/usr/bin/env python3\nblock = bytearray(200 * 1024 * 1024)\nprint('allocated', len(block))\n"


def test_limits_are_the_services_and_the_job_sees_nice_and_io_class(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    user = make_space(
        tmp_path,
        [script_job("Limited", "sees.sh", limits=LIMITS)],
        scripts={"sees.sh": SEES},
    )
    apply_json(user)
    shown = systemd_user.show(
        "cronsync-limited.service", "Nice", "IOSchedulingClass", "CPUWeight", "MemoryMax", "TasksMax"
    )
    assert shown == {
        "Nice": "10",
        "IOSchedulingClass": "3",  # idle
        "CPUWeight": "20",
        "MemoryMax": str(64 * 1024 * 1024),
        "TasksMax": "50",
    }
    assert cronsync("run", "limited", user_dir=user).returncode == 0
    (record,) = records_of(user, "limited")
    assert str(record["excerpt"]).startswith("nice=10 io=idle"), record


def test_a_job_past_memory_max_is_killed_and_logged_as_such(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    controllers, where = delegated_controllers(SystemctlManager())
    if "memory" not in controllers:  # MemoryMax= is still read back by the test above
        pytest.skip(f"MemoryMax= is not enforced here: the user manager has no memory controller ({where})")
    user = make_space(tmp_path, [script_job("Hog", "hog.py", limits=LIMITS)], scripts={"hog.py": HOG})
    apply_json(user)
    assert cronsync("run", "hog", user_dir=user).returncode != 0
    (hog,) = records_of(user, "hog")
    assert hog["status"] == "failure" and "out-of-memory killer" in str(hog.get("error")), hog


def test_the_user_managers_version_is_read_alike_by_both_ways_to_reach_it(systemd_user: UserManager) -> None:
    shown = subprocess.run(
        ["systemctl", "--user", "show", "--property=Version", "--value"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = int(shown.split(".")[0].split()[0])
    manager = connect()
    assert manager is not None and manager.version() == expected
    assert SystemctlManager().version() == expected
    assert expected >= SYSTEMD_CHAINS  # this machine's: the chain tests above run on OnSuccess=


def test_a_job_two_jobs_start_knows_which_run_started_it_and_a_skip_still_starts_nothing(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    # systemd passes $MONITOR_* only to a handler one unit lists: exec starts a shared one through the manager
    digest = script_job("Digest", "sees.sh", after=["Fetch Mail", "Fetch News"])
    user = make_space(
        tmp_path,
        [
            script_job("Fetch Mail", "fetch.sh", on_failure=["Alert Me"]),
            script_job("Fetch News", "fetch.sh", on_failure=["Alert Me"]),
            {k: v for k, v in digest.items() if k != "cron"},
            script_job("Alert Me", "sees.sh", cron="@yearly"),
        ],
        scripts={"fetch.sh": FETCH.format(t=tmp_path), "sees.sh": SEES},
    )
    apply_json(user)
    systemd_user.systemctl("stop", "cronsync-sync.path", check=False)
    named = systemd_user.show("cronsync-fetch-mail.service", "OnSuccess", "OnFailure")
    assert named == {"OnSuccess": "", "OnFailure": ""}
    assert cronsync("run", "fetch-news", user_dir=user).returncode == 0
    assert wait_for(lambda: records_of(user, "digest"), 30)
    assert records_of(user, "digest")[0]["trigger"] == "after:fetch-news"
    assert "trigger=after:fetch-news" in str(records_of(user, "digest")[0]["excerpt"])
    (tmp_path / "fail").touch()
    assert cronsync("run", "fetch-mail", user_dir=user).returncode == 1
    assert wait_for(lambda: records_of(user, "alert-me"), 30)
    assert records_of(user, "alert-me")[0]["trigger"] == "on_failure:fetch-mail"
    (tmp_path / "fail").unlink()
    (tmp_path / "hold").touch()
    holding = subprocess.Popen(
        exec_argv(user, "fetch-mail"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert wait_for((tmp_path / "held").exists, 30)
        systemd_user.systemctl("start", "cronsync-fetch-mail.service")  # skipped (exit 75)
        assert systemd_user.show("cronsync-fetch-mail.service", "ExecMainStatus")["ExecMainStatus"] == "75"
    finally:
        (tmp_path / "hold").unlink()
        holding.wait(timeout=60)
    time.sleep(1)
    assert len(records_of(user, "digest")) == 1  # the skipped run started nothing
