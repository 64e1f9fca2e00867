"""Rendering jobs into unit files and crontab lines: the shape, the escaping, the refusals."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from crontab import CronTab
from hypothesis import given, settings
from hypothesis import strategies as st

from cronsync.apply import target
from cronsync.apply.target import installation_target
from cronsync.config import load_config
from cronsync.core import render
from cronsync.core.jobs import MAX_NAME_LENGTH, ScriptJob
from cronsync.core.schedule import on_calendar, parse
from cronsync.resources import templates
from cronsync.userspace.paths import UserSpace
from tests.support.systemd_calendar import verify_units

TEMPLATES = templates()
SERVICE_KEYS = {
    "Description",
    "StartLimitIntervalSec",
    "Type",
    "ExecStart",
    "SyslogIdentifier",
    "SuccessExitStatus",
    "TimeoutStartSec",
}
TIMER_KEYS = {"Description", "OnCalendar", "OnStartupSec", "Persistent", "RandomizedDelaySec", "AccuracySec"}
TIMER_KEYS |= {"Unit", "WantedBy", "FixedRandomDelay", "OnActiveSec", "OnUnitActiveSec"}


def target_for(user_dir: Path) -> render.Target:
    return render.Target(("/opt/cron sync/bin/cronsync",), user_dir, user_dir / "config" / "jobs.json")


def script_job(**fields: object) -> ScriptJob:
    data: dict[str, object] = {
        "name": "Job",
        "cron": "*/5 * * * *",
        "action": "script",
        "payload": {"path": "scripts/clean_tmp.py"},
    }
    data.update(fields)
    return ScriptJob.model_validate(data)


def unit_lines(text: str) -> list[str]:
    """Lines as systemd reads them: it ends a line at LF, CR and NUL (and nothing else)."""
    return re.split(r"\r\n|[\n\r\0]", text)


def directives(text: str) -> list[tuple[str, str]]:
    """(key, value) for every directive line; sections and comments skipped."""
    found = []
    for line in unit_lines(text):
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.append((key, value))
    return found


def test_example_units_have_the_marker_and_every_directive(user_dir: Path) -> None:
    config = load_config(UserSpace(user_dir))
    target = installation_target(config.space)
    units = render.systemd_units(config.jobs, target, TEMPLATES)
    assert set(units) == {
        "cronsync-daily-standup-summary.service",
        "cronsync-daily-standup-summary.timer",
        "cronsync-clean-temp-files.service",
        "cronsync-clean-temp-files.timer",
        "cronsync-sync.path",
        "cronsync-sync.service",
    }
    for text in units.values():
        assert text.splitlines()[0] == f"# Managed by cronsync from {user_dir}/config/jobs.json - do not edit"
    service = dict(directives(units["cronsync-daily-standup-summary.service"]))
    assert service["Type"] == "oneshot"
    assert shlex.split(service["ExecStart"]) == [
        *target.cronsync_argv,
        "--user-dir",
        str(user_dir),
        "exec",
        "daily-standup-summary",
    ]
    assert Path(target.cronsync_argv[0]).is_absolute()
    assert service["SyslogIdentifier"] == "cronsync-daily-standup-summary"
    assert service["SuccessExitStatus"] == "75"
    timer = directives(units["cronsync-daily-standup-summary.timer"])
    expected_calendar = on_calendar(parse("0 9 * * 1-5"), None)
    assert [v for k, v in timer if k == "OnCalendar"] == expected_calendar
    assert dict(timer)["Persistent"] == "true"
    assert dict(timer)["AccuracySec"] == "1s"
    assert dict(timer)["Unit"] == "cronsync-daily-standup-summary.service"
    assert dict(timer)["WantedBy"] == "timers.target"


def test_job_fields_reach_the_units(tmp_path: Path) -> None:
    job = script_job(
        persistent=False,
        random_delay="5m",
        accuracy=30,
        timezone="Europe/Berlin",
        payload={"path": "scripts/clean_tmp.py", "timeout": 90, "env": {"MODE": "fast"}},
    )
    units = render.job_units(job, target_for(tmp_path), TEMPLATES)
    timer, service = dict(directives(units["cronsync-job.timer"])), directives(units["cronsync-job.service"])
    assert timer["Persistent"] == "false"
    assert timer["RandomizedDelaySec"] == "300s"
    assert timer["FixedRandomDelay"] == "true"  # else each daemon-reload draws a new delay (systemd#18678)
    undelayed = render.job_units(script_job(), target_for(tmp_path), TEMPLATES)["cronsync-job.timer"]
    assert "FixedRandomDelay" not in dict(directives(undelayed))
    assert timer["AccuracySec"] == "30s"
    assert timer["OnCalendar"] == on_calendar(parse("*/5 * * * *"), "Europe/Berlin")[0]
    assert ("TimeoutStartSec", f"{90 + render.TIMEOUT_GRACE_SECONDS}s") in service
    assert ("Environment", '"MODE=fast"') in service


def test_every_jobs_use_a_monotonic_timer(tmp_path: Path) -> None:
    """@every 90m: the first run 90 minutes after the timer starts, then 90 minutes after each start."""
    timer = directives(
        render.job_units(script_job(cron="@every 90m"), target_for(tmp_path), TEMPLATES)["cronsync-job.timer"]
    )
    assert ("OnActiveSec", "5400s") in timer and ("OnUnitActiveSec", "5400s") in timer
    assert not [k for k, _ in timer if k in ("OnCalendar", "OnStartupSec")]


def test_crontab_lines_of_emulated_schedules_call_exec_with_guard(tmp_path: Path) -> None:
    last_day = render.crontab_entry(script_job(cron="0 0 L * *"), target_for(tmp_path), TEMPLATES)
    assert last_day.line.startswith("0 0 28-31 * * ") and " exec job --guard # cronsync:job" in last_day.line
    zoned = render.crontab_entry(
        script_job(cron="0 9 * * *"), target_for(tmp_path), TEMPLATES, "Asia/Tokyo", "UTC"
    )
    assert zoned.line.startswith("0 * * * * ") and "--guard" in zoned.line
    exact = render.crontab_entry(script_job(cron="0 9 * * *"), target_for(tmp_path), TEMPLATES)
    assert exact.line.startswith("0 9 * * * ") and "--guard" not in exact.line


def test_reboot_jobs_use_on_startup(tmp_path: Path) -> None:
    units = render.job_units(script_job(cron="@reboot"), target_for(tmp_path), TEMPLATES)
    timer = directives(units["cronsync-job.timer"])
    assert ("OnStartupSec", "0") in timer
    assert not [k for k, _ in timer if k == "OnCalendar"]


def test_the_watcher_watches_where_symlinked_config_really_lives(user_dir: Path, tmp_path: Path) -> None:
    space = UserSpace(user_dir)
    assert target.linked_dirs(space) == ()  # plain files: the config folder alone
    dotfiles = tmp_path / "dot files"
    dotfiles.mkdir()
    space.jobs_file.rename(dotfiles / "jobs.json")
    space.jobs_file.symlink_to(dotfiles / "jobs.json")
    (user_dir / "config" / "local.json").write_text("{}")
    space.settings_file.unlink()
    space.settings_file.symlink_to("local.json")  # a link within the config folder adds nothing
    found = installation_target(space)
    assert found.linked_dirs == (dotfiles,)
    path_unit = render.sync_units(found, TEMPLATES)[render.SYNC_PATH_UNIT]
    watched = [line for line in path_unit.splitlines() if line.startswith("PathChanged=")]
    assert watched == [f"PathChanged={user_dir / 'config'}", f"PathChanged={dotfiles}"]


def test_units_pass_systemd_analyze_verify(user_dir: Path, tmp_path: Path) -> None:
    config = load_config(UserSpace(user_dir))
    hostile = script_job(
        name='50% "off" $HOME; rm -rf \\',
        payload={"path": "scripts/clean_tmp.py", "env": {"A": 'x\ny %h $$ "\\'}},
    )
    units = render.systemd_units([*config.jobs, hostile], installation_target(config.space), TEMPLATES)
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    for name, text in units.items():
        (unit_dir / name).write_text(text)
    proc = verify_units(*unit_dir.iterdir())
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=MAX_NAME_LENGTH).filter(
    lambda s: s.isprintable() and s == s.strip() and any(c.isascii() and c.isalnum() for c in s)
)
env_values = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))


@settings(max_examples=200, deadline=None)
@given(name=names, value=env_values)
def test_nothing_typed_can_add_a_directive(name: str, value: str) -> None:
    job = script_job(name=name, payload={"path": "scripts/clean_tmp.py", "env": {"VALUE": value}})
    units = render.job_units(job, target_for(Path("/home/u/USER")), TEMPLATES)
    for file_name, allowed in (
        (render.service_name(job.id), SERVICE_KEYS | {"Environment"}),
        (render.timer_name(job.id), TIMER_KEYS),
    ):
        text = units[file_name]
        keys = [key for key, _ in directives(text)]
        assert set(keys) <= allowed, text
        assert keys.count("Description") == 1
        assert not any(line.endswith("\\") for line in unit_lines(text)), "a line would continue"
    service = directives(units[render.service_name(job.id)])
    assert [key for key, _ in service].count("Environment") == 1
    assert [key for key, _ in service].count("ExecStart") == 1


def test_escaping_follows_systemd_syntax() -> None:
    assert render.systemd_exec_line(["/a b/c", "50%", "$HOME", 'q"', "b\\s", ";"]) == (
        '"/a b/c" "50%%" "$$HOME" "q\\"" "b\\\\s" ";"'
    )
    assert render.systemd_environment("A", "1%\n$x\t\x01") == '"A=1%%\\n$x\\t\\x01"'


def test_paths_with_newlines_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "new\nline"
    problems = render.check_target(target_for(bad))
    assert problems and "control character" in problems[0].message
    with pytest.raises(render.RenderError, match="newline"):
        render.crontab_command(["/bin/cronsync", "--user-dir", str(bad)])


@pytest.mark.parametrize("enabled", [True, False])
def test_crontab_entry_reads_back_through_python_crontab(tmp_path: Path, enabled: bool) -> None:
    user = tmp_path / 'it\'s 100% "mine" $x; `y`'
    job = script_job(cron="0 9 * * 1-5", enabled=enabled)
    entry = render.crontab_entry(job, target_for(user), TEMPLATES)
    (item,) = CronTab(tab=entry.line + "\n")
    assert item.enabled is enabled
    assert item.comment == "cronsync:job"
    assert str(item.slices) == "0 9 * * 1-5"
    # python-crontab undoes cron's `\%`; what is left is the shell command cron hands to /bin/sh
    assert shlex.split(item.command) == [
        "/opt/cron sync/bin/cronsync",
        "--user-dir",
        str(user),
        "exec",
        "job",
    ]
    assert "%" not in entry.line.replace("\\%", "")
