"""Fuzzing jobs.json through `cronsync apply` on the real user manager and the real cron daemon.

Each example writes a broken jobs.json (mutated JSON text, or well-formed JSON with wrong values)
and runs the real CLI in a subprocess. Whatever the input: no traceback, exit 1 with one line per
problem naming the job and the field, and the unit directory and the crontab byte-identical to what
was installed before. Examples the validator accepts go through `cronsync plan` instead (which must
not fail with a traceback either, and writes nothing), so no example is wasted.

One user manager (or cron daemon) per test; many examples inside. CI runs 150 examples per backend
(about 0.2 s each) plus 2,000 in-process; CRONSYNC_FUZZ_EXAMPLES=N runs N in-process and N/10 per
backend (default N = 1500, as in test_fuzz_jobs.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cli import EXAMPLE, cronsync, cronsync_in
from tests.support.fuzzing import EXAMPLES, FIELDS, PAYLOAD_FIELDS, json_values, validation_problems
from tests.support.harness import CronDaemon, UserManager
from tests.support.hostile import tree_snapshot
from tests.support.userspaces import USER_CRONTAB, enable_every_job

APPLY_EXAMPLES = max(150, EXAMPLES // 10)
IN_PROCESS_EXAMPLES = max(2000, EXAMPLES)
SEED_TEXT = (EXAMPLE / "config" / "jobs.json").read_bytes()
SEED: list[dict[str, Any]] = json.loads(SEED_TEXT)
SETTINGS = (EXAMPLE / "config" / "settings.json").read_bytes()
through_cli = settings(
    max_examples=APPLY_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)

# (field, a value that is wrong there, the field the error must name: a prefix, e.g. payload.args[0])
WRONG_VALUES: list[tuple[str, Any, str]] = [
    ("name", "", "name"),
    ("name", " padded", "name"),
    ("name", "two\nlines", "name"),
    ("name", "tab\there", "name"),
    ("name", "日本語", "name"),
    ("name", "%$`';\\", "name"),
    ("name", 5, "name"),
    ("name", "x" * 201, "name"),
    ("name", "Sync", "name"),  # its id is the watcher's: refused at validation
    ("cron", "61 * * * *", "cron"),
    ("cron", "* * *", "cron"),
    ("cron", "", "cron"),
    ("cron", 7, "cron"),
    ("cron", "@fortnightly", "cron"),
    ("cron", "0 9 * * 1-5\n* * * * * rm -rf ~", "cron"),
    ("cron", "0 9 * * 1-5 % echo", "cron"),
    ("cron", "L W # ?", "cron"),
    ("action", "shell", "action"),
    ("action", None, "action"),
    ("enabled", "maybe", "enabled"),
    ("enabled", 2, "enabled"),
    ("persistent", "sometimes", "persistent"),
    ("random_delay", -1, "random_delay"),
    ("random_delay", "soon", "random_delay"),
    ("accuracy", 0, "accuracy"),
    ("timeout", 0, "timeout"),
    ("timeout", "5 parsecs", "timeout"),
    ("timeout", True, "timeout"),
    ("timezone", "Mars/Olympus", "timezone"),
    ("timezone", "../../../etc/passwd", "timezone"),
    ("overlap", "never", "overlap"),
    ("notify", "telegram", "notify"),
    ("notify", {"on": "sometimes"}, "notify.on"),
    ("notify", {"gateways": ["undefined"]}, "notify.gateways"),
    ("notify", {"gateways": ["bad name!"]}, "notify.gateways"),
    ("colour", "red", "colour"),
    ("payload", "x", "payload"),
    ("payload", None, "payload"),
    ("payload.path", "../../../etc/passwd", "payload.path"),
    ("payload.path", "/etc/passwd", "payload.path"),
    ("payload.path", "scripts/missing.py", "payload.path"),
    ("payload.path", "scripts", "payload.path"),
    ("payload.path", 5, "payload.path"),
    ("payload.path", "scripts/clean_tmp.py\x00.sh", "payload.path"),
    ("payload.args", "notalist", "payload.args"),
    ("payload.args", [1], "payload.args"),
    ("payload.args", ["a\x00b"], "payload.args"),
    ("payload.env", {"1BAD": "x"}, "payload.env"),
    ("payload.env", {"A B": "x"}, "payload.env"),
    ("payload.env", {"A": 1}, "payload.env"),
    ("payload.env", {"A": "x\x00y"}, "payload.env"),
    ("payload.env", [], "payload.env"),
    ("payload.timeout", -5, "payload.timeout"),
    ("payload.working_dir", 5, "payload.working_dir"),
    ("payload.shell", True, "payload.shell"),
    ("payload.prompt", "", "payload.prompt"),
    ("payload.prompt", None, "payload.prompt"),
    ("payload.output", "nowhere", "payload.output"),
    ("payload.context", 5, "payload.context"),
    ("payload.model", 5, "payload.model"),
]
# Every line cronsync prints for invalid input: where (file, job, field), then what was wrong.
# (a field is quoted as Python's repr quotes it: '...', or "..." when it holds a ')
JOB_LINE = re.compile(r"^error: \S+, job #(\d+)(?: \(.*\))?(?:, field (?:'([^']+)'|\"([^\"]+)\"))?: \S.*$")
FILE_LINE = re.compile(
    r"^error: \S+(?::\d+:\d+: invalid JSON at line \d+, column \d+: "
    r"|: jobs.json must be a JSON array|: not UTF-8 text).*$"
)


def set_field(job: Any, field: str, value: Any) -> bool:
    """job[field] = value (a dotted field goes into payload); False when the job cannot hold it."""
    if not isinstance(job, dict):
        return False
    if field.startswith("payload."):
        if not isinstance(job.get("payload"), dict):
            return False
        job["payload"][field.split(".", 1)[1]] = value
    else:
        job[field] = value
    return True


class Example:
    """One jobs.json to try, and the (job index, field) pairs that must be named if it is refused."""

    def __init__(self, text: bytes, expected: dict[int, set[str]], surely_invalid: bool) -> None:
        self.text = text
        self.expected = expected
        self.surely_invalid = surely_invalid

    def __repr__(self) -> str:
        return f"Example({self.text!r}, expected={self.expected})"


@st.composite
def examples(draw: st.DrawFn) -> Example:
    kind = draw(st.sampled_from(["wrong values", "wrong values", "random value", "mutated text"]))
    if kind == "mutated text":
        text = bytearray(SEED_TEXT)
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(text)))
            op = draw(st.sampled_from(["insert", "delete", "replace"]))
            byte = draw(st.sampled_from(list(b'{}[]",:\\ \n0a-*/@%$`\x00\xff')))
            if op == "insert":
                text[pos:pos] = bytes([byte])
            elif pos < len(text):
                text[pos : pos + 1] = b"" if op == "delete" else bytes([byte])
        return Example(bytes(text), {}, surely_invalid=False)
    jobs = json.loads(SEED_TEXT)
    if kind == "random value":
        index = draw(st.integers(0, len(jobs) - 1))
        field = draw(st.sampled_from(FIELDS + [f"payload.{f}" for f in PAYLOAD_FIELDS]))
        set_field(jobs[index], field, draw(json_values))
        return Example(json.dumps(jobs).encode(), {}, surely_invalid=False)
    expected: dict[int, set[str]] = {}
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(jobs) - 1))
        field, value, named = draw(st.sampled_from(WRONG_VALUES))
        if set_field(jobs[index], field, value):
            expected.setdefault(index, set()).add(named)
    shift = 0
    if draw(st.booleans()):  # a valid job around the broken ones does not hide them
        jobs.insert(0, {**SEED[1], "name": "Valid Neighbour"})
        shift = 1
    return Example(
        json.dumps(jobs).encode(),
        {index + shift: fields for index, fields in expected.items()},
        surely_invalid=bool(expected),
    )


def check_refusal(result: subprocess.CompletedProcess[str], example: Example) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    lines = result.stderr.splitlines()
    assert lines, output
    named: dict[int, set[str]] = {}
    for line in lines:
        match = JOB_LINE.match(line)
        if match is None:
            assert FILE_LINE.match(line), f"an error line that names no job and field: {line!r}"
            continue
        index, field = int(match.group(1)) - 1, match.group(2) or match.group(3)
        assert field is not None or "each job must be a JSON object" in line, line
        named.setdefault(index, set()).add(field or "")
    for index, fields in example.expected.items():
        # a broken action or payload hides the payload's own errors: one of the fields suffices
        assert index in named, f"job #{index + 1} is not named: {output}"
        assert any(f.startswith(want) for f in named[index] for want in fields), (fields, output)


def fuzz_through_cli(
    user_dir: Path,
    example: Example,
    run: Callable[..., subprocess.CompletedProcess[str]],
    installed: Callable[[], object],
) -> None:
    jobs_file = user_dir / "config" / "jobs.json"
    before = installed()
    jobs_file.write_bytes(example.text)
    refused = bool(validation_problems(user_dir, example.text)) or example.surely_invalid
    if refused:
        check_refusal(run("apply"), example)
    else:
        result = run("plan", "--json")
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        if result.returncode != 0:  # refused when planning (e.g. a time zone cron cannot honour)
            check_refusal(result, example)
    assert installed() == before


def test_broken_jobs_never_change_what_systemd_runs(systemd_user: UserManager, user_dir: Path) -> None:
    enable_every_job(user_dir)
    applied = cronsync("apply", "--backend", "systemd", user_dir=user_dir)
    assert applied.returncode == 0, applied.stderr
    # The auto-sync watcher would apply the examples the validator accepts (which go through `plan`
    # here) a second later, and race the comparison; invalid saves through it are tested elsewhere.
    systemd_user.systemctl("stop", "cronsync-sync.path")
    timers = systemd_user.systemctl("list-timers", "--all", "--no-legend").stdout

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cronsync(*args, "--backend", "systemd", user_dir=user_dir)

    def installed() -> object:
        return tree_snapshot(systemd_user.unit_dir)

    @through_cli
    @given(examples())
    def fuzz(example: Example) -> None:
        fuzz_through_cli(user_dir, example, run, installed)

    fuzz()
    # the manager still runs exactly the timers of the first apply
    after = systemd_user.systemctl("list-timers", "--all", "--no-legend").stdout
    assert (
        _timer_names(after)
        == _timer_names(timers)
        == {
            "cronsync-daily-standup-summary.timer",
            "cronsync-clean-temp-files.timer",
        }
    )


def _timer_names(listing: str) -> set[str]:
    return {word for word in listing.split() if word.endswith(".timer")}


def test_broken_jobs_never_change_the_crontab(cron_daemon: CronDaemon, user_dir: Path) -> None:
    cron_daemon.set_crontab(USER_CRONTAB)
    applied = cronsync_in(cron_daemon, user_dir, "apply", "--backend", "crontab")
    assert applied.returncode == 0, applied.stderr
    assert "cronsync:clean-temp-files" in cron_daemon.crontab()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cronsync_in(cron_daemon, user_dir, *args, "--backend", "crontab")

    def installed() -> object:
        from cronsync.userspace.paths import systemd_user_unit_dir

        return cron_daemon.crontab(), tree_snapshot(systemd_user_unit_dir())

    @through_cli
    @given(examples())
    def fuzz(example: Example) -> None:
        fuzz_through_cli(user_dir, example, run, installed)

    fuzz()
    assert cron_daemon.crontab().startswith(USER_CRONTAB)


@settings(max_examples=IN_PROCESS_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(examples())
def test_wrong_values_are_always_refused_naming_job_and_field(example: Example) -> None:
    """The same examples in-process: every well-formed-but-wrong value is found by validation alone
    (the watcher-id clash too)."""
    problems = validation_problems(EXAMPLE, example.text)
    located = {(p.job_index, p.field or "") for p in problems}
    for index, fields in example.expected.items():
        assert any(i == index and f.startswith(w) for i, f in located for w in fields), (fields, problems)
    assert all(str(p).startswith(p.file) for p in problems)


def test_cli_line_format_is_what_the_fuzzer_parses(user_dir: Path) -> None:
    """The fuzzer's parsing of error lines can fail: a line in another shape is caught."""
    jobs = [{**SEED[1], "cron": "61 * * * *"}, 5]
    (user_dir / "config" / "jobs.json").write_text(json.dumps(jobs))
    result = cronsync("validate", user_dir=user_dir)
    lines = result.stderr.splitlines()
    assert [bool(JOB_LINE.match(line)) for line in lines] == [True, True]
    bad = subprocess.CompletedProcess([sys.executable], 1, "", "error: something vague\n")
    try:
        check_refusal(bad, Example(b"", {}, True))
    except AssertionError:
        return
    raise AssertionError("a vague error line was accepted")


