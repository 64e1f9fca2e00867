"""What the fuzz tests share: hypothesis strategies for job fields, and the validator's verdict."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import strategies as st

from cronsync.config import parse_config
from cronsync.core.errors import InvalidInput, Problem
from cronsync.userspace.paths import UserSpace
from tests.support.cli import EXAMPLE

# How many examples the fuzz tests try in-process (a tenth of them through the CLI, per backend).
EXAMPLES = int(os.environ.get("CRONSYNC_FUZZ_EXAMPLES", "1500"))
EXAMPLE_SETTINGS = (EXAMPLE / "config" / "settings.json").read_bytes()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "name",
    "cron",
    "action",
    "payload",
    "enabled",
    "description",
    "timezone",
    "persistent",
    "random_delay",
    "accuracy",
    "timeout",
    "overlap",
    "notify",
]
PAYLOAD_FIELDS = ["path", "args", "env", "working_dir", "timeout", "prompt", "output", "context", "model"]


def validation_problems(
    user_dir: Path, jobs_bytes: bytes, settings_bytes: bytes | None = EXAMPLE_SETTINGS
) -> list[Problem]:
    """Every problem validation finds in these jobs.json and settings.json bytes ([] when valid)."""
    try:
        _config, problems = parse_config(UserSpace(user_dir), jobs_bytes, settings_bytes)
    except InvalidInput as exc:
        return exc.problems
    return problems
