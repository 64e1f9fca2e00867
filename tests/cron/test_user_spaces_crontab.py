"""Two user spaces of one account on the real cron daemon: each has its own block, and never touches
the other's."""

from __future__ import annotations

from pathlib import Path

from cronsync.core import crontab_block
from tests.support.cli import cronsync_in
from tests.support.harness import CronDaemon
from tests.support.userspaces import USER_CRONTAB, another_space, jobs_of, write_jobs


def block_of(text: str, user_dir: Path) -> dict[str, crontab_block.InstalledEntry]:
    return crontab_block.split(text, user_dir / "config" / "jobs.json").entries()


def test_two_spaces_keep_their_own_blocks(cron_daemon: CronDaemon, user_dir: Path, tmp_path: Path) -> None:
    other = another_space(user_dir, tmp_path / "other")  # the same job ids, in another space
    cron_daemon.set_crontab(USER_CRONTAB)
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    first = cron_daemon.crontab()
    applied = cronsync_in(cron_daemon, other, "apply", "--backend", "crontab")
    assert applied.returncode == 0, applied.stderr
    assert "may run twice" not in applied.stderr and "still installed" not in applied.stderr
    both = cron_daemon.crontab()
    assert both.startswith(first)  # the first space's block and every user byte, untouched
    assert f"# BEGIN cronsync - managed from {other}/config/jobs.json - do not edit" in both
    assert (
        set(block_of(both, user_dir))
        == set(block_of(both, other))
        == {
            "daily-standup-summary",
            "clean-temp-files",
        }
    )
    assert all(f"--user-dir {other} " in e.command for e in block_of(both, other).values())

    # an edit in one space changes only its block
    write_jobs(other, jobs_of(other)[:1])
    assert cronsync_in(cron_daemon, other, "apply", "--backend", "crontab").returncode == 0
    edited = cron_daemon.crontab()
    assert edited.startswith(first) and set(block_of(edited, other)) == {"daily-standup-summary"}
    again = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab", "--json")
    assert '"changed": false' in again.stdout and cron_daemon.crontab() == edited

    # uninstall removes this space's block only
    assert cronsync_in(cron_daemon, user_dir, "uninstall").returncode == 0
    left = cron_daemon.crontab()
    assert left.startswith(USER_CRONTAB) and block_of(left, user_dir) == {}
    assert set(block_of(left, other)) == {"daily-standup-summary"}
    assert cronsync_in(cron_daemon, other, "uninstall").returncode == 0
    assert cron_daemon.crontab() == USER_CRONTAB


def test_a_one_block_crontab_of_the_previous_version_is_the_block_it_names(
    cron_daemon: CronDaemon, user_dir: Path, tmp_path: Path
) -> None:
    assert cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab").returncode == 0
    block = cron_daemon.crontab()
    # the previous version wrote one block, here in the middle of the user's lines
    head = "".join(USER_CRONTAB.splitlines(keepends=True)[:4])
    legacy = head + block + USER_CRONTAB[len(head) :]
    cron_daemon.set_crontab(legacy)
    unchanged = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab", "--json")
    assert '"changed": false' in unchanged.stdout, unchanged.stdout + unchanged.stderr
    assert cron_daemon.crontab() == legacy

    other = another_space(user_dir, tmp_path / "other", "Other ")
    assert cronsync_in(cron_daemon, other, "apply", "--backend", "crontab").returncode == 0
    assert cron_daemon.crontab().startswith(legacy)
    assert cronsync_in(cron_daemon, other, "uninstall", "--backend", "crontab").returncode == 0
    assert cron_daemon.crontab() == legacy
    assert cronsync_in(cron_daemon, user_dir, "uninstall", "--backend", "crontab").returncode == 0
    assert cron_daemon.crontab() == USER_CRONTAB
