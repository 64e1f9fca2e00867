"""A shell whose XDG_CONFIG_HOME is not the user manager's: apply would put units where the manager never
looks. It fails with a clear error naming both folders and the fix, and changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.cli import cronsync
from tests.support.harness import UserManager


@pytest.mark.parametrize("via", ["pystemd", "systemctl"])
def test_apply_refuses_a_unit_dir_the_manager_does_not_search(
    systemd_user: UserManager, user_dir: Path, tmp_path: Path, via: str
) -> None:
    elsewhere = tmp_path / "shell-config"
    env = {**os.environ, "XDG_CONFIG_HOME": str(elsewhere)}
    if via == "systemctl":
        hidden = tmp_path / "hide-pystemd" / "pystemd"
        hidden.mkdir(parents=True)
        (hidden / "__init__.py").write_text("raise ImportError('pystemd is not installed here')\n")
        env["PYTHONPATH"] = str(hidden.parent)
    result = cronsync("apply", "--backend", "systemd", user_dir=user_dir, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    error = result.stderr
    assert f"units would go to {elsewhere}/systemd/user" in error, error
    assert f"$XDG_CONFIG_HOME={elsewhere}" in error and f"from {systemd_user.unit_dir}" in error
    assert f"XDG_CONFIG_HOME={systemd_user.config_home}" in error and "Nothing was changed" in error
    assert "Traceback" not in error and "err -2" not in error
    assert not (elsewhere / "systemd" / "user").exists() or not any(
        (elsewhere / "systemd" / "user").iterdir()
    )
    assert not systemd_user.unit_dir.exists() or not list(systemd_user.unit_dir.glob("cronsync-*"))
    assert systemd_user.show("cronsync-sync.path", "LoadState")["LoadState"] == "not-found"
    doctor = cronsync("doctor", user_dir=user_dir, env=env)
    assert doctor.returncode == 1 and "[error] unit directory: units would go to" in doctor.stdout, (
        doctor.stdout
    )
    assert f"fix: run cronsync with XDG_CONFIG_HOME={systemd_user.config_home}" in doctor.stdout
    # with the manager's XDG_CONFIG_HOME it applies
    env["XDG_CONFIG_HOME"] = str(systemd_user.config_home)
    fixed = cronsync("apply", "--backend", "systemd", user_dir=user_dir, env=env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
