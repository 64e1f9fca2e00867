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

    def lock_file(self, job_id: str) -> Path:
        """Held (flock) by `cronsync exec` while the job runs: the overlap guard."""
        return self.state_dir / "locks" / f"{job_id}.lock"

    def run_request_file(self, job_id: str) -> Path:
        """Created by `cronsync run` just before it starts the job's unit; `cronsync exec` consumes it
        and records the run's trigger as `manual` instead of `timer`."""
        return self.state_dir / "run-requests" / job_id

    def request_manual_run(self, job_id: str) -> None:
        """Mark the next `cronsync exec` of this job as started by hand (see run_request_file)."""
        request = self.run_request_file(job_id)
        request.parent.mkdir(parents=True, exist_ok=True)
        request.touch()

    def consume_run_request(self, job_id: str) -> bool:
        """True (and the request removed) when `cronsync run` asked for this run."""
        try:
            os.unlink(self.run_request_file(job_id))
        except OSError:
            return False
        return True

    def resolve_script(self, path: str) -> Path:
        """The script's real path, which must be an existing file inside USER/scripts (symlinks followed).

        Raises ValueError with a message naming the path and what would be right.
        """
        scripts = self.scripts_dir.resolve()
        candidate = Path(path) if Path(path).is_absolute() else self.root / path
        real = candidate.resolve()
        if not real.is_relative_to(scripts):
            raise ValueError(
                f"{path!r} resolves to {real}, outside {scripts}; scripts must live in USER/scripts"
            )
        if not real.is_file():
            raise ValueError(f"{path!r} does not exist (looked for {real}); put the script in {scripts}")
        return real
