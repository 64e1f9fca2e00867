"""Where a user space lives and what is inside it. Import-light: `cronsync exec` uses it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

USER_DIR_ENV = "CRONSYNC_USER_DIR"


def default_user_dir() -> Path:
    """`$XDG_CONFIG_HOME/cronsync`, i.e. `~/.config/cronsync` by default."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config_home) / "cronsync"


def resolve_user_dir(option: str | os.PathLike[str] | None) -> Path:
    """`--user-dir DIR` > `$CRONSYNC_USER_DIR` > the default; always absolute."""
    chosen = option or os.environ.get(USER_DIR_ENV) or default_user_dir()
    return Path(os.path.abspath(os.path.expanduser(os.fspath(chosen))))


@dataclass(frozen=True)
class UserSpace:
    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def jobs_file(self) -> Path:
        return self.config_dir / "jobs.json"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def secrets_file(self) -> Path:
        return self.config_dir / "secrets.env"

    @property
    def scripts_dir(self) -> Path:
        return self.root / "scripts"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "scheduler.log"

    @property
    def events_file(self) -> Path:
        return self.logs_dir / "events.jsonl"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def compiled_file(self) -> Path:
        """Validated, normalized jobs and settings, keyed by the hash of the files they came from."""
        return self.state_dir / "compiled.json"

    @property
    def run_requests_dir(self) -> Path:
        return self.state_dir / "run-requests"

    def run_request_file(self, job_id: str) -> Path:
        """Created by `cronsync run` before it starts the job, so that exec records the run as manual."""
        return self.run_requests_dir / job_id

    @property
    def apply_lock_file(self) -> Path:
        """flock(2)ed by `cronsync apply` so that two applies never interleave."""
        return self.state_dir / "apply.lock"


def systemd_user_unit_dir() -> Path:
    """Where user units live: `$XDG_CONFIG_HOME/systemd/user`."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config_home) / "systemd" / "user"
