"""Validation of the fleet's fields: jobs' `hosts` and `run_on`, settings.json `fleet`; each problem with its
job (counted from 1) or setting, what was wrong and what would be right. And `hosts` deciding which jobs are
this machine's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cronsync.config import load_config
from cronsync.core.errors import InvalidInput
from cronsync.userspace.paths import UserSpace
from tests.support.exectools import make_space, script_job

FLEET = {"fleet": {"etcd": ["http://127.0.0.1:2379"], "host": "nas"}}


def problems(tmp_path: Path, job: dict[str, Any], settings: dict[str, Any] | None = None) -> list[str]:
    user = make_space(tmp_path, [script_job("Other", "a.sh"), job], settings, scripts={"a.sh": "#!/bin/sh\n"})
    with pytest.raises(InvalidInput) as info:
        load_config(UserSpace(user))
    return [str(p) for p in info.value.problems]


def test_the_issue_s_fields_are_valid_and_hosts_decide_what_is_here(tmp_path: Path) -> None:
    jobs = [
        script_job("Backup", "a.sh", hosts=["nas", "laptop"], run_on="one"),
        script_job("Scrub", "a.sh", hosts=["laptop"]),
        script_job("Tidy", "a.sh"),
    ]
    user = make_space(tmp_path, jobs, FLEET, scripts={"a.sh": "#!/bin/sh\n"})
    config = load_config(UserSpace(user))
    assert [job.id for job in config.jobs] == ["backup", "tidy"]
    assert [job.id for job in config.elsewhere] == ["scrub"]
    assert config.settings.fleet is not None and config.settings.fleet.prefix == "/cronsync"
    assert config.settings.fleet.when_unreachable == "skip" and config.settings.fleet.failover_delay == 10


@pytest.mark.parametrize(
    ("job", "settings", "field", "words"),
    [
        ({"run_on": "one"}, None, "run_on", 'run_on "one" needs settings.json "fleet"'),
        ({"run_on": "once"}, FLEET, "run_on", "'each' or 'one'"),
        ({"run_on": "one", "cron": "@every 5m"}, FLEET, "run_on", "'@every 5m' has none"),
        ({"run_on": "one", "cron": "@reboot"}, FLEET, "run_on", "@reboot and @every count on each"),
        ({"hosts": []}, FLEET, "hosts", "at least 1 item"),
        ({"hosts": ["nas", "nas"]}, FLEET, "hosts", "lists 'nas' more than once"),
        ({"hosts": ["my laptop"]}, FLEET, "hosts[0]", "should match pattern"),
        ({"hosts": "nas"}, FLEET, "hosts", "list"),
    ],
)
def test_job_fields(
    tmp_path: Path, job: dict[str, Any], settings: dict[str, Any] | None, field: str, words: str
) -> None:
    (problem,) = problems(tmp_path, script_job("Backup", "a.sh", **job), settings)
    assert f"job #2 ('Backup'), field '{field}'" in problem and words in problem, problem


def test_a_job_run_only_after_others_cannot_be_run_on_one(tmp_path: Path) -> None:
    job = script_job("Sort", "a.sh", after=["Other"], run_on="one")
    del job["cron"]
    (problem,) = problems(tmp_path, job, FLEET)
    assert "field 'run_on'" in problem and 'needs a "cron" of its own' in problem, problem


@pytest.mark.parametrize(
    ("fleet", "field", "words"),
    [
        ({}, "fleet.etcd", "required field is missing"),
        ({"etcd": []}, "fleet.etcd", "at least 1 item"),
        ({"etcd": ["10.0.0.2:2379"]}, "fleet.etcd", "write http://HOST:2379 or https://HOST:2379"),
        ({"etcd": ["http://x:2379"], "prefix": "cronsync"}, "fleet.prefix", "start it with /"),
        ({"etcd": ["http://x:2379"], "prefix": "/cronsync/"}, "fleet.prefix", "end it without one"),
        (
            {"etcd": ["http://x:2379"], "when_unreachable": "retry"},
            "fleet.when_unreachable",
            "'skip' or 'run'",
        ),
        ({"etcd": ["http://x:2379"], "user": "root"}, "fleet", "user and password_env go together"),
        ({"etcd": ["http://x:2379"], "cert": "/c.pem"}, "fleet", "cert and key go together"),
        ({"etcd": ["http://x:2379"], "lease_ttl": 0}, "fleet.lease_ttl", "greater than 0"),
        ({"etcd": ["http://x:2379"], "hots": "nas"}, "fleet.hots", "did you mean 'host'"),
    ],
)
def test_fleet_settings(tmp_path: Path, fleet: dict[str, Any], field: str, words: str) -> None:
    found = problems(tmp_path, script_job("Backup", "a.sh"), {"fleet": fleet})
    assert any(f"field '{field}'" in p and words in p for p in found), found


def test_a_chain_between_jobs_with_no_host_in_common_is_refused(tmp_path: Path) -> None:
    fetch = script_job("Fetch", "a.sh", hosts=["nas"])
    sort = script_job("Sort", "a.sh", after=["Fetch"], hosts=["laptop"])
    user = make_space(tmp_path, [fetch, sort], FLEET, scripts={"a.sh": "#!/bin/sh\n"})
    with pytest.raises(InvalidInput) as info:
        load_config(UserSpace(user))
    (problem,) = (str(p) for p in info.value.problems)
    assert "job #2 ('Sort'), field 'after[0]'" in problem and "give both a host in common" in problem
    sort["hosts"] = ["laptop", "nas"]
    user = make_space(tmp_path, [fetch, sort], FLEET, scripts={"a.sh": "#!/bin/sh\n"})
    assert [job.id for job in load_config(UserSpace(user)).jobs] == ["fetch", "sort"]
