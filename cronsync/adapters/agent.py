"""Agent jobs: gather `context` command output, then ask the configured backend.

Backends (settings.json "agent"): "openai", any OpenAI-compatible chat-completions endpoint, spoken to
with stdlib urllib (cheap to import); "command", any CLI that reads the prompt on stdin.
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cronsync import JOB_CONFIG, JOB_NOT_FOUND, CronsyncError
from cronsync.adapters.process import ProcessResult, StartError, run_process

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
MAX_BACKOFF_SECONDS = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class AgentError(CronsyncError):
    """The agent could not answer; the message is safe to log (no secrets, no URLs with credentials)."""

    def __init__(self, message: str, *, exit_code: int = 1, timed_out: bool = False) -> None:
        super().__init__(message, exit_code)
        self.timed_out = timed_out


def context_argv(command: str | Sequence[str]) -> list[str]:
    """A string is split like a shell would (no shell runs it) with `~` expanded; a list is argv as is."""
    if isinstance(command, str):
        return [os.path.expanduser(word) if word.startswith("~") else word for word in shlex.split(command)]
    return list(command)


def gather_context(
    commands: Sequence[str | Sequence[str]],
    *,
    cwd: str,
    env: Mapping[str, str],
    deadline: float | None,
    capture_bytes: int,
    limits: Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """(command as shown, its output) for each context command; AgentError when one fails. `limits`: as
    run_process takes them (a job's, under cron)."""
    sections = []
    for number, command in enumerate(commands, 1):
        argv = context_argv(command)
        shown = command if isinstance(command, str) else shlex.join(argv)
        if not argv:
            raise AgentError(f"context command #{number} is empty", exit_code=JOB_CONFIG)
        try:
            result = run_process(
                argv,
                cwd=cwd,
                env=env,
                timeout=_remaining(deadline),
                capture_bytes=capture_bytes,
                passthrough=False,
                limits=limits,
            )
        except StartError as exc:
            raise AgentError(f"context command #{number} ({shown}): {exc}", exit_code=JOB_NOT_FOUND) from None
        if result.timed_out:
            raise AgentError(f"context command #{number} ({shown}) timed out", timed_out=True)
        if result.exit_code != 0:
            raise AgentError(
                f"context command #{number} ({shown}) exited with {result.exit_code}: "
                f"{result.stderr.tail_text(500).strip()}",
                exit_code=result.exit_code,
            )
        sections.append((shown, result.stdout.text()))
    return sections


def build_prompt(prompt: str, context: Sequence[tuple[str, str]]) -> str:
    if not context:
        return prompt
    parts = [prompt, "", "Base your answer only on this context, gathered just now:"]
    for shown, output in context:
        parts += ["", f"$ {shown}", output.rstrip() or "(no output)"]
    return "\n".join(parts)


def ask_openai(
    backend: Mapping[str, Any],
    prompt: str,
    *,
    model: str | None,
    api_key: str | None,
    deadline: float | None,
    redact: Callable[[str], str],
) -> str:
    """POST {base_url}/chat/completions; retry 429/5xx/unreachable with backoff; return the answer."""
    import urllib.error
    import urllib.request

    url = str(backend["base_url"]).rstrip("/") + "/chat/completions"
    messages = [{"role": "user", "content": prompt}]
    if backend.get("system_prompt"):
        messages.insert(0, {"role": "system", "content": backend["system_prompt"]})
    body = json.dumps({"model": model or backend["model"], "messages": messages}).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "cronsync"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    where = redact(display_url(url))
    attempts = int(backend.get("retries", 3)) + 1
    for attempt in range(1, attempts + 1):
        timeout = _bounded(float(backend.get("timeout", 120)), deadline)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return _answer(response.read(MAX_RESPONSE_BYTES), where)
        except urllib.error.HTTPError as exc:
            detail = redact(exc.read(500).decode("utf-8", "replace").strip())
            problem = f"agent backend {where} answered HTTP {exc.code}: {detail or exc.reason}"
            if exc.code not in RETRY_STATUSES:
                raise AgentError(problem) from None
            wait = _retry_after(exc.headers.get("Retry-After"), attempt)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            problem = f"agent backend {where} unreachable: {redact(str(reason))}"
            wait = _retry_after(None, attempt)
            if deadline is not None and time.monotonic() >= deadline - 0.1:
                raise AgentError(
                    f"the job's timeout passed while waiting for {where}", timed_out=True
                ) from None
        if attempt == attempts:
            raise AgentError(f"{problem} (after {attempts} attempts)")
        if deadline is not None and time.monotonic() + wait >= deadline:
            raise AgentError(f"{problem}; no time left to retry", timed_out=True)
        time.sleep(wait)
    raise AssertionError("unreachable")


def _answer(raw: bytes, where: str) -> str:
    try:
        data = json.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise AgentError(
            f"agent backend {where} sent no chat completion (choices[0].message.content)"
        ) from None
    if not isinstance(content, str):
        raise AgentError(f"agent backend {where} sent a non-text answer")
    return content


def _retry_after(header: str | None, attempt: int) -> float:
    if header and header.strip().isdigit():
        return min(float(header), MAX_BACKOFF_SECONDS)
    return min(0.5 * 2.0 ** (attempt - 1), MAX_BACKOFF_SECONDS)


def display_url(url: str) -> str:
    """The URL without user:password@ and without a query string."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise AgentError("the job's timeout passed before the agent answered", timed_out=True)
    return left


def _bounded(timeout: float, deadline: float | None) -> float:
    left = _remaining(deadline)
    return timeout if left is None else min(timeout, left)


def ask_command(
    backend: Mapping[str, Any],
    prompt: str,
    *,
    cwd: str,
    env: Mapping[str, str],
    deadline: float | None,
    capture_bytes: int,
    limits: Mapping[str, Any] | None = None,
) -> ProcessResult:
    """Run the backend's argv with the prompt on stdin; its stdout (streamed to ours) is the answer."""
    timeout = _bounded(float(backend.get("timeout", 300)), deadline)
    with tempfile.TemporaryFile() as stdin:
        stdin.write(prompt.encode())
        stdin.seek(0)
        try:
            return run_process(
                backend["command"],
                cwd=cwd,
                env=env,
                timeout=timeout,
                capture_bytes=capture_bytes,
                stdin=stdin,
                limits=limits,
            )
        except StartError as exc:
            raise AgentError(f"agent command backend: {exc}", exit_code=JOB_CONFIG) from None
