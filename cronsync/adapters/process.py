"""Running one process for a job: its own process group, streamed and bounded output, a timeout.

Output is passed through to our stdout/stderr as it arrives (the journal keeps it) and captured into a
fixed-size head+tail buffer, so a job that prints gigabytes costs constant memory.
"""

from __future__ import annotations

import os
import select
import time

from cronsync import JOB_CONFIG, CronsyncError

TYPE_CHECKING = False  # typing itself costs milliseconds on every run: only mypy reads these
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable, Mapping, Sequence
    from typing import IO, Any

    Redact = Callable[[str], str]
else:
    try:
        import _signal as signal  # what `signal` wraps in enums: importing enum costs ~2 ms a run
    except ImportError:  # pragma: no cover - every CPython has _signal
        import signal

KILL_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL
DRAIN_AFTER_EXIT_SECONDS = 1.0  # a background grandchild may keep the pipes open after the job exits
SANE_PATH = ("~/.local/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
_READ_SIZE = 65536
# poll(2) takes milliseconds as a C int (under 25 days): wait at most this long, then look at the timers again
_MAX_POLL_SECONDS = 3600.0


class StartError(CronsyncError):
    """The job could not be started as configured (missing interpreter, working directory, ...)."""

    exit_code = JOB_CONFIG


class Capture:
    """The first and last `limit // 2` bytes of a stream, and how many bytes it had in all."""

    def __init__(self, limit: int) -> None:
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk[-self.half :]
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]

    @property
    def dropped(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def excerpt(self, limit: int, redact: Redact | None = None) -> str:
        """At most about `limit` bytes as text: the start and the end, with the gap's size between.
        `redact` is applied to what was captured before it is cut to `limit`, so that no cut leaves
        part of a secret behind."""
        head, end = self._pieces(redact)
        total = self.total + len(head) + len(end) - len(self.head) - len(self.tail)  # after redaction
        if total <= limit and not self.dropped:
            return _decode(head)
        keep_head = min(limit // 2, len(head))
        known_end = end if self.dropped else head
        keep_tail = min(limit - keep_head, len(known_end), total - keep_head)
        start = _decode(head[:keep_head])
        last = _decode(known_end[len(known_end) - keep_tail :]) if keep_tail else ""
        omitted = total - keep_head - keep_tail
        return f"{start}\n[… {omitted} bytes omitted …]\n{last}"

    def tail_text(self, limit: int, redact: Redact | None = None) -> str:
        """The last `limit` bytes as text (redacted before they are cut), `…` first if there was more."""
        head, end = self._pieces(redact)
        known_end = end if self.dropped else head
        text = _decode(known_end[-limit:])
        return text if len(known_end) <= limit and not self.dropped else f"…{text}"

    def text(self, redact: Redact | None = None) -> str:
        return self.excerpt(2 * self.half, redact)

    def _pieces(self, redact: Redact | None) -> tuple[bytes, bytes]:
        """What was captured, redacted: the head and the tail apart when bytes between them were
        dropped, else all of it and nothing."""
        pieces = (bytes(self.head), bytes(self.tail)) if self.dropped else (bytes(self.head + self.tail), b"")
        if redact is None:
            return pieces
        head, end = pieces
        return redact(_decode(head)).encode(), redact(_decode(end)).encode()


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


class ProcessResult:
    def __init__(self, exit_code: int, timed_out: bool, stdout: Capture, stderr: Capture) -> None:
        self.exit_code = exit_code
        self.timed_out = timed_out
        self.stdout = stdout
        self.stderr = stderr


class _Group:
    """Signals for the job's process group: TERM at the deadline, KILL after the grace period."""

    def __init__(self, pid: int, timeout: float | None) -> None:
        self.pid = pid
        self.deadline = time.monotonic() + timeout if timeout else None
        self.kill_at: float | None = None
        self.timed_out = False

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)
        if self.kill_at is None:
            self.kill_at = time.monotonic() + KILL_GRACE_SECONDS

    def tick(self) -> float | None:
        """Act on expired timers; return seconds until the next one (None: no timer)."""
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline and not self.timed_out:
            self.timed_out = True
            self.terminate()
        if self.kill_at is not None and now >= self.kill_at:
            self._signal(signal.SIGKILL)
            self.kill_at = None
        pending = [t for t in (None if self.timed_out else self.deadline, self.kill_at) if t is not None]
        return max(min(pending) - now, 0.0) if pending else None

    def alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            return


class _Child:
    """The spawned process: its pid, its exit status once reaped, and a pidfd that wakes us when it exits."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exit_code: int | None = None
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except OSError:  # kernels before 5.3: poll instead
            self.pidfd = None

    def poll(self) -> int | None:
        if self.exit_code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                self.exit_code = 128 - code if code < 0 else code  # killed by signal N: 128+N
        return self.exit_code

    def wait(self, timeout: float | None) -> None:
        """Until it exits or `timeout` passes."""
        if self.pidfd is not None:
            select.select([self.pidfd], [], [], timeout)
        else:
            time.sleep(0.05 if timeout is None else min(timeout, 0.05))

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)


def run_process(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    timeout: float | None,
    capture_bytes: int,
    passthrough: bool = True,
    stdin: IO[bytes] | None = None,
    limits: Mapping[str, Any] | None = None,
) -> ProcessResult:
    """Run argv (never through a shell) in a new session; stream, capture, and time it out. `limits`
    (a job's, under cron): set by the new process itself before it runs argv (adapters/limits.py)."""
    program = find_program(argv[0], env.get("PATH", os.defpath))
    if program is None:
        raise StartError(
            f"cannot start {argv[0]!r}: no such executable (searched PATH={env.get('PATH', '')})"
        )
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        if limits:
            pid = _fork_with_limits(program, argv, cwd, env, stdin, out_write, err_write, limits)
        else:
            pid = _spawn(program, argv, cwd, env, stdin, out_write, err_write)
    except StartError:
        for fd in (out_read, err_read):
            os.close(fd)
        raise
    except (OSError, ValueError) as exc:  # ValueError: text no C string can hold (NUL, lone surrogate)
        for fd in (out_read, err_read):
            os.close(fd)
        reason = (
            exc.strerror if isinstance(exc, OSError) else f"an argument or variable cannot be passed ({exc})"
        )
        raise StartError(f"cannot start {argv[0]!r} in {cwd}: {reason}") from None
    finally:
        os.close(out_write)
        os.close(err_write)
    child = _Child(pid)
    group = _Group(pid, timeout)
    previous_term = signal.signal(signal.SIGTERM, lambda _sig, _frame: group.terminate())
    stdout, stderr = Capture(capture_bytes), Capture(capture_bytes)
    try:
        _pump({out_read: (stdout, 1), err_read: (stderr, 2)}, child, group, passthrough)
        _wait(child, group)
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        for fd in (out_read, err_read):
            os.close(fd)
        child.close()
    assert child.exit_code is not None
    return ProcessResult(child.exit_code, group.timed_out, stdout, stderr)


def _spawn(
    program: str,
    argv: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
    stdin: IO[bytes] | None,
    out: int,
    err: int,
) -> int:
    """posix_spawn (no fork of this process, and much cheaper to import than subprocess) in a new session,
    with the signals Python ignores (SIGPIPE, SIGXFSZ) back to their defaults."""
    actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = [
        (os.POSIX_SPAWN_DUP2, out, 1),
        (os.POSIX_SPAWN_DUP2, err, 2),
        (os.POSIX_SPAWN_DUP2, stdin.fileno(), 0)
        if stdin is not None
        else (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
    ]
    # Python's posix_spawn has no chdir action: switch our own cwd around the call (we are single-threaded)
    here = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.chdir(cwd)
        return os.posix_spawn(
            program,
            list(argv),
            dict(env),
            file_actions=actions,
            setsid=True,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    finally:
        os.fchdir(here)
        os.close(here)


def _fork_with_limits(
    program: str,
    argv: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
    stdin: IO[bytes] | None,
    out: int,
    err: int,
    limits: Mapping[str, Any],
) -> int:
    """fork, set the limits in the child (never in exec itself), then exec argv; what _spawn does
    otherwise (a new session, stdin from /dev/null unless given, SIGPIPE and SIGXFSZ at their defaults).
    A limit the child cannot set is a StartError: the child writes why on a close-on-exec pipe and exits."""
    from cronsync.adapters.limits import set_own_limits

    report_read, report_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, which only execs or exits
        try:
            os.close(report_read)
            os.setsid()
            given = stdin.fileno() if stdin is not None else os.open(os.devnull, os.O_RDONLY)
            for source, target in ((given, 0), (out, 1), (err, 2)):
                os.dup2(source, target)
            for signum in (signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(signum, signal.SIG_DFL)
            os.chdir(cwd)
            set_own_limits(limits)
            os.execve(program, list(argv), dict(env))
        except BaseException as exc:  # whatever it is, the parent says it
            os.write(report_write, str(exc).encode("utf-8", "replace")[:4096] or b"cannot start")
        os._exit(127)
    os.close(report_write)
    chunks = []
    while chunk := os.read(report_read, 4096):
        chunks.append(chunk)
    os.close(report_read)
    if chunks:
        os.waitpid(pid, 0)
        raise StartError(f"cannot start {argv[0]!r}: {b''.join(chunks).decode('utf-8', 'replace')}")
    return pid


def _pump(pipes: dict[int, tuple[Capture, int]], child: _Child, group: _Group, passthrough: bool) -> None:
    """Copy each pipe (fd -> its capture and our fd to pass it through to) until EOF, the job's
    exit plus a short drain, acting on the group's timers meanwhile. poll(2): cheaper than selectors."""
    poller = select.poll()
    for fd in pipes:
        poller.register(fd, select.POLLIN)
    if child.pidfd is not None:
        poller.register(child.pidfd, select.POLLIN)
    open_pipes = len(pipes)
    exited_at: float | None = None
    while open_pipes:
        if exited_at is None and child.poll() is not None:
            exited_at = time.monotonic()
            if child.pidfd is not None:
                poller.unregister(child.pidfd)
        next_timer = group.tick()
        if exited_at is not None:
            # a background grandchild may hold the pipes open: drain briefly, then stop reading
            drain_left = exited_at + DRAIN_AFTER_EXIT_SECONDS - time.monotonic()
            if drain_left <= 0:
                return
            next_timer = drain_left if next_timer is None else min(next_timer, drain_left)
        elif child.pidfd is None:
            next_timer = 0.25 if next_timer is None else min(next_timer, 0.25)
        wait_ms = None if next_timer is None else min(next_timer, _MAX_POLL_SECONDS) * 1000
        for fd, _events in poller.poll(wait_ms):
            if fd not in pipes:
                continue  # the pidfd: the child exited, noticed at the top of the loop
            capture, out_fd = pipes[fd]
            data = os.read(fd, _READ_SIZE)
            if not data:
                poller.unregister(fd)
                open_pipes -= 1
                continue
            capture.add(data)
            if passthrough:
                _write_all(out_fd, data)


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass  # our own stdout gone (e.g. journal restarted): keep capturing


def _wait(child: _Child, group: _Group) -> None:
    """Reap the child; after a timeout, give the rest of its group the grace period, then SIGKILL it."""
    while child.poll() is None:
        child.wait(group.tick())
    if not group.timed_out:
        return
    while group.kill_at is not None and group.alive():
        time.sleep(min(0.1, max(group.kill_at - time.monotonic(), 0)))
        group.tick()


# --- what to run --------------------------------------------------------------------------------


def find_program(name: str, path_value: str) -> str | None:
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    for folder in path_value.split(os.pathsep):
        candidate = os.path.join(folder, name)
        if folder and os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            return candidate
    return None


def job_environment(extra: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment, PATH extended with the usual system folders, then the job's variables."""
    env = dict(os.environ if base is None else base)
    inherited = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    wanted = inherited + [os.path.expanduser(p) for p in SANE_PATH]
    env["PATH"] = os.pathsep.join(dict.fromkeys(wanted))
    env.update(extra)
    return env


def groups_holding(path: str, lowest_fd: int) -> set[int]:
    """The process groups of this account's processes (other than ours) that hold `path` open at a
    descriptor numbered `lowest_fd` or above, read from /proc: what is left of a run whose parent is
    gone. Processes of other accounts cannot be read, and are never signalled."""
    try:
        wanted = os.stat(path)
    except OSError:
        return set()
    ours, groups = os.getpgrp(), set()
    for pid in (name for name in os.listdir("/proc") if name.isdigit()):
        if _holds(pid, (wanted.st_dev, wanted.st_ino), lowest_fd):
            try:
                group = os.getpgid(int(pid))
            except OSError:  # gone meanwhile
                continue
            if group != ours:
                groups.add(group)
    return groups


def _holds(pid: str, file: tuple[int, int], lowest_fd: int) -> bool:
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # another account's process, or gone
        return False
    for fd in descriptors:
        if int(fd) < lowest_fd:
            continue
        try:
            info = os.stat(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == file:
            return True
    return False


def signal_groups(groups: set[int], signum: int) -> None:
    for group in groups:
        try:
            os.killpg(group, signum)
        except (ProcessLookupError, PermissionError):
            continue
