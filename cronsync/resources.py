"""Files shipped with cronsync: the Jinja2 templates and the example user space.

In a wheel they live inside the package (cronsync/templates, cronsync/example); in a source
checkout or an editable install, at the top of the repository (templates/, USER/).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cronsync.core.render import Templates

_PACKAGE = Path(__file__).resolve().parent
_IN_CHECKOUT = {"templates": "templates", "example": "USER"}


def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / _IN_CHECKOUT[name]):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cronsync is installed without its {name!r} files; reinstall it")


@cache
def templates() -> Templates:
    """Every template shipped with cronsync, read once."""
    folder = resource_dir("templates")
    return Templates({path.name: path.read_text() for path in sorted(folder.glob("*.j2"))})
