"""Secrets: `${VAR}` references expanded from the environment or USER/config/secrets.env, and redacted
from everything cronsync writes (log, events, error messages).

secrets.env holds `NAME=value` lines (`export NAME=value`, quotes and `#` comments allowed). It must
belong to the user and be mode 0600: a group- or world-accessible file is refused.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping

from cronsync import JOB_CONFIG, CronsyncError

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
REDACTED = "***"


class SecretsError(CronsyncError):
    """A secret could not be found or the secrets file is unsafe; the message never holds a secret."""

    exit_code = JOB_CONFIG


def load_secrets_file(path: str) -> dict[str, str]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SecretsError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise SecretsError(
                f"{path} is accessible by group or others (mode {mode:04o}); "
                f"it holds secrets, so cronsync refuses it: run `chmod 600 {path}`"
            )
        if info.st_uid != os.getuid():
            raise SecretsError(f"{path} belongs to uid {info.st_uid}, not to you; cronsync refuses it")
        text = handle.read().decode("utf-8", "replace")
    return parse_secrets(text)


def parse_secrets(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            continue
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


class Secrets:
    """Looks names up in the environment, then in secrets.env (read once, when first needed)."""

    def __init__(self, secrets_file: str, environ: Mapping[str, str] | None = None) -> None:
        self._file = secrets_file
        self._environ = os.environ if environ is None else environ
        self._from_file: dict[str, str] | None = None
        self.used: set[str] = set()

    def file_values(self) -> dict[str, str]:
        if self._from_file is None:
            self._from_file = load_secrets_file(self._file)
        return self._from_file

    def get(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None:
            value = self.file_values().get(name)
        if value:
            self.used.add(value)
        return value

    def expand(self, text: str, what: str) -> str:
        """`text` with every ${VAR} replaced; SecretsError naming the missing variable(s) otherwise."""
        names = references(text)
        missing = [name for name in names if self.get(name) is None]
        if missing:
            listed = ", ".join(f"${{{name}}}" for name in missing)
            raise SecretsError(
                f"{what}: {listed} not set; define it in the environment or in {self._file} (mode 0600)"
            )
        return _REFERENCE.sub(lambda m: self.get(m.group(1)) or "", text)

    def redactor(self) -> Redactor:
        values = set(self.used)
        if self._from_file:
            values.update(v for v in self._from_file.values() if v)
        return Redactor(values)


def references(text: str) -> list[str]:
    return list(dict.fromkeys(_REFERENCE.findall(text)))


# No run of this many characters of a secret is left anywhere: a value cut at the edge of an excerpt, a
# tail or a service's length limit leaves a fragment that whole-value replacement would not find.
FRAGMENT_CHARS = 6


class Redactor:
    """Replaces every known secret value (longest first), and every run of FRAGMENT_CHARS or more of its
    characters (a fragment: a value cut short), with ***."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        # very short values would redact ordinary text ("1", "ab") without protecting anything
        self._values = sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)
        self._windows = {
            v[i : i + FRAGMENT_CHARS] for v in self._values for i in range(len(v) - FRAGMENT_CHARS + 1)
        }

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return self._without_fragments(text) if self._windows else text

    def _without_fragments(self, text: str) -> str:
        """Every run of characters covered by windows (FRAGMENT_CHARS long) of a secret, replaced.
        A set lookup per position: linear in the text, however long or many the secrets."""
        spans: list[list[int]] = []
        for start in range(len(text) - FRAGMENT_CHARS + 1):
            if text[start : start + FRAGMENT_CHARS] not in self._windows:
                continue
            end = start + FRAGMENT_CHARS
            if spans and start <= spans[-1][1]:
                spans[-1][1] = end
            else:
                spans.append([start, end])
        if not spans:
            return text
        parts, done = [], 0
        for start, end in spans:
            parts += [text[done:start], REDACTED]
            done = end
        parts.append(text[done:])
        return "".join(parts)


def redact_url(url: str) -> str:
    """Only the scheme of a notification URL: the rest may hold tokens and addresses."""
    scheme, sep, _rest = url.partition("://")
    return f"{scheme}://…" if sep else "…"
