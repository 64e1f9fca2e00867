"""Entry point: `cronsync` (the console script), `python -m cronsync`, and what units and crontab entries
run, `python -I -S .../cronsync/__main__.py`. `exec` goes to the exec package before click is imported
(it is on every run's path); everything else to the CLI. Kept short: a script is compiled on every start.
"""

import sys


def main() -> None:
    argv = sys.argv[1:]
    if (
        argv[:1] == ["exec"]
        or (len(argv) >= 3 and argv[0] == "--user-dir" and argv[2] == "exec")
        or (len(argv) >= 2 and argv[0].startswith("--user-dir=") and argv[1] == "exec")
    ):
        from cronsync.exec.main import fast_main

        code = fast_main(argv)
        if code is not None:
            sys.exit(code)
    from cronsync.cli import main as cli_main

    sys.exit(cli_main(argv))


if __name__ == "__main__":
    if __spec__ is None:  # run as a file, not as `python -m cronsync`
        sys.path.append(__file__.rpartition("/")[0].rpartition("/")[0])
        if sys.flags.no_site:
            from cronsync import SitePackagesOnDemand

            sys.meta_path.append(SitePackagesOnDemand)
    main()
