"""Entry point. `cronsync exec` is dispatched before click is imported: it is on every run's path.

Units and crontab entries run this file itself, as `python -I -S .../cronsync/__main__.py` (see
`cronsync.apply.target.launcher_argv`): -S skips `site`, which costs milliseconds on every run. So the
directory holding the cronsync package goes on sys.path here, and site-packages is added on demand,
by `SitePackagesOnDemand`, the first time an import needs more than the standard library.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType


class SitePackagesOnDemand:
    """The last finder on sys.meta_path in a start with -S: the first import of a module outside the
    standard library that nothing else finds runs `site.main()` (site-packages and its .pth files,
    as a start without -S would) and is retried."""

    @classmethod
    def find_spec(
        cls, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] in sys.stdlib_module_names:
            return None  # a module this Python lacks (an optional accelerator, say): site cannot help
        sys.meta_path.remove(cls)
        import site

        site.main()
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                return spec
        return None


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
            sys.meta_path.append(SitePackagesOnDemand)
    main()
