"""`cronsync exec` of script jobs: real processes, real locks, real logs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cronsync.userspace.compiled import current_signature, read_compiled, save_compiled, source_key
from cronsync.userspace.paths import UserSpace
from tests.support.cli import CRONSYNC_ARGV, REPO, cronsync
from tests.support.exectools import exec_argv, log_records, make_space, run_exec, script_job

RECORD_KEYS = {
    "run_id",
    "job_id",
    "job_name",
    "trigger",
    "start",
    "end",
    "duration",
    "status",
    "exit_code",
    "output_bytes",
    "excerpt",
}


def test_success_streams_output_and_logs_one_record(tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    user = make_space(
        tmp_path,
        [
            script_job(
                "Say Hello",
                "hello.sh",
                payload={"args": ["two words", f"$(touch {marker})"], "env": {"GREETING": "hi"}},
            )
        ],
        scripts={"hello.sh": '#!/bin/sh\necho "$GREETING [$1] [$2] $CRONSYNC_JOB_ID"\necho oops >&2\n'},
    )
    result = run_exec(user, "say-hello")
    assert result.returncode == 0, result.stderr
    expected = f"hi [two words] [$(touch {marker})] say-hello"
    assert expected in result.stdout
    assert "oops" in result.stderr
    assert not marker.exists()  # arguments never go through a shell
    (record,) = log_records(user)
    assert set(record) >= RECORD_KEYS
    assert record["job_id"] == "say-hello" and record["job_name"] == "Say Hello"
    assert record["status"] == "success" and record["exit_code"] == 0 and record["trigger"] == "timer"
    assert record["excerpt"] == expected + "\n"
    assert record["output_bytes"] == len(expected) + 1 + len("oops\n")
    assert record["duration"] >= 0
    (event,) = log_records(user, "events.jsonl")
    assert event["event"] == "job_completed" and event["run_id"] == record["run_id"]


def test_job_found_by_name_and_failure_mirrors_exit_code(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job("Fail Three", "fail.sh"), script_job("Killed", "killed.sh")],
        scripts={"fail.sh": "#!/bin/sh\necho bad >&2\nexit 3\n", "killed.sh": "#!/bin/sh\nkill -9 $$\n"},
    )
    assert run_exec(user, "Fail Three").returncode == 3
    assert run_exec(user, "killed").returncode == 128 + 9
    failed, killed = log_records(user)
    assert (failed["status"], failed["exit_code"]) == ("failure", 3)
    assert "bad" in failed["stderr_excerpt"]
    assert (killed["status"], killed["exit_code"]) == ("failure", 137)


def test_missing_job_is_a_clear_logged_error(tmp_path: Path) -> None:
    user = make_space(tmp_path, [script_job("Only", "only.sh")], scripts={"only.sh": "#!/bin/sh\n"})
    result = run_exec(user, "removed-job")
    assert result.returncode == 78
    assert "no job 'removed-job'" in result.stderr and "jobs: only" in result.stderr
    assert "Traceback" not in result.stderr
    (record,) = log_records(user)
    assert record["job_id"] == "removed-job" and record["exit_code"] == 78 and record["status"] == "failure"


def test_uses_the_compiled_cache_without_pydantic_click_or_apprise(tmp_path: Path) -> None:
    user = make_space(
        tmp_path, [script_job("Quick", "quick.sh")], scripts={"quick.sh": "#!/bin/sh\necho ok\n"}
    )
    assert run_exec(user, "quick").returncode == 0  # cache miss: validates and writes compiled.json
    compiled = json.loads((user / "state" / "compiled.json").read_text().partition("\n")[0])  # the header
    space = UserSpace(user)
    assert compiled["key"] == source_key(
        space, space.jobs_file.read_bytes(), space.settings_file.read_bytes()
    )
    # exactly what a unit runs (python -I -S .../cronsync/__main__.py), importtime on
    python, *launcher = CRONSYNC_ARGV
    argv = [python, "-X", "importtime", *launcher, "--user-dir", str(user), "exec", "quick"]
    imported = _imports(argv, env=dict(os.environ))
    assert "cronsync.exec.main" in imported  # the measurement sees our own modules
    heavy = {"click", "pydantic", "jinja2", "apprise", "urllib.request", "http.client", "requests"}
    heavy |= {"pathlib", "typing", "dataclasses", "datetime", "hashlib", "subprocess"}  # ms each, every run
    heavy |= {"site", "json", "re", "enum", "signal"}  # ~6 ms together, every run
    assert not heavy & imported


def test_a_non_ascii_job_is_cached_under_an_ascii_locale(tmp_path: Path) -> None:
    """compiled.json is UTF-8 whatever the locale: validate writes it and exec reads it, no traceback."""
    user = make_space(tmp_path, [script_job("Café", "cafe.sh")], scripts={"cafe.sh": "#!/bin/sh\necho ok\n"})
    ascii_locale = {**os.environ, "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    validated = cronsync("validate", user_dir=user, env=ascii_locale)
    assert validated.returncode == 0, validated.stderr
    compiled = (user / "state" / "compiled.json").read_bytes().decode("utf-8")
    assert json.loads(compiled.splitlines()[1].partition("\t")[2])["name"] == "Café"  # the one job line
    argv = [*CRONSYNC_ARGV, "--user-dir", str(user), "exec", "cafe"]
    result = subprocess.run(argv, capture_output=True, text=True, env=ascii_locale)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def test_a_cache_miss_loads_site_packages_on_demand(tmp_path: Path) -> None:
    """Units start cronsync without `site`: validating (pydantic, from site-packages) still works."""
    user = make_space(
        tmp_path, [script_job("Quick", "quick.sh")], scripts={"quick.sh": "#!/bin/sh\necho ok\n"}
    )
    result = subprocess.run(
        [*CRONSYNC_ARGV, "--user-dir", str(user), "exec", "quick"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (user / "state" / "compiled.json").is_file()  # written by the validating path
    (record,) = log_records(user)
    assert record["status"] == "success"


def test_a_missing_standard_module_does_not_load_site(tmp_path: Path) -> None:
    """An optional accelerator missing from this Python (tried, then done without) must not cost a
    `site` load; a module from site-packages does load it."""
    probe = f"""
