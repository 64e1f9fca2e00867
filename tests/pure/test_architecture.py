"""The layout's rules (ARCHITECTURE.md), each checked on the code itself so that breaking one fails here."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import CRONSYNC_ARGV, REPO, cronsync

PACKAGE = REPO / "cronsync"

# Which layer each part of the package is in, and which parts it may import (its own always).
LAYERS: dict[str, set[str]] = {
    "core": set(),
    "userspace": {"core"},
    "resources": {"core"},
    "adapters": {"core", "userspace"},
    "config": {"core", "userspace"},
    "exec": {"core", "userspace", "adapters", "config"},
    "apply": {"core", "userspace", "adapters", "config", "resources"},
    "commands": {"core", "userspace", "adapters", "config", "resources", "exec", "apply"},
    "cli": {"core", "userspace", "commands"},
    "__main__": {"exec", "cli"},
}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def part_of(module: str) -> str:
    """`cronsync.apply.engine` -> `apply`; `cronsync.cli` -> `cli`; the package itself -> ``."""
    return module.split(".")[1] if "." in module else ""


def _type_checking_only(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports_of(path: Path, module: str) -> set[str]:
    """Every cronsync module `path` imports, at the top or inside a function (TYPE_CHECKING aside)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {name for name in found if name == "cronsync" or name.startswith("cronsync.")}


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (REPO / relative).with_suffix(".py").is_file() or (REPO / relative / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    return {module: imports_of(path, module) - {module} for module, path in modules()}


def test_imports_point_one_way() -> None:
    wrong = []
    for module, imported in graph().items():
        part = part_of(module)
        allowed = LAYERS.get(part)
        if allowed is None:
            assert part == "", f"{module}: not in any layer of LAYERS; place it in ARCHITECTURE.md and here"
            continue
        for target in imported:
            target_part = part_of(target)
            if target_part and target_part != part and target_part not in allowed:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles() -> None:
    edges = graph()
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            target = target if target in edges else target.rpartition(".")[0]
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target in edges and state.get(target) is None:
                walk(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            walk(node)
    # a package's __init__ is imported by each of its modules: only cycles through real code count
    real = [cycle for cycle in cycles if not cycle.startswith("cronsync ->") and " cronsync ->" not in cycle]
    assert not real, "import cycles:\n" + "\n".join(real)


IO_MODULES = {"os", "io", "subprocess", "socket", "shutil", "tempfile", "fcntl", "select", "signal", "glob"}
IO_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "open", "exists", "is_file", "is_dir"}
IO_METHODS |= {"iterdir", "glob", "rglob", "stat", "lstat", "unlink", "mkdir", "rename"}  # not str.replace


def test_core_does_no_io() -> None:
    found = []
    for module, path in modules():
        if part_of(module) != "core":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                )
                found += [f"{module}: imports {n}" for n in names if n.split(".")[0] in IO_MODULES]
            elif isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id == "open":
                    found.append(f"{module}:{node.lineno}: open()")
                if isinstance(func, ast.Attribute) and func.attr in IO_METHODS:
                    found.append(f"{module}:{node.lineno}: .{func.attr}()")
    assert not found, "\n".join(found)


def test_no_module_is_over_500_lines() -> None:
    long = {module: n for module, path in modules() if (n := len(path.read_text().splitlines())) > 500}
    assert not long


def test_no_test_module_imports_another() -> None:
    tests = REPO / "tests"
    wrong = []
    for path in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            wrong += [f"{path.name}: {n}" for n in names if n.rpartition(".")[2].startswith("test_")]
    assert not wrong, wrong


def test_test_modules_have_unique_names() -> None:
    """The test folders are no packages: pytest imports each module by its file name alone."""
    names = [path.name for path in (REPO / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def _error_classes() -> Iterator[tuple[str, ast.ClassDef]]:
    for module, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name)
                and base.id.endswith(("Error", "Exception", "Unavailable", "Input"))
                for base in node.bases
            ):
                yield module, node


def test_every_error_class_derives_from_the_one_base() -> None:
    import importlib

    from cronsync import CronsyncError

    classes = list(_error_classes())
    assert len(classes) >= 10  # the scan sees them
    for module, node in classes:
        cls = getattr(importlib.import_module(module), node.name)
        assert issubclass(cls, CronsyncError), f"{module}.{node.name}"
        assert isinstance(cls.exit_code, int)


def test_only_the_two_entry_points_exit() -> None:
    found = []
    for module, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if node.func.attr in ("exit", "_exit") and isinstance(owner, ast.Name) and owner.id != "self":
                    found.append(module)
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call | ast.Name):
                raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(raised, ast.Name) and raised.id == "SystemExit":
                    found.append(module)
    # cli and exec return codes to __main__; adapters.process's forked child (a job with limits, under
    # cron) must _exit when it cannot exec the job, having told the parent why
    assert set(found) <= {"cronsync.__main__", "cronsync.adapters.process"}, found
    assert found.count("cronsync.adapters.process") <= 1, found


