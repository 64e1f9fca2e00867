"""What the permission tests look at: the modes of everything under a folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

NOBODY = 65534  # "another account": any uid not the test's own nor root


def modes_under(root: Path) -> dict[str, int]:
    """{path relative to root ('.' for root): permission bits} of root and everything in it (lstat)."""
    found = {".": stat.S_IMODE(root.lstat().st_mode)}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def group_or_other_writable(root: Path) -> dict[str, str]:
    """Everything under root (symlinks aside) that group or others could write: {path: mode}."""
    return {
        path: f"{mode:o}"
        for path, mode in modes_under(root).items()
        if mode & 0o022 and not (root / path).is_symlink()
    }


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def tighten(root: Path) -> None:
    """chmod go-w root and everything in it (what a test built under umask 000 needs to be run)."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(mode_of(path) & ~0o022)
