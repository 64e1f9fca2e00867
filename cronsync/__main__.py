"""Entry point. `cronsync exec` is dispatched before click is imported: it is on every run's path."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if (
        argv[:1] == ["exec"]
        or (len(argv) >= 3 and argv[0] == "--user-dir" and argv[2] == "exec")
        or (len(argv) >= 2 and argv[0].startswith("--user-dir=") and argv[1] == "exec")
    ):
        from cronsync.commands.exec import fast_main

        sys.exit(fast_main(argv))
    from cronsync.cli import cli

    cli(prog_name="cronsync")


if __name__ == "__main__":
    main()
