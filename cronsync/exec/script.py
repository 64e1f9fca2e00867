"""Script jobs: the interpreter (by extension or shebang), the working directory, the run itself."""

from __future__ import annotations

import os

from cronsync import JOB_TIMEOUT
from cronsync.adapters.process import StartError, find_program, run_process
from cronsync.exec.run import ExecError, Outcome, Run

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    from collections.abc import Sequence


def script_plan(run: Run) -> tuple[list[str], str, dict[str, str]]:
    """argv, working directory and environment of a script job; ExecError when it cannot start."""
    payload = run.job["payload"]
    try:
        script = run.space.script_path(payload["path"])
    except ValueError as exc:
        raise ExecError(f"job {run.job['name']!r}, payload.path: {exc}") from None
    env = run.environment()
    try:
        argv = script_command(
            script, payload.get("args") or [], python=run.settings.get("python"), path_value=env["PATH"]
        )
    except StartError as exc:
        raise ExecError(str(exc)) from None
    return argv, working_dir(run), env


def working_dir(run: Run) -> str:
    """payload.working_dir (`~` expanded, relative to USER), else the home directory."""
    chosen = run.job["payload"].get("working_dir")
    if not chosen:
        return os.path.expanduser("~")
    folder = os.path.join(run.space.root_str, os.path.expanduser(chosen))
    if not os.path.isdir(folder):
        raise ExecError(f"job {run.job['name']!r}, payload.working_dir: {folder} is not a directory")
    return folder


def run_script(run: Run, outcome: Outcome) -> None:
    argv, cwd, env = script_plan(run)
    timeout = run.job.get("timeout")
    limits, oom_before = run.own_limits(), None
    if run.job.get("limits"):
        from cronsync.exec.limits import oom_kills

        oom_before = oom_kills()
    try:
        result = run_process(
            argv,
            cwd=cwd,
            env=env,
            timeout=run.attempt_timeout(),
            capture_bytes=run.log_settings["capture_bytes"],
            limits=limits,
        )
    except StartError as exc:
        raise ExecError(str(exc)) from None
    outcome.stdout, outcome.stderr = result.stdout, result.stderr
    if oom_before is not None:
        _out_of_memory(run, outcome, oom_before)
    if result.timed_out and run.due_to_be_replaced():
        outcome.replaced()
    elif result.timed_out:
        outcome.fail(
            f"timed out after {timeout}s; its process group was stopped", JOB_TIMEOUT, timed_out=True
        )
    elif result.exit_code != 0:
        outcome.status, outcome.exit_code = "failure", result.exit_code


def _out_of_memory(run: Run, outcome: Outcome, before: int) -> None:
    """Say so when the OOM killer ended a process of the run (its service's cgroup counts it)."""
    from cronsync.exec.limits import oom_kills, size_text

    after = oom_kills()
    if after is not None and after > before:
        limit = run.job["limits"].get("memory_max")
        past = f" past limits.memory_max ({size_text(int(limit))})" if limit else ""
        outcome.error = f"killed by the out-of-memory killer: the job used memory{past}"


def read_shebang(script: str) -> list[str] | None:
    try:
        with open(script, "rb") as handle:
            first = handle.read(256).split(b"\n", 1)[0]
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    # Linux passes everything after the interpreter as one argument
    interpreter, _, argument = first[2:].decode("utf-8", "replace").strip().partition(" ")
    return [interpreter, argument.strip()] if argument.strip() else [interpreter] if interpreter else None


_TS_RUNNERS: tuple[tuple[str, list[str]], ...] = (
    ("tsx", []),
    ("deno", ["run", "--allow-all"]),
    ("bun", ["run"]),
)
_JS_RUNNERS: tuple[tuple[str, list[str]], ...] = (
    ("node", []),
    ("deno", ["run", "--allow-all"]),
    ("bun", ["run"]),
)


def script_command(script: str, args: Sequence[str], *, python: str | None, path_value: str) -> list[str]:
    """The argv that runs a script: by extension, else by its shebang. StartError says what to install."""
    name = os.path.basename(script)
    suffix = os.path.splitext(name)[1].lower()
    if suffix == ".py":
        interpreter = python or "python3"
        if find_program(interpreter, path_value) is None:
            raise StartError(
                f"cannot run {name}: Python interpreter {interpreter!r} not found on PATH "
                '(set "python" in settings.json or install python3)'
            )
        return [interpreter, script, *args]
    if suffix == ".sh":
        shebang = read_shebang(script)
        shell = "bash" if shebang and "bash" in " ".join(shebang) else "sh"
        return [shell, script, *args]
    if suffix in (".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"):
        runners = _TS_RUNNERS if "ts" in suffix else _JS_RUNNERS
        for program, extra in runners:
            if find_program(program, path_value):
                return [program, *extra, script, *args]
        install = "tsx (npm install -g tsx)" if "ts" in suffix else "Node.js (apt install nodejs)"
        names = ", ".join(program for program, _ in runners)
        raise StartError(f"cannot run {name}: none of {names} is on PATH; install {install}")
    return _shebang_command(script, args, path_value)


def _shebang_command(script: str, args: Sequence[str], path_value: str) -> list[str]:
    name = os.path.basename(script)
    shebang = read_shebang(script)
    executable = os.access(script, os.X_OK)
    if shebang is None:
        if executable:
            return [script, *args]
        raise StartError(
            f"cannot run {name}: no known extension (.py .sh .ts .js), no '#!' line and not "
            f"executable; add a shebang such as '#!/usr/bin/env python3' or rename it"
        )
    if find_program(shebang[0], path_value) is None:
        raise StartError(f"cannot run {name}: its interpreter {shebang[0]!r} (from '#!') is missing")
    return [script, *args] if executable else [*shebang, script, *args]