import sys
sys.path.append({str(REPO)!r})
from cronsync import SitePackagesOnDemand
sys.meta_path.append(SitePackagesOnDemand)
try:
    import _winapi  # a standard module that Linux Pythons lack
except ImportError:
    pass
print("site" in sys.modules)
import click
print("site" in sys.modules, SitePackagesOnDemand in sys.meta_path)
"""
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "False"]


def test_a_cache_written_by_another_cronsync_version_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newer cronsync may check more: a cache from another version is validated again."""
    import cronsync.userspace.compiled

    user = make_space(
        tmp_path, [script_job("Quick", "quick.sh")], scripts={"quick.sh": "#!/bin/sh\necho ok\n"}
    )
    assert run_exec(user, "quick").returncode == 0
    space = UserSpace(user)
    sources = (space.jobs_file.read_bytes(), space.settings_file.read_bytes())
    compiled = read_compiled(space, source_key(space, *sources))
    assert compiled is not None
    monkeypatch.setattr(cronsync.userspace.compiled, "__version__", "0.0.0-old")
    old_key = source_key(space, *sources)  # as an older cronsync would have keyed it
    compiled["jobs"]["quick"]["payload"]["args"] = ["--stale"]
    save_compiled(space, old_key, current_signature(space, old_key), compiled["jobs"], compiled["settings"])
    result = run_exec(user, "quick")
    assert result.returncode == 0 and "ok" in result.stdout
    monkeypatch.undo()
    refreshed = read_compiled(space, source_key(space, *sources))
    assert refreshed is not None
    assert refreshed["jobs"]["quick"]["payload"]["args"] == []


def test_runs_a_valid_job_when_others_are_invalid(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job("Good", "good.sh"), {"name": "Broken", "cron": "not a cron", "action": "script"}],
        scripts={"good.sh": "#!/bin/sh\necho good\n"},
    )
    result = run_exec(user, "good")
    assert result.returncode == 0, result.stderr
    assert "good" in result.stdout and "other jobs" in result.stderr
    assert not (user / "state" / "compiled.json").exists()  # only a wholly valid config is cached
    broken = run_exec(user, "Broken")
    assert broken.returncode == 78
    assert "'Broken'" in broken.stderr and "field 'cron'" in broken.stderr