def _compared_strings(path: Path) -> set[str]:
    strings: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                leaves = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
                strings.update(
                    leaf.value
                    for leaf in leaves
                    if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str)
                )
    return strings


def test_only_apply_orchestration_compares_backend_names() -> None:
    comparing = {module for module, path in modules() if {"systemd", "crontab"} & _compared_strings(path)}
    assert comparing == {"cronsync.apply.engine"}


OWNERS = {  # a state file's name in the layout (cronsync/userspace/paths.py) -> the one module using it
    "COMPILED_FILE": "cronsync.userspace.compiled",
    "compiled_file": "cronsync.userspace.compiled",
    "APPLY_MANIFEST_FILE": "cronsync.userspace.manifest",
    "apply_manifest_file": "cronsync.userspace.manifest",
    "watcher_state_file": "cronsync.userspace.manifest",
    "ERRORS_FILE": "cronsync.userspace.bugreport",
    "apply_lock_file": "cronsync.apply.engine",
    "installed_file": "cronsync.userspace.installed",
    "watch_state_file": "cronsync.userspace.watchstate",
}
WRITERS = {  # modules that write files themselves, and why
    "cronsync.userspace.files": "the one atomic write",
    "cronsync.userspace.runlog": "appends one record with one O_APPEND write, rotates by rename",
    "cronsync.userspace.bugreport": "appends the details of a bug",
    "cronsync.apply.systemd": "renames unit files staged by files.stage into place",
    "cronsync.adapters.process": "writes to a job's pipes, not to files",
}


def test_every_state_file_has_one_owner_and_writes_go_through_the_atomic_write() -> None:
    users: dict[str, set[str]] = {name: set() for name in OWNERS}
    writers = set()
    for module, path in modules():
        if module == "cronsync.userspace.paths":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                if name in users:
                    users[name].add(module)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                call = node.func.attr
                owner = node.func.value
                is_os = isinstance(owner, ast.Name) and owner.id in ("os", "tempfile")
                if call in ("write_text", "write_bytes") or (
                    is_os and call in ("replace", "rename", "write", "mkstemp")
                ):
                    writers.add(module)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
                modes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
                if any(isinstance(m, str) and set(m) & set("wax+") for m in modes):
                    writers.add(module)
    strangers = {name: found - {OWNERS[name]} for name, found in users.items() if found - {OWNERS[name]}}
    assert not strangers
    owners_using = {OWNERS[name] for name, found in users.items() if found}
    assert owners_using == set(OWNERS.values())  # the scan sees each owner use its file
    assert writers == set(WRITERS)


FOLDER_MAKERS = {  # modules that create folders themselves, and why
    "cronsync.userspace.files": "make_dirs, the one way: 0700 whatever the umask",
    "cronsync.commands.edit": "tempfile.mkdtemp, the private (0700) folder of the editor's draft",
}


def test_every_folder_is_created_by_make_dirs() -> None:
    """os.makedirs gives the parents it creates 0777 less the umask (0777 under umask 000); a mode
    handed to os.mkdir or Path.mkdir is cut by the umask too: only files.make_dirs sets it exactly."""
    makers = set()
    for module, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                if name in ("mkdir", "makedirs", "mkdtemp", "copytree"):
                    makers.add(module)
    assert makers == set(FOLDER_MAKERS)


