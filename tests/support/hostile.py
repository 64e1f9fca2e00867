"""Helpers for the hostile-input tests: snapshots of what is installed, and a script that dumps itself."""

from __future__ import annotations

import os
import re
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


def shown_environment(shown: str) -> dict[str, str]:
    """`systemctl show --value -p Environment`: words, each plain or double-quoted with C escapes."""
    values = {}
    for quoted, plain in re.findall(r'"((?:[^"\\]|\\.)*)"|([^ ]+)', shown):
        word = c_unescape(quoted) if quoted else plain
        name, _, value = word.partition("=")
        values[name] = value
    return values


SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "v": "\v",
    "f": "\f",
    "b": "\b",
    "e": "\x1b",
    "s": " ",
}


def c_unescape(text: str) -> str:
    """systemd's C escapes, decoded to bytes first: `\\xc3\\xbc` is one UTF-8 character."""
    out = bytearray()
    for match in re.finditer(
        r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)|(.)", text, re.S
    ):
        code, char = match.groups()
        if char is not None:
            out += char.encode()
        elif code[0] == "x" and len(code) == 3:
            out.append(int(code[1:], 16))
        elif code[0] in "uU" and len(code) > 1:
            out += chr(int(code[1:], 16)).encode()
        elif len(code) == 3 and code.isdigit():
            out.append(int(code, 8))
        else:
            out += SIMPLE_ESCAPES.get(code, code).encode()
    return out.decode()
