"""files.make_dirs and files.write_new set the modes they are given, whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cronsync.userspace.files import make_dirs, write_new
from tests.support.modes import mode_of


def test_make_dirs_gives_every_folder_it_creates_0700_under_umask_000(
    tmp_path: Path, umask_zero: None
) -> None:
    (tmp_path / "kept").mkdir(mode=0o755)
    created = make_dirs(tmp_path / "kept" / "a" / "b" / "c")
    assert created == [str(tmp_path / "kept" / p) for p in ("a", "a/b", "a/b/c")]
    assert [mode_of(Path(p)) for p in created] == [0o700] * 3
    assert mode_of(tmp_path / "kept") == 0o755  # a folder that exists is left as it is
    assert make_dirs(tmp_path / "kept" / "a" / "b" / "c/") == []


def test_make_dirs_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError):
        make_dirs(tmp_path / "file")
    with pytest.raises(NotADirectoryError):
        make_dirs(tmp_path / "file" / "below")


def test_write_new_sets_the_mode_and_never_replaces(tmp_path: Path, umask_zero: None) -> None:
    target = tmp_path / "new" / "file"
    assert write_new(target, b"first", 0o600)
    assert mode_of(target) == 0o600 and mode_of(target.parent) == 0o700
    assert not write_new(target, b"second", 0o644)
    assert target.read_bytes() == b"first" and mode_of(target) == 0o600
    assert [name for name in os.listdir(target.parent)] == ["file"]  # no temp file left