def _imported_by(argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=env, timeout=60
    )
    return {
        line.split("|")[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_help_imports_no_command_module_and_not_pydantic() -> None:
    imported = _imported_by(["-m", "cronsync", "--help"])
    assert "cronsync.cli" in imported  # the measurement sees our modules
    commands = {
        name
        for name in imported
        if name.startswith("cronsync.commands.") and name != "cronsync.commands.common"
    }
    assert not commands and "pydantic" not in imported, commands


EXEC_MODULES = {  # what `cronsync exec` may load with a current cache (README: "Running jobs")
    "cronsync",
    "cronsync.__main__",
    "cronsync.userspace",
    "cronsync.userspace.paths",
    "cronsync.userspace.files",
    "cronsync.userspace.fastjson",
    "cronsync.userspace.compiled",
    "cronsync.userspace.runlog",
    "cronsync.adapters",
    "cronsync.adapters.process",
    "cronsync.exec",
    "cronsync.exec.main",
    "cronsync.exec.overlap",
    "cronsync.exec.run",
    "cronsync.exec.record",
    "cronsync.exec.script",
    "cronsync.exec.healthcheck",  # only for a job with a healthcheck (tests/exec/test_healthcheck_pings.py)
    "cronsync.core",  # `exec --guard` only (a crontab entry firing on a superset of the job's times)
    "cronsync.core.cronmatch",
    "cronsync.exec.guard",
}


def _exec_imports(user: Path, *args: str) -> set[str]:
    """cronsync's modules that `cronsync exec` loads, started as a timer starts it."""
    python, *launcher = CRONSYNC_ARGV
    result = subprocess.run(
        [python, "-X", "importtime", *launcher, "--user-dir", str(user), "exec", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported = {
        line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    return {name for name in imported if name == "cronsync" or name.startswith("cronsync.")}


def test_exec_loads_only_its_allow_listed_modules(tmp_path: Path) -> None:
    from tests.support.exectools import make_space, script_job

    user = make_space(
        tmp_path, [script_job("Quick", "quick.sh")], scripts={"quick.sh": "#!/bin/sh\necho ok\n"}
    )
    assert cronsync("validate", user_dir=user).returncode == 0  # writes the cache exec reads
    ours = _exec_imports(user, "quick")
    assert "cronsync.exec.main" in ours and "cronsync.core.cronmatch" not in ours
    ours = _exec_imports(user, "quick")  # right after a (short) run: the re-fired-timer check costs nothing
    assert "cronsync.core.cronmatch" not in ours
    assert ours <= EXEC_MODULES, sorted(ours - EXEC_MODULES)


POLICY_MODULES = {
    "cronsync.exec.retry",
    "cronsync.exec.groups",
}  # only for a job with retries, replace, group


def test_exec_loads_the_run_policies_only_for_a_job_that_has_them(tmp_path: Path) -> None:
    from tests.support.exectools import make_space, script_job

    jobs = [
        script_job("Plain", "quick.sh"),
        script_job("Policies", "quick.sh", retries={"count": 1}, overlap="replace", group="g"),
    ]
    user = make_space(tmp_path, jobs, {"groups": {"g": 1}}, scripts={"quick.sh": "#!/bin/sh\necho ok\n"})
    assert cronsync("validate", user_dir=user).returncode == 0  # writes the cache exec reads
    assert not _exec_imports(user, "plain") & POLICY_MODULES
    ours = _exec_imports(user, "policies")
    assert ours >= POLICY_MODULES
    assert ours - POLICY_MODULES - {"cronsync.core.schedule"} - _SCHEDULE_MODULES <= EXEC_MODULES, sorted(
        ours
    )


# what exec/retry.next_due loads to find the next scheduled run (the schedule's parser)
_SCHEDULE_MODULES = {
    "cronsync.core.cronexpr",
    "cronsync.core.crontabform",
    "cronsync.core.oncalendar",
    "cronsync.core.cronmatch",
    "cronsync.core",
}


def test_a_guarded_exec_off_its_schedule_loads_almost_nothing(tmp_path: Path) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.support.exectools import make_space, run_exec, script_job

    twelve_hours_away = (datetime.now(ZoneInfo("Asia/Tokyo")).hour + 12) % 24
    off = script_job("Off", "quick.sh", cron=f"* {twelve_hours_away} L * *", timezone="Asia/Tokyo")
    user = make_space(tmp_path, [off], scripts={"quick.sh": "#!/bin/sh\necho ok\n"})
    assert run_exec(user, "off", "--guard").returncode == 0  # a cache miss: validates, writes the cache
    ours = _exec_imports(user, "off", "--guard")
    assert "cronsync.core.cronmatch" in ours and "cronsync.exec.script" not in ours
    assert ours <= EXEC_MODULES, sorted(ours - EXEC_MODULES)


def test_the_fast_path_key_covers_every_module_of_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_dir: Path
) -> None:
    from cronsync.apply import fastpath, target
    from cronsync.userspace.paths import UserSpace

    copy = tmp_path / "package"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fastpath, "CODE_ROOT", copy)
    space = UserSpace(user_dir)

    def key() -> str:
        return fastpath.base_key(space, target.installation_target(space), tmp_path / "units", None)

    before = key()
    assert key() == before
    (copy / "core" / "newly_added.py").write_text("X = 1\n")
    added = key()
    assert added != before
    os.rename(copy / "core" / "newly_added.py", copy / "core" / "renamed.py")
    assert key() not in (before, added)


def test_an_unexpected_error_is_reported_as_a_bug_with_its_own_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], user_dir: Path
) -> None:
    from cronsync import BUG, INVALID, cli
    from cronsync.commands import validate

    def broken(space: object) -> object:
        raise KeyError("a bug")

    monkeypatch.setattr(validate, "load_config", broken)
    code = cli.main(["--user-dir", str(user_dir), "validate"])
    err = capsys.readouterr().err
    assert code == BUG != INVALID
    assert "bug in cronsync" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    details = (user_dir / "logs" / "errors.log").read_text()
    assert "Traceback" in details and "KeyError" in details and str(user_dir / "logs" / "errors.log") in err


def test_an_unexpected_error_in_exec_is_reported_as_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], user_dir: Path
) -> None:
    from cronsync import BUG
    from cronsync.exec import main

    def broken(*args: object, **kwargs: object) -> int:
        raise ZeroDivisionError

    monkeypatch.setattr(main, "execute", broken)
    assert main.fast_main(["--user-dir", str(user_dir), "exec", "clean-temp-files"]) == BUG
    err = capsys.readouterr().err
    assert "bug in cronsync" in err and "Traceback" not in err
    assert "ZeroDivisionError" in (user_dir / "logs" / "errors.log").read_text()