def test_script_outside_user_scripts_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.sh"
    outside.write_text("#!/bin/sh\necho escaped\n")
    user = make_space(tmp_path, [script_job("Escape", "link.sh")])
    (user / "scripts" / "link.sh").symlink_to(outside)
    result = run_exec(user, "escape")
    assert result.returncode == 78
    assert "outside" in result.stderr and "USER/scripts" in result.stderr
    assert "escaped" not in result.stdout


def test_overlap_skip_refuses_a_second_concurrent_run(tmp_path: Path) -> None:
    started = tmp_path / "started"
    user = make_space(
        tmp_path,
        [script_job("Slow", "slow.sh")],
        scripts={"slow.sh": f"#!/bin/sh\ntouch {started}\nsleep 2\necho finished\n"},
    )
    first = subprocess.Popen(exec_argv(user, "slow"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(started)
        second = run_exec(user, "slow")
        assert second.returncode == 75
        assert "still running" in second.stderr
    finally:
        first_out, _ = first.communicate(timeout=30)
    assert first.returncode == 0 and b"finished" in first_out
    statuses = sorted((r["status"], r["exit_code"]) for r in log_records(user))
    assert statuses == [("skipped", 75), ("success", 0)]


def test_overlap_queue_waits_for_the_previous_run(tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    user = make_space(
        tmp_path,
        [script_job("Queued", "queued.sh", overlap="queue")],
        scripts={"queued.sh": f"#!/bin/sh\necho start >> {trace}\nsleep 1\necho end >> {trace}\n"},
    )
    first = subprocess.Popen(exec_argv(user, "queued"))
    try:
        _wait_for(trace)
        second = run_exec(user, "queued")
    finally:
        first.wait(timeout=30)
    assert first.returncode == 0 and second.returncode == 0
    assert "waiting" in second.stderr
    assert trace.read_text().split() == ["start", "end", "start", "end"]


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    user = make_space(
        tmp_path,
        [script_job("Hangs", "hangs.sh", timeout=1)],
        scripts={"hangs.sh": f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\necho waiting\nsleep 300\n"},
    )
    began = time.monotonic()
    result = run_exec(user, "hangs")
    assert result.returncode == 124
    assert time.monotonic() - began < 10
    grandchild = int(pid_file.read_text())
    assert _gone(grandchild)
    (record,) = log_records(user)
    assert record["status"] == "timeout" and record["exit_code"] == 124
    assert "waiting" in record["excerpt"] and "timed out after 1s" in record["error"]


def test_timeout_sends_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    pid_file = tmp_path / "stubborn.pid"
    user = make_space(
        tmp_path,
        [script_job("Stubborn", "stubborn.sh", timeout=1)],
        scripts={
            "stubborn.sh": f"#!/bin/sh\ntrap '' TERM\necho $$ > {pid_file}\nwhile :; do sleep 0.1; done\n"
        },
    )
    began = time.monotonic()
    result = run_exec(user, "stubborn")
    elapsed = time.monotonic() - began
    assert result.returncode == 124
    assert 1 + 4 < elapsed < 15  # waited out the grace period, then killed
    assert _gone(int(pid_file.read_text()))


def test_output_flood_is_bounded_in_log_and_memory(tmp_path: Path) -> None:
    flood_mb = 50
    user = make_space(
        tmp_path,
        [script_job("Flood", "flood.py"), script_job("Quiet", "quiet.py")],
        scripts={
            "flood.py": f"import sys\nline = b'x' * 1023 + b'\\n'\nfor _ in range({flood_mb} * 1024):\n"
            "    sys.stdout.buffer.write(line)\n",
            "quiet.py": "print('quiet')\n",
        },
    )
    assert run_exec(user, "quiet").returncode == 0  # fills the compiled cache: both runs below use it
    quiet_rss = _peak_child_rss(exec_argv(user, "quiet"))
    flood_rss = _peak_child_rss(exec_argv(user, "flood"))
    assert flood_rss - quiet_rss < 15 * 1024  # KiB: far less than the 50 MB that went through
    _, quiet, flood = log_records(user)
    assert flood["output_bytes"] == flood_mb * 1024 * 1024
    assert "bytes omitted" in flood["excerpt"]
    assert len(flood["excerpt"]) < 4096 and quiet["excerpt"] == "quiet\n"


def test_manual_trigger_from_a_run_request(tmp_path: Path) -> None:
    user = make_space(tmp_path, [script_job("Trig", "t.sh")], scripts={"t.sh": "#!/bin/sh\n"})
    space = UserSpace(user)
    space.request_manual_run("trig")
    assert run_exec(user, "trig").returncode == 0
    assert not space.run_request_file("trig").exists()
    assert run_exec(user, "trig").returncode == 0
    assert run_exec(user, "trig", "--trigger", "manual").returncode == 0
    assert [r["trigger"] for r in log_records(user)] == ["manual", "timer", "manual"]


def test_dry_run_shows_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    user = make_space(
        tmp_path,
        [script_job("Plan", "plan.py", payload={"args": ["--days", "3"], "env": {"TOKEN_NAME": "x"}})],
        scripts={"plan.py": f"open({str(marker)!r}, 'w')\n"},
    )
    result = run_exec(user, "plan", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"python3 {user / 'scripts' / 'plan.py'} --days 3" in result.stdout
    assert "TOKEN_NAME" in result.stdout and "working directory:" in result.stdout
    assert not marker.exists() and not (user / "logs").exists()


def test_dry_run_tells_the_claim_chains_limits_and_healthcheck_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    backup = script_job(
        "Backup",
        "b.sh",
        hosts=["nas", "laptop"],
        run_on="one",
        limits={"nice": 10, "io": "idle"},
        healthcheck="https://hc.example/ping/${HC_UUID}",
    )
    jobs = [backup, script_job("Report", "b.sh", after=["Backup"]), script_job("Alert", "b.sh")]
    jobs[0]["on_failure"] = ["Alert"]
    fleet = {"etcd": ["http://127.0.0.1:9"], "host": "laptop", "failover_delay": "15s"}
    user = make_space(tmp_path, jobs, {"fleet": fleet}, scripts={"b.sh": f"#!/bin/sh\ntouch {marker}\n"})
    (user / "config" / "secrets.env").write_text("HC_UUID=5b3ac0e2-not-for-eyes\n")
    (user / "config" / "secrets.env").chmod(0o600)
    result = run_exec(user, "backup", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "limits: nice 10, io idle" in lines
    assert (
        "fleet: one run per scheduled time among nas, laptop; this host (laptop) claims it in etcd under "
        "/cronsync after waiting 15s"
    ) in lines
    assert "  etcd unreachable: skip" in lines
    assert "then: when it succeeds, starts report" in lines
    assert "then: when it fails, starts alert" in lines
    assert "healthcheck: https://… uses $HC_UUID (set)" in lines
    assert "5b3ac0e2" not in result.stdout + result.stderr
    assert not marker.exists() and not (user / "logs").exists()
    plain = run_exec(user, "report", "--dry-run").stdout
    assert not any(word in plain for word in ("fleet:", "then:", "limits:", "healthcheck:")), plain


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("run.py", "import sys; print('py', sys.argv[1])", "py ARG"),
        ("run.sh", "echo sh $1", "sh ARG"),
        ("run", "#!/bin/sh\necho shebang $1", "shebang ARG"),
        pytest.param(
            "run.js",
            "console.log('js', process.argv[2])",
            "js ARG",
            marks=pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
        ),
    ],
)
def test_interpreter_chosen_by_extension_or_shebang(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    user = make_space(tmp_path, [script_job("Lang", name, payload={"args": ["ARG"]})], scripts={name: text})
    if "." in name:
        (user / "scripts" / name).chmod(0o644)  # extensions do not need the executable bit
    result = run_exec(user, "lang")
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_settings_python_is_used_for_py_scripts(tmp_path: Path) -> None:
    wrapper = tmp_path / "mypython"
    wrapper.write_text(f'#!/bin/sh\necho via-wrapper\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    user = make_space(
        tmp_path, [script_job("Py", "p.py")], {"python": str(wrapper)}, scripts={"p.py": "print('inner')"}
    )
    result = run_exec(user, "py")
    assert result.returncode == 0 and result.stdout.split() == ["via-wrapper", "inner"]


def test_clear_errors_when_a_script_cannot_start(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [
            script_job("Ts", "x.ts", payload={"env": {"PATH": str(tmp_path / "empty")}}),
            script_job("Plain", "plain"),
            script_job("Where", "w.sh", payload={"working_dir": "no/such/dir"}),
        ],
        scripts={"x.ts": "console.log(1)", "plain": "echo no shebang", "w.sh": "pwd"},
    )
    (user / "scripts" / "plain").chmod(0o644)
    ts = run_exec(user, "ts")
    assert ts.returncode == 78 and "install tsx" in ts.stderr
    plain = run_exec(user, "plain")
    assert plain.returncode == 78 and "shebang" in plain.stderr
    where = run_exec(user, "where")
    assert where.returncode == 78 and "payload.working_dir" in where.stderr and "no/such/dir" in where.stderr
    assert [r["exit_code"] for r in log_records(user)] == [78, 78, 78]


def test_working_dir_is_relative_to_the_user_space(tmp_path: Path) -> None:
    user = make_space(
        tmp_path, [script_job("Cwd", "cwd.sh", payload={"working_dir": "scripts"})], scripts={"cwd.sh": "pwd"}
    )
    result = run_exec(user, "cwd")
    assert result.stdout.strip() == str(user / "scripts")


def test_concurrent_appends_and_rotation_keep_every_line_whole(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job(f"Job {n}", "noisy.sh") for n in range(12)],
        {"log": {"max_bytes": 4096, "keep": 50, "excerpt_bytes": 600}},
        scripts={"noisy.sh": "#!/bin/sh\nhead -c 2000 /dev/zero | tr '\\0' 'y'\n"},
    )
    run_exec(user, "job-0")  # write compiled.json once, so the runs below race on the log only
    runs = [subprocess.Popen(exec_argv(user, f"job-{n}"), stdout=subprocess.DEVNULL) for n in range(12)]
    assert all(p.wait(timeout=60) == 0 for p in runs)
    logs = sorted((user / "logs").glob("scheduler.log*"))
    assert len(logs) > 2  # rotated
    records = []
    for path in logs:
        assert path.stat().st_size <= 4096
        records += [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 13 and len({r["run_id"] for r in records}) == 13


def test_rotation_keeps_only_n_old_files(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job("Rot", "rot.sh")],
        {"log": {"max_bytes": 4096, "keep": 2, "excerpt_bytes": 1500}},
        scripts={"rot.sh": "#!/bin/sh\nhead -c 1500 /dev/zero | tr '\\0' 'z'\n"},
    )
    for _ in range(10):
        assert run_exec(user, "rot").returncode == 0
    names = sorted(p.name for p in (user / "logs").glob("scheduler.log*"))
    assert names == ["scheduler.log", "scheduler.log.1", "scheduler.log.2"]


def test_never_writes_through_a_symlinked_log(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    user = make_space(tmp_path, [script_job("Sym", "s.sh")], scripts={"s.sh": "#!/bin/sh\necho ran\n"})
    (user / "logs").mkdir()
    (user / "logs" / "scheduler.log").symlink_to(victim)
    result = run_exec(user, "sym")
    assert result.returncode == 0 and "ran" in result.stdout
    assert "symlink" in result.stderr
    assert victim.read_text() == "precious\n"


def test_job_completed_hook_gets_the_event_on_stdin(tmp_path: Path) -> None:
    received = tmp_path / "event.json"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ncat > {received}\n")
    hook.chmod(0o755)
    user = make_space(
        tmp_path,
        [script_job("Hooked", "h.sh")],
        {"hooks": {"job_completed": [str(hook)]}},
        scripts={"h.sh": "#!/bin/sh\necho hooked\n"},
    )
    assert run_exec(user, "hooked").returncode == 0
    event = json.loads(received.read_text())
    assert (
        event["event"] == "job_completed" and event["job_id"] == "hooked" and event["excerpt"] == "hooked\n"
    )


def _imports(argv: list[str], env: dict[str, str]) -> set[str]:
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "import time:" in line}


def _wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _peak_child_rss(argv: list[str]) -> int:
    """Peak RSS (KiB) of `argv`, measured in a fresh Python whose only child it is."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True)
    return int(result.stdout)


def test_job_gets_default_sigpipe_although_python_ignores_it(tmp_path: Path) -> None:
    user = make_space(
        tmp_path,
        [script_job("Sig", "sig.sh")],
        scripts={"sig.sh": "#!/bin/sh\ngrep SigIgn /proc/$$/status\n"},
    )
    result = run_exec(user, "sig")
    ignored = int(result.stdout.split()[-1], 16)
    assert result.returncode == 0 and "SigIgn" in result.stdout
    assert not ignored & (1 << (13 - 1))  # SIGPIPE is 13


def test_sigterm_to_exec_stops_the_job_and_the_run_is_logged(tmp_path: Path) -> None:
    started = tmp_path / "started"
    user = make_space(
        tmp_path,
        [script_job("Long", "long.sh")],
        scripts={"long.sh": f"#!/bin/sh\ntouch {started}\nsleep 300\n"},
    )
    run_exec(user, "long", "--dry-run")
    runner = subprocess.Popen(exec_argv(user, "long"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(started)
        runner.terminate()  # what systemd does when the unit is stopped
        assert runner.wait(timeout=20) == 128 + 15
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    (record,) = log_records(user)
    assert record["status"] == "failure" and record["exit_code"] == 143


def test_runs_with_closed_stdout_and_stderr(tmp_path: Path) -> None:
    user = make_space(
        tmp_path, [script_job("Closed", "c.sh")], scripts={"c.sh": "#!/bin/sh\necho out\necho err >&2\n"}
    )
    command = " ".join(f"'{arg}'" for arg in exec_argv(user, "closed"))
    result = subprocess.run(["sh", "-c", f"exec {command} >&- 2>&-"], timeout=60)
    assert result.returncode == 0
    (record,) = log_records(user)
    assert record["status"] == "success" and record["excerpt"] == "out\n"


def test_user_dir_forms_and_usage_errors(tmp_path: Path) -> None:
    user = make_space(tmp_path, [script_job("Forms", "f.sh")], scripts={"f.sh": "#!/bin/sh\necho formed\n"})
    python = [sys.executable, "-m", "cronsync"]
    equals = subprocess.run([*python, f"--user-dir={user}", "exec", "forms"], capture_output=True, text=True)
    assert equals.returncode == 0 and "formed" in equals.stdout
    from_env = subprocess.run(
        [*python, "exec", "forms"],
        capture_output=True,
        text=True,
        env={**os.environ, "CRONSYNC_USER_DIR": str(user)},
    )
    assert from_env.returncode == 0 and "formed" in from_env.stdout
    assert len(log_records(user)) == 2
    bad = subprocess.run([*python, "exec", "forms", "--trigger", "cron"], capture_output=True, text=True)
    assert bad.returncode == 2 and "'cron' is not one of 'timer', 'manual'" in bad.stderr
    missing = subprocess.run([*python, "exec"], capture_output=True, text=True)
    assert missing.returncode == 2 and "Missing argument 'JOB'" in missing.stderr
    helped = subprocess.run([*python, "exec", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "124" in helped.stdout and "--dry-run" in helped.stdout


def test_unparsable_jobs_json_is_logged_with_exit_78(tmp_path: Path) -> None:
    user = make_space(tmp_path, [])
    (user / "config" / "jobs.json").write_text('[{"name": "x",')
    result = run_exec(user, "anything")
    assert result.returncode == 78 and "invalid JSON" in result.stderr and "jobs.json:1:" in result.stderr
    (record,) = log_records(user)
    assert record["exit_code"] == 78 and "invalid JSON" in record["error"]


def test_a_background_grandchild_holding_the_pipes_does_not_hold_the_run(tmp_path: Path) -> None:
    pid_file = tmp_path / "daemon.pid"
    user = make_space(
        tmp_path,
        [script_job("Daemonish", "d.sh")],
        scripts={"d.sh": f"#!/bin/sh\nsleep 60 &\necho $! > {pid_file}\necho started\n"},
    )
    began = time.monotonic()
    try:
        result = run_exec(user, "daemonish")
        assert result.returncode == 0 and "started" in result.stdout
        assert time.monotonic() - began < 10  # not the grandchild's 60 s
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), 9)
    (record,) = log_records(user)
    assert record["status"] == "success" and record["excerpt"] == "started\n"
