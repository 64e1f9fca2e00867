"""Output floods: a job printing 500 MB (one line, no newline until the end, on stdout and stderr at
once) keeps `cronsync exec` under 64 MB of memory, and its log entry, event and notification bounded.

test_exec.py::test_output_flood_is_bounded_in_log_and_memory compares 50 MB with a quiet run; this
one measures the absolute peak at ten times the volume.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.exectools import exec_argv, log_records, make_space, script_job
from tests.support.httpsink import HttpSink

MiB = 1024 * 1024
STDOUT_MIB, STDERR_MIB = 400, 100
LIMIT_KIB = 64 * 1024
FLOOD = f"""\
import sys
chunk = b"x" * {MiB}
for number in range({STDOUT_MIB}):
    sys.stdout.buffer.write(chunk)
    if number % 4 == 0:
        sys.stderr.buffer.write(chunk)
sys.stdout.buffer.write(b"\\nthe end\\n")
sys.stderr.buffer.write(b"\\nstderr end\\n")
"""
# Runs argv as its only child; samples the child's VmHWM (its own peak RSS) until it exits, and reads
# RUSAGE_CHILDREN after: the largest peak of the child and everything it waited for (the job included).
MEASURE = """\
import json, resource, subprocess, sys, time
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
hwm = 0
while child.poll() is None:
    try:
        with open(f"/proc/{child.pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    hwm = max(hwm, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.02)
print(json.dumps({
    "exit_code": child.returncode,
    "exec_hwm_kib": hwm,
    "children_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""


def measure(user: Path, job: str) -> dict[str, int]:
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE, *exec_argv(user, job)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    peak: dict[str, int] = json.loads(measured.stdout)
    assert peak["exit_code"] == 0
    return peak


def test_a_500_mb_flood_keeps_memory_and_the_log_entry_bounded(tmp_path: Path) -> None:
    notify = {"on": "always", "gateways": ["sink"]}
    with HttpSink() as sink:
        user = make_space(
            tmp_path,
            [script_job("Flood", "flood.py", notify=notify), script_job("Quiet", "quiet.py", notify=notify)],
            {"gateways": {"sink": [f"json://127.0.0.1:{sink.port}/notify"]}},
            scripts={"flood.py": FLOOD, "quiet.py": "print('quiet')\n"},
        )
        measure(user, "quiet")  # the first run validates jobs.json (pydantic) and fills the compiled cache
        quiet = measure(user, "quiet")  # the same path as the flood's (apprise imported to notify)
        flood = measure(user, "flood")
        *_, request = sink.wait_for(3)
    print(f"cronsync exec peak RSS (KiB): quiet {quiet}, 500 MB flood {flood}")
    for peak in (flood["exec_hwm_kib"], flood["children_maxrss_kib"]):
        assert 0 < peak < LIMIT_KIB
    # what the flood itself costs: a few MiB of pipe buffers and head+tail capture, not its volume
    assert flood["children_maxrss_kib"] - quiet["children_maxrss_kib"] < 8 * 1024

    total = (STDOUT_MIB + STDOUT_MIB // 4) * MiB + len("\nthe end\n") + len("\nstderr end\n")
    assert total > 500 * 1000 * 1000
    *_, record = log_records(user)
    assert record["status"] == "success" and record["output_bytes"] == total
    assert "bytes omitted" in record["excerpt"] and record["excerpt"].endswith("the end\n")
    assert record["stderr_excerpt"].endswith("stderr end\n")
    for name in ("scheduler.log", "events.jsonl"):
        line = (user / "logs" / name).read_bytes().splitlines()[-1]
        assert len(line) < 8 * 1024, name  # excerpt_bytes (2 KiB) of stdout and of stderr, and the fields
    message = request.json()["message"]
    assert message.startswith("Flood: xxx")  # cut to the service's limit (apprise overflow=truncate)
    assert len(request.body) < 80 * 1024  # capture_bytes (64 KiB) of output, not 500 MB
