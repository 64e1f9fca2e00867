"""What units and crontab entries point at: the installed cronsync, started the one way they start it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import cronsync
from cronsync.core import render
from cronsync.core.errors import Problem
from cronsync.core.plan import reserved_id_problems
from cronsync.userspace.paths import UserSpace

if TYPE_CHECKING:
    from cronsync.config import Config


def launcher_argv() -> tuple[str, ...]:
    """How units and crontab entries start cronsync: this interpreter on cronsync's `__main__.py`.

    `-I` (isolated mode) keeps a job's PYTHONHOME or PYTHONPATH, which the service's Environment=
    also hands to cronsync's own interpreter, from breaking or hijacking `cronsync exec` itself.
    `-S` skips `site` on every run; `__main__.py` loads it when an import needs site-packages.
    """
    package_dir = os.path.dirname(os.path.abspath(cronsync.__file__))
    return (os.path.abspath(sys.executable), "-I", "-S", os.path.join(package_dir, "__main__.py"))


def installation_target(space: UserSpace) -> render.Target:
    """The installed cronsync and the user space, as absolute paths."""
    systemd_run = shutil.which("systemd-run") or "/usr/bin/systemd-run"
    argv, systemd_run = launcher_argv(), os.path.abspath(systemd_run)
    return render.Target(argv, space.root, space.jobs_file, systemd_run, linked_dirs(space))


def linked_dirs(space: UserSpace) -> tuple[Path, ...]:
    """The folders holding the files a symlinked jobs.json or settings.json points at, other than the
    config folder: read on every apply, so a link pointed elsewhere re-points the watcher."""
    config_dir = os.path.realpath(space.jobs_file.parent)
    found: list[Path] = []
    for path in (space.jobs_file, space.settings_file):
        if not os.path.islink(path):
            continue
        folder = os.path.dirname(os.path.realpath(path))
        if folder != config_dir and Path(folder) not in found:
            found.append(Path(folder))
    return tuple(found)


def installation_problems(config: Config) -> list[Problem]:
    """What stops any backend from installing config: a job id cronsync keeps for itself, an installed
    cronsync or user space whose paths cannot go into a unit or a crontab line."""
    jobs_file = str(config.space.jobs_file)
    problems = reserved_id_problems(jobs_file, [(job.name, job.id) for job in config.jobs])
    return problems + render.check_target(installation_target(config.space))