DEEP = 100_000


def test_deeply_nested_or_huge_json_is_refused_without_a_traceback(
    systemd_user: UserManager, user_dir: Path
) -> None:
    """json.loads raises RecursionError, not a syntax error, for thousands of nested brackets."""
    assert cronsync("apply", "--backend", "systemd", user_dir=user_dir).returncode == 0
    before = tree_snapshot(systemd_user.unit_dir)
    jobs_file, settings_file = user_dir / "config" / "jobs.json", user_dir / "config" / "settings.json"
    nested = "[" * DEEP + "]" * DEEP
    cases = [
        (jobs_file, nested, "nested too deeply"),
        (
            jobs_file,
            json.dumps([{**SEED[1], "payload": {"path": "scripts/clean_tmp.py", "args": [[[[]]]]}}]),
            "payload.args[0]",
        ),
        (settings_file, '{"gateways": ' + nested + "}", "nested too deeply"),
        (jobs_file, json.dumps([{**SEED[1], "name": f"Job {i}"} for i in range(20_000)] + [5]), "job #20001"),
    ]
    for file, text, expected in cases:
        original = file.read_bytes()
        file.write_text(text)
        for command in (["validate"], ["apply", "--backend", "systemd"], ["exec", "clean-temp-files"]):
            result = cronsync(*command, user_dir=user_dir)
            assert "Traceback" not in result.stderr, (command, result.stderr[-2000:])
            assert result.returncode == (78 if command[0] == "exec" else 1), (command, result.stderr[-500:])
            assert expected in result.stderr, (command, expected, result.stderr[-500:])
        file.write_bytes(original)
        assert tree_snapshot(systemd_user.unit_dir) == before
