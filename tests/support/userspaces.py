"""Reading and writing a test's user space and unit directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any


def write_jobs(user_dir: Path, jobs: object) -> None:
    """jobs.json: text as given, anything else as indented JSON."""
    text = jobs if isinstance(jobs, str) else json.dumps(jobs, indent=2)
    (user_dir / "config" / "jobs.json").write_text(text)


def jobs_of(user_dir: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((user_dir / "config" / "jobs.json").read_text())
    return data


def enable_every_job(user_dir: Path) -> None:
    """The example with its agent job enabled too (it ships disabled): for tests that need a job of each
    action installed and scheduled."""
    write_jobs(user_dir, [{**job, "enabled": True} for job in jobs_of(user_dir)])


def mtimes(unit_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in unit_dir.iterdir() if p.is_file()}


# A user's own crontab with every kind of line cronsync must keep byte for byte:
# Comments (one right above a job: python-crontab's trap), env lines (one python-crontab drops),
# blank lines, odd spacing, lines cron accepts but python-crontab disables or rewrites, a disabled
# job, tabs and trailing spaces.
USER_CRONTAB = (
    "# my own crontab, hands off\n"
    "SHELL=/bin/bash\n"
    'MAILTO=""\n'
    "\n"
    "# backup every night\n"
    "  30   2  *  *  *   /usr/local/bin/backup --all   # nightly\n"
    "FOO = bar baz\n"
    "0 */25 * * * echo python-crontab disables this\n"
    "00 09 * * 0-7 echo and rewrites this\n"
    "#0 0 * * 0 /usr/bin/true\n"
    "*/7\t*\t*\t*\t*\techo 100\\% done   \n"
    "@weekly /bin/echo weekly\n"
    "\n"
)


def another_space(user_dir: Path, root: Path, name_prefix: str = "") -> Path:
    """A second user space at root: a copy of user_dir, its job names prefixed (their ids too)."""
    shutil.copytree(user_dir, root, ignore=shutil.ignore_patterns("logs", "state"))
    jobs = jobs_of(root)
    for job in jobs:
        job["name"] = f"{name_prefix}{job['name']}"
    write_jobs(root, jobs)
    return root


def foreign_units(unit_dir: Path, user_dir: Path, job_id: str) -> dict[str, str]:
    """A job's timer and service as another user space's (marked with its jobs.json) left them."""
    from cronsync.core.render import marker

    head = marker(user_dir / "config" / "jobs.json")
    texts = {
        f"cronsync-{job_id}.timer": f"{head}\n[Timer]\nOnCalendar=*-*-* 04:00:00\n",
        f"cronsync-{job_id}.service": f"{head}\n[Service]\nType=oneshot\nExecStart=/bin/true\n",
    }
    unit_dir.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (unit_dir / name).write_text(text)
    return texts
