"""Shared fixtures. Every test gets its own HOME, XDG dirs and user space under tmp_path."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "USER"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point HOME and the XDG dirs at temporary folders so no test writes outside them."""
    home = tmp_path / "home"
    for sub in ("", ".config", ".local/share", "runtime"):
        (home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "runtime"))
    monkeypatch.delenv("CRONSYNC_USER_DIR", raising=False)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    yield home


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A fresh copy of the example user space."""
    target = tmp_path / "USER"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("logs", "state", "__pycache__"))
    return target


def cronsync(
    *args: str, user_dir: Path | None = None, check: bool = False, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as a user would."""
    argv = [sys.executable, "-m", "cronsync"]
    if user_dir is not None:
        argv += ["--user-dir", str(user_dir)]
    return subprocess.run([*argv, *args], capture_output=True, text=True, check=check, timeout=120, **kwargs)  # type: ignore[call-overload]
