#!/usr/bin/env python3
"""Delete files older than N days from a directory (default ~/tmp), never following symlinks out of it.

usage: clean_tmp.py [DIR] [--days N] [--dry-run]
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def old_files(root: str, max_age_days: float) -> list[str]:
    """Regular files and symlinks under root whose own mtime is older than the cut-off.

    os.walk(followlinks=False) never descends into a symlinked directory, and lstat looks at a
    link itself, so nothing outside root is ever looked at or deleted.
    """
    cutoff = time.time() - max_age_days * 86400
    found = []
    for folder, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if info.st_mtime < cutoff:
                found.append(path)
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default=os.path.expanduser("~/tmp"))
    parser.add_argument("--days", type=float, default=7.0, help="age in days (default 7)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    args = parser.parse_args(argv)
    root = os.path.realpath(args.directory)
    if not os.path.isdir(root):
        print(f"{args.directory}: no such directory, nothing to clean")
        return 0
    files = old_files(root, args.days)
    for path in files:
        if args.dry_run:
            print(f"would delete {path}")
        else:
            os.unlink(path)
            print(f"deleted {path}")
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(files)} file(s) older than {args.days:g} day(s) in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
