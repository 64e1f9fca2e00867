"""Dead-man's-switch pings (a job's `healthcheck`), in the Pinging API of healthchecks.io.

`<url>/start` once the run holds its lock (a skipped run pings nothing), `<url>/<exit code>` when it
ends, with the head of its output as the body. Each ping is retried with backoff and bounded in time;
whatever happens, the job's status and exit code stand. The URL (`${VAR}` expanded from secrets.env
or the environment) is a secret: no ping's outcome names it. urllib is imported only here, and this
module only for a job that has a healthcheck.
"""

from __future__ import annotations

import time

from cronsync.userspace.secrets import SecretsError, redact_url

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from typing import Any

    from cronsync.exec.run import Outcome, Run

ATTEMPTS = 3
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt
REQUEST_TIMEOUT_SECONDS = 5.0
PING_DEADLINE_SECONDS = 10.0  # one ping, its retries included
BODY_BYTES = 10_000  # healthchecks keeps the first 100 kB of a ping's body; the head is what matters


def ping_start(run: Run) -> dict[str, Any]:
    return ping(run, "start", b"")


def ping_end(run: Run, outcome: Outcome) -> dict[str, Any]:
    body = outcome.stdout.excerpt(BODY_BYTES, run.redact)
    if outcome.error:
        body = f"{run.redact(outcome.error)}\n{body}"
    return ping(run, str(outcome.exit_code), body.encode("utf-8", "replace")[:BODY_BYTES])


def ping(run: Run, suffix: str, body: bytes) -> dict[str, Any]:
    """One ping, `<url>/<suffix>`: {"ping": suffix, "ok", "attempts", "status" or "error"}."""
    template = str(run.job["healthcheck"])
    result: dict[str, Any] = {"ping": suffix, "service": redact_url(template), "ok": False, "attempts": 0}
    try:
        url = run.secrets().expand(template, f"healthcheck of job {run.job['name']!r}")
    except SecretsError as exc:
        result["error"] = str(exc)
        return result
    target = f"{url.rstrip('/')}/{suffix}"
    deadline = time.monotonic() + PING_DEADLINE_SECONDS
    for attempt in range(1, ATTEMPTS + 1):
        result["attempts"] = attempt
        remaining = deadline - time.monotonic()
        try:
            result["status"] = _post(target, body, min(REQUEST_TIMEOUT_SECONDS, max(remaining, 0.1)))
            result.pop("error", None)
            result["ok"] = True
            return result
        except Exception as exc:  # any failure of the ping: reported, never the job's
            result["error"] = _described(exc, url, run)
            if not _worth_retrying(exc):
                break
        pause = BACKOFF_SECONDS * 2 ** (attempt - 1)
        if attempt == ATTEMPTS or time.monotonic() + pause >= deadline:
            break
        time.sleep(pause)
    return result


def _post(url: str, body: bytes, timeout: float) -> int:
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("User-Agent", "cronsync")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(response.status)


def _worth_retrying(exc: Exception) -> bool:
    """A server's refusal (4xx: no such check, a bad request) stays the same; anything else may pass."""
    import urllib.error

    return not isinstance(exc, urllib.error.HTTPError) or exc.code >= 500 or exc.code == 429


def _described(exc: Exception, url: str, run: Run) -> str:
    """The failure without the URL or any secret."""
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        text = f"HTTP {exc.code}"
    elif isinstance(exc, urllib.error.URLError):
        text = f"cannot reach it: {exc.reason}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return run.redact(text.replace(url, redact_url(url)))
