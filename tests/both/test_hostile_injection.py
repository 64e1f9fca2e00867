"""Injection: hostile names, user-dir paths, script arguments and env values, read back from the real
user manager (`systemctl --user show`), the real cron daemon's crontab (python-crontab), and from the
script itself, which dumps the argv and environment it really got as JSON.

Each input either arrives exactly as written or is refused with the job and field named.
test_sync_systemd.py::test_hostile_names_paths_and_env_reach_systemd_exactly covers the unit text for
a few values; here the job also runs, through systemd, through cron and through `cronsync exec`.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from crontab import CronTab
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronsync.core.ids import job_id
from tests.support.cli import CRONSYNC_ARGV, cronsync, cronsync_in
from tests.support.exectools import log_records, make_space, run_exec, script_job
from tests.support.fuzzing import EXAMPLES, validation_problems
from tests.support.harness import CronDaemon, UserManager
from tests.support.hostile import DUMP_SCRIPT, shown_environment, tree_snapshot

HOSTILE = [
    "new\nline",
    "cr\rlf\r\n",
    "100% done %n %h %% %",
    "$HOME ${PATH} $$ $1 $",
    "`id` $(id)",
    "'single' \"double\" '",
    "back\\slash \\n \\\\ \\%",
    "ends in a backslash\\",
    "a;b && c || d | e > f < g & #h",
    "tab\there",
    "\x01\x1b[31mred\x1b[0m\x7f",
    "Grüße, 日本語, العربية, 🎉",
    "\u2028\u2029\u0085\ufeff\u200b",
    "",
    " leading and trailing ",
    "-rf",
    "--user-dir=/etc",
    "*",
    "~",
    "=",
    "x" * 100_000,
]
HOSTILE_NAME = "Weird %n \"name\" $USER; `id` 'q' \\ 日本 (x) %%"
HOSTILE_DIR = 'it\'s 50% "odd" $HOME; `id` back\\%slash ${X} %h 日本'


def hostile_space(root: Path, dump: Path, name: str = HOSTILE_NAME, **extra: Any) -> Path:
    env = {f"V{i}": value for i, value in enumerate(HOSTILE)}
    env["DUMP_TO"] = str(dump)
    job = script_job(name, "dump.py", payload={"args": HOSTILE, "env": env}, **extra)
    return make_space(root, [job], scripts={"dump.py": DUMP_SCRIPT})


def check_dump(dump: Path, args: list[str], env: dict[str, str]) -> None:
    got = json.loads(dump.read_text())
    assert got["argv"] == args
    for name, value in env.items():
        assert got["env"].get(name) == value, name


def show_value(manager: UserManager, unit: str, prop: str) -> str:
    """One property, whole: `show` prints some characters (U+0085, U+2028) raw, which splitlines splits."""
    return manager.systemctl("show", unit, f"--property={prop}", "--value").stdout.removesuffix("\n")


def test_hostile_values_reach_the_job_exactly_through_systemd(
    systemd_user: UserManager, tmp_path: Path
) -> None:
    weird = tmp_path / HOSTILE_DIR
    weird.mkdir()
    dump = tmp_path / "dump.json"
    user = hostile_space(weird, dump)
    applied = cronsync("apply", "--backend", "systemd", user_dir=user)
    assert applied.returncode == 0, applied.stderr
    ident = job_id(HOSTILE_NAME)
    service = f"cronsync-{ident}.service"
    assert show_value(systemd_user, service, "Description") == f"{HOSTILE_NAME} (cronsync job {ident})"
    environment = systemd_user.systemctl("show", service, "--property=Environment", "--value").stdout
    env = json.loads((user / "config" / "jobs.json").read_text())[0]["payload"]["env"]
    assert shown_environment(environment.removesuffix("\n")) == env
    exec_start = systemd_user.systemctl("show", service, "--property=ExecStart", "--value").stdout
    argv = [*CRONSYNC_ARGV, "--user-dir", str(user), "exec", ident]
    assert f"argv[]={' '.join(a.replace('$', '$$') for a in argv)} ;" in exec_start

    started = systemd_user.systemctl("start", service, check=False)
    assert started.returncode == 0, started.stderr + "\n".join(systemd_user.journal(f"cronsync-{ident}"))
    check_dump(dump, HOSTILE, env)
    (record,) = log_records(user)
    assert record["job_name"] == HOSTILE_NAME and record["status"] == "success"


def test_hostile_values_reach_the_job_exactly_through_exec(tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    user = hostile_space(tmp_path, dump)
    env = json.loads((user / "config" / "jobs.json").read_text())[0]["payload"]["env"]
    for name_or_id in (HOSTILE_NAME, job_id(HOSTILE_NAME)):
        dump.unlink(missing_ok=True)
        result = run_exec(user, name_or_id)
        assert result.returncode == 0, result.stderr
        check_dump(dump, HOSTILE, env)


def test_hostile_user_dir_reaches_cron_exactly_and_the_entry_fires(
    cron_daemon: CronDaemon, tmp_path: Path
) -> None:
    weird = tmp_path / HOSTILE_DIR
    weird.mkdir()
    dump = tmp_path / "dump.json"
    user = hostile_space(weird, dump, cron="* * * * *")
    applied = cronsync_in(cron_daemon, user, "apply", "--backend", "crontab")
    assert applied.returncode == 0, applied.stderr
    (entry,) = [job for job in CronTab(tab=cron_daemon.crontab()) if job.comment.startswith("cronsync:")]
    ident = job_id(HOSTILE_NAME)
    assert entry.comment == f"cronsync:{ident}" and str(entry.slices) == "* * * * *"
    # python-crontab undoes `\%` naively; decode the raw line the way cron itself does, then as sh would
    (line,) = [line for line in cron_daemon.crontab().splitlines() if line.endswith(f"# cronsync:{ident}")]
    raw = line.split(None, 5)[5].removesuffix(f" # cronsync:{ident}")
    command, stdin = cron_decode(raw)
    assert stdin is None, f"cron would cut the command at a %: {raw}"
    argv = shlex.split(command)
    assert argv == [*CRONSYNC_ARGV, "--user-dir", str(user), "exec", ident]
    # and the real daemon runs it: the job starts within the next minute, in the hostile user dir
    deadline = time.monotonic() + 75
    while time.monotonic() < deadline and not log_records(user):
        time.sleep(0.5)
    (record,) = log_records(user)[:1]
    assert record["job_id"] == ident and record["status"] == "success", record
    env = json.loads((user / "config" / "jobs.json").read_text())[0]["payload"]["env"]
    check_dump(dump, HOSTILE, env)


def cron_decode(command: str) -> tuple[str, str | None]:
    """What cron (Debian, do_command.c) runs: `\\%` becomes `%`, any other backslash stays, and the
    first bare `%` ends the command (the rest becomes its stdin). Returns (command, stdin or None)."""
    out: list[str] = []
    escaped = False
    for index, ch in enumerate(command):
        if escaped:
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
            escaped = False
            continue
        if ch == "%":
            return "".join(out), command[index + 1 :]
        out.append(ch)
        escaped = ch == "\\"
    return "".join(out), None


def test_cron_decode_follows_cron() -> None:
    assert cron_decode("date +\\%F") == ("date +%F", None)
    assert cron_decode("a\\\\%b") == ("a\\\\", "b")  # the escape escaped: % ends the command
    assert cron_decode("'a\\'\\%'b'") == ("'a\\'%'b'", None)


def test_a_user_dir_with_a_newline_is_refused_by_both_backends(
    cron_daemon: CronDaemon, tmp_path: Path
) -> None:
    weird = tmp_path / "two\nlines"
    weird.mkdir()
    user = make_space(weird, [script_job("Fine", "f.sh")], scripts={"f.sh": "#!/bin/sh\n"})
    cron_daemon.set_crontab("# mine\n")
    for backend in ("crontab", "systemd"):
        result = cronsync_in(cron_daemon, user, "apply", "--backend", backend)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert (
            "user dir path cannot be scheduled" in result.stderr or "no systemd user manager" in result.stderr
        )
    assert cron_daemon.crontab() == "# mine\n"


def test_nul_and_lone_surrogates_are_refused_naming_the_field(tmp_path: Path) -> None:
    jobs_text = json.dumps(
        [
            script_job("Nul", "f.sh", payload={"args": ["a\x00b"], "env": {"A": "\x00"}}),
            script_job("Surrogate", "f.sh", payload={"args": ["\ud800"], "env": {"B": "x\udfff"}}),
            script_job("Long", "f.sh", payload={"args": ["y" * 140_000], "env": {"C": "z" * 140_000}}),
            script_job("Name\x00", "f.sh"),
        ]
    )
    user = make_space(tmp_path, [], scripts={"f.sh": "#!/bin/sh\n"})
    (user / "config" / "jobs.json").write_text(jobs_text)
    result = cronsync("validate", user_dir=user)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for where in (
        "job #1 ('Nul'), field 'payload.args[0]': must not contain a NUL",
        "job #1 ('Nul'), field 'payload.env.A': must not contain a NUL",
        "job #2 ('Surrogate'), field 'payload.args[0]': contains a lone surrogate \\ud800",
        "job #2 ('Surrogate'), field 'payload.env.B': contains a lone surrogate \\udfff",
        "job #3 ('Long'), field 'payload.args': argument #0 is 140000 bytes",
        "job #3 ('Long'), field 'payload.env': C=... is 140002 bytes",
        "job #4 ('Name\\x00'), field 'name': must not contain a NUL",
    ):
        assert where in result.stderr, (where, result.stderr)
    for job in ("nul", "surrogate", "long"):
        ran = run_exec(user, job)
        assert ran.returncode == 78 and "Traceback" not in ran.stderr, ran.stderr


def test_a_hostile_prompt_reaches_the_agent_command_exactly(tmp_path: Path) -> None:
    prompt = "\n".join(HOSTILE)
    got = tmp_path / "prompt.bin"
    backend = f"import sys\nopen({str(got)!r}, 'wb').write(sys.stdin.buffer.read())\nprint('answered')\n"
    (tmp_path / "model.py").write_text(backend)
    job = {"name": "Ask", "cron": "@daily", "action": "agent_workflow", "payload": {"prompt": prompt}}
    user = make_space(
        tmp_path,
        [job],
        {"agent": {"backend": "command", "command": [sys.executable, str(tmp_path / "model.py")]}},
    )
    result = run_exec(user, "ask")
    assert result.returncode == 0, result.stderr
    assert got.read_bytes() == prompt.encode()
    assert result.stdout == "answered\n"


# --- property: random text through the real user manager -------------------------------------------

SYSTEMD_EXAMPLES = max(25, EXAMPLES // 60)
any_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)


# printable text (what a name may hold), and anything at all (what it may not)
printable = st.characters(
    exclude_categories=["Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"], include_characters=" "
)


@st.composite
def hostile_jobs(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 4)):  # mostly names that are valid, so that most examples really run
        name = draw(st.sampled_from(["J ", "Job-", "x"])) + draw(st.text(printable, max_size=30)) + "z"
    else:
        name = draw(st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=30))
    args = draw(st.lists(st.one_of(any_text, st.sampled_from(HOSTILE[:-1])), max_size=4))
    values = draw(st.lists(st.one_of(any_text, st.sampled_from(HOSTILE[:-1])), max_size=4))
    return {"name": name, "args": args, "env": {f"E{i}": value for i, value in enumerate(values)}}


def test_random_text_reaches_systemd_and_the_job_exactly(systemd_user: UserManager, tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    user = make_space(tmp_path, [], scripts={"dump.py": DUMP_SCRIPT})
    jobs_file = user / "config" / "jobs.json"
    ran: list[str] = []

    @settings(
        max_examples=SYSTEMD_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(hostile_jobs())
    def check(example: dict[str, Any]) -> None:
        env = {**example["env"], "DUMP_TO": str(dump)}
        job = script_job(example["name"], "dump.py", payload={"args": example["args"], "env": env})
        text = json.dumps([job]).encode()
        before = tree_snapshot(systemd_user.unit_dir)
        jobs_file.write_bytes(text)
        applied = cronsync("apply", "--backend", "systemd", user_dir=user)
        assert "Traceback" not in applied.stderr
        if validation_problems(user, text) or job_id(example["name"]) == "sync":
            assert applied.returncode == 1 and "job #1" in applied.stderr, applied.stderr
            assert tree_snapshot(systemd_user.unit_dir) == before
            return
        assert applied.returncode == 0, applied.stderr
        ident = job_id(example["name"])
        service = f"cronsync-{ident}.service"
        described = show_value(systemd_user, service, "Description")
        assert described == f"{example['name']} (cronsync job {ident})"
        shown = systemd_user.systemctl("show", service, "--property=Environment", "--value").stdout
        assert shown_environment(shown.removesuffix("\n")) == env
        dump.unlink(missing_ok=True)
        started = systemd_user.systemctl("start", service, check=False)
        assert started.returncode == 0, started.stderr
        check_dump(dump, example["args"], env)
        ran.append(example["name"])

    check()
    assert len(ran) >= SYSTEMD_EXAMPLES // 3, ran  # most examples really ran, not only refusals
    assert not [path for path in systemd_user.unit_dir.iterdir() if path.name.startswith(".")]  # no temp file
