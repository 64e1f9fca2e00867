"""The example script USER/scripts/clean_tmp.py: deletes old files, never anything outside its directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.cli import EXAMPLE

SCRIPT = EXAMPLE / "scripts" / "clean_tmp.py"
OLD = time.time() - 10 * 86400


def age(path: Path) -> None:
    os.utime(path, (OLD, OLD), follow_symlinks=False)


def clean(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_deletes_old_files_and_never_follows_symlinks_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    age(outside / "precious.txt")
    target = tmp_path / "tmpdir"
    (target / "sub").mkdir(parents=True)
    (target / "old.log").write_text("x")
    (target / "sub" / "old2.log").write_text("x")
    (target / "new.log").write_text("x")
    os.symlink(outside / "precious.txt", target / "link-to-file")
    os.symlink(outside, target / "link-to-dir")
    for path in (
        target / "old.log",
        target / "sub" / "old2.log",
        target / "link-to-file",
        target / "link-to-dir",
    ):
        age(path)

    dry = clean(str(target), "--days", "7", "--dry-run")
    assert dry.returncode == 0 and "would delete 3 file(s)" in dry.stdout
    assert (target / "old.log").exists()

    done = clean(str(target), "--days", "7")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in target.rglob("*")) == ["link-to-dir", "new.log", "sub"]
    assert (outside / "precious.txt").read_text() == "keep"  # the link went, never its target


def test_a_missing_directory_is_nothing_to_clean(tmp_path: Path) -> None:
    result = clean(str(tmp_path / "nope"))
    assert result.returncode == 0 and "nothing to clean" in result.stdout
