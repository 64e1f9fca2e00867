"""init, validate and schema through the real CLI: output, --json and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import EXAMPLE, cronsync


def test_init_creates_a_user_space_once(tmp_path: Path) -> None:
    target = tmp_path / "fresh"
    first = cronsync("init", user_dir=target)
    assert first.returncode == 0, first.stderr
    assert (target / "config" / "jobs.json").is_file() and (target / "scripts" / "clean_tmp.py").is_file()
    assert (target / "logs").is_dir() and (target / "state").is_dir()
    (target / "config" / "jobs.json").write_text("[]")
    second = cronsync("init", user_dir=target)
    assert "nothing changed" in second.stdout
    assert (target / "config" / "jobs.json").read_text() == "[]"  # never overwritten


def test_user_dir_precedence(tmp_path: Path) -> None:
    from_env, from_option = tmp_path / "env", tmp_path / "opt"
    env_only = cronsync("init", env={**_env(), "CRONSYNC_USER_DIR": str(from_env)})
    assert env_only.returncode == 0 and (from_env / "config" / "jobs.json").exists()
    both = cronsync("init", user_dir=from_option, env={**_env(), "CRONSYNC_USER_DIR": str(from_env)})
    assert both.returncode == 0 and (from_option / "config" / "jobs.json").exists()
    default = cronsync("init", env=_env())
    home_config = Path(_env()["XDG_CONFIG_HOME"]) / "cronsync"
    assert default.returncode == 0 and (home_config / "config" / "jobs.json").exists()


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "CRONSYNC_USER_DIR"}


def test_validate_ok_and_json(user_dir: Path) -> None:
    plain = cronsync("validate", user_dir=user_dir)
    assert plain.returncode == 0 and "2 job(s), all valid" in plain.stdout
    as_json = json.loads(cronsync("validate", "--json", user_dir=user_dir).stdout)
    assert as_json["ok"] is True and as_json["errors"] == []
    assert [j["id"] for j in as_json["jobs"]] == ["daily-standup-summary", "clean-temp-files"]


def test_validate_reports_every_error_and_exits_1(user_dir: Path) -> None:
    jobs = [
        {"name": "A", "cron": "0 0 * * *", "action": "script", "payload": {"path": "scripts/missing.py"}},
        {"name": "B", "cron": "nope", "action": "script", "payload": {"path": "scripts/clean_tmp.py"}},
    ]
    (user_dir / "config" / "jobs.json").write_text(json.dumps(jobs))
    plain = cronsync("validate", user_dir=user_dir)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert (
        "job #1 ('A'), field 'payload.path'" in plain.stderr and "job #2 ('B'), field 'cron'" in plain.stderr
    )
    result = cronsync("validate", "--json", user_dir=user_dir)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert {(e["job_index"], e["job_name"], e["field"]) for e in report["errors"]} == {
        (0, "A", "payload.path"),
        (1, "B", "cron"),
    }


def test_validate_without_user_space_is_exit_1(tmp_path: Path) -> None:
    result = cronsync("validate", user_dir=tmp_path / "none")
    assert result.returncode == 1 and "cronsync init" in result.stderr


def test_usage_error_is_exit_2(user_dir: Path) -> None:
    assert cronsync("validate", "--bogus", user_dir=user_dir).returncode == 2
    assert cronsync("no-such-command").returncode == 2


def test_schema_works_without_user_space(tmp_path: Path) -> None:
    result = cronsync("schema", user_dir=tmp_path / "none")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert (
        schema["type"] == "array" and "AgentJob" in json.dumps(schema) and "ScriptJob" in json.dumps(schema)
    )
    settings = json.loads(cronsync("schema", "--settings").stdout)
    assert "gateways" in settings["properties"]


def test_schema_accepts_the_seed_file() -> None:
    """The published schema agrees with the loader on the example file (checked by a real validator)."""
    import jsonschema  # type: ignore[import-untyped]

    schema = json.loads(cronsync("schema").stdout)
    seed = json.loads((EXAMPLE / "config" / "jobs.json").read_text())
    jsonschema.validate(seed, schema)
    bad = [{**seed[1], "action": "email"}]
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the schema accepted an unknown action")
