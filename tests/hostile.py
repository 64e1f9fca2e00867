"""Helpers for the hostile-input tests: snapshots of what is installed, and a script that dumps itself."""

from __future__ import annotations

import os
from pathlib import Path

# A script that writes its argv and environment as JSON to the file named by $DUMP_TO (or stdout).
DUMP_SCRIPT = """\
import json, os, sys
data = json.dumps({"argv": sys.argv[1:], "env": dict(os.environ)})
target = os.environ.get("DUMP_TO")
if target:
    with open(target, "w") as handle:
        handle.write(data)
else:
    print(data)
"""


def tree_snapshot(root: Path) -> dict[str, tuple[str, bytes | str, int]]:
    """Every entry under root: files with their bytes and inode, symlinks with their target, dirs.

    Equal snapshots mean nothing was touched: the inode number also catches a file rewritten (by
    rename) with the same bytes."""
    found: dict[str, tuple[str, bytes | str, int]] = {}
    if not root.exists():
        return found
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            relative = str(path.relative_to(root))
            info = path.lstat()
            if path.is_symlink():
                found[relative] = ("link", os.readlink(path), info.st_ino)
            elif path.is_dir():
                found[relative] = ("dir", "", info.st_mode)
            else:
                # the inode changes when a file is replaced by rename, even with the same bytes
                found[relative] = ("file", path.read_bytes(), info.st_ino)
    return found
