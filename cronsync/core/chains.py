"""`after` and `on_failure`: the jobs one job's run starts. Pure: which names are known, that no chain
comes back to where it began, which jobs each run starts, and what a chained run's trigger says."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cronsync.core.errors import Problem
from cronsync.core.ids import job_id

AFTER = "after"
ON_FAILURE = "on_failure"
CHAIN_FIELDS = (AFTER, ON_FAILURE)
# OnSuccess= came with systemd 249, the $MONITOR_* variables exec reads (which job's run started it, and
# whether that run was skipped) with 251.
SYSTEMD_CHAINS = 251
NO_SCHEDULE = (
    'required field is missing: give a schedule such as "cron": "0 9 * * 1-5", or "after": '
    '["<name of another job>"] to run it when that job succeeds'
)


def _named(raw: Any, key: str) -> list[str]:
    value = raw.get(key) if isinstance(raw, dict) else None
    return [name for name in value if isinstance(name, str)] if isinstance(value, list) else []


def _suggestion(name: str, names: Sequence[str]) -> str:
    from cronsync.core.field_errors import did_you_mean

    by_id = {job_id(known): known for known in names}
    if job_id(name) in by_id:
        return f'; did you mean {by_id[job_id(name)]!r}? (jobs are named as in their "name")'
    return did_you_mean(name, names) or f"; the jobs are: {', '.join(repr(n) for n in names) or 'none'}"


def chain_problems(file: str, data: list[Any], actions: Sequence[str]) -> list[Problem]:
    """Every job's `after` and `on_failure` names (jobs counted from 1), its schedule when it has neither
    `cron` nor `after` (for a job with a known action, as pydantic said it of a missing field), and each
    cycle the two make, its jobs named in order."""
    names = [raw["name"] for raw in data if isinstance(raw, dict) and isinstance(raw.get("name"), str)]
    known = set(names)
    problems = []
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            continue
        name = raw.get("name") if isinstance(raw.get("name"), str) else None
        if raw.get("cron") is None and not raw.get(AFTER) and raw.get("action") in actions:
            problems.append(Problem(file, NO_SCHEDULE, index, name, "cron"))
        for key in CHAIN_FIELDS:
            for position, other in enumerate(_named(raw, key)):
                if other == name:
                    what = "start itself" if key == ON_FAILURE else "wait for itself"
                    problems.append(
                        Problem(
                            file, f"a job cannot {what}; name another job", index, name, f"{key}[{position}]"
                        )
                    )
                elif other not in known:
                    message = f"no job is named {other!r}{_suggestion(other, names)}"
                    problems.append(Problem(file, message, index, name, f"{key}[{position}]"))
    return problems + _cycle_problems(file, data) + _host_problems(file, data)


def _hosts(raw: Any) -> set[str] | None:
    hosts = raw.get("hosts") if isinstance(raw, dict) else None
    return {h for h in hosts if isinstance(h, str)} if isinstance(hosts, list) else None


def _host_problems(file: str, data: list[Any]) -> list[Problem]:
    """A chain runs on one machine: the job a run starts must be installed where that run runs (`hosts`;
    absent: every machine), or the chain would never run on any."""
    by_name = {raw["name"]: raw for raw in data if isinstance(raw, dict) and isinstance(raw.get("name"), str)}
    problems = []
    for index, raw in enumerate(data):
        name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
        for key in CHAIN_FIELDS:
            for position, other in enumerate(_named(raw, key)):
                mine, theirs = _hosts(raw), _hosts(by_name.get(other))
                if other in by_name and mine is not None and theirs is not None and not mine & theirs:
                    message = (
                        f"{other!r} is installed only on {', '.join(sorted(theirs))} and this job only on "
                        f"{', '.join(sorted(mine))}: a chain runs on one machine; give both a host in common"
                    )
                    problems.append(Problem(file, message, index, name, f"{key}[{position}]"))
    return problems


def edges(data: list[Any]) -> dict[str, list[str]]:
    """{job name: the names of the jobs its run may start}: B's `after: [A]` is A -> B, A's
    `on_failure: [X]` is A -> X."""
    graph: dict[str, list[str]] = {}
    for raw in data:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            continue
        graph.setdefault(raw["name"], []).extend(_named(raw, ON_FAILURE))
        for before in _named(raw, AFTER):
            graph.setdefault(before, []).append(raw["name"])
    return graph


def _cycle_problems(file: str, data: list[Any]) -> list[Problem]:
    graph = edges(data)
    index_of = {
        raw["name"]: i
        for i, raw in reversed(list(enumerate(data)))
        if isinstance(raw, dict) and isinstance(raw.get("name"), str)
    }
    problems, seen = [], set()
    for cycle in _cycles(graph):
        key = frozenset(cycle)
        if key in seen or len(cycle) < 2:
            continue  # a job naming itself is said on its own field
        seen.add(key)
        first = min(cycle, key=lambda n: index_of.get(n, 0))
        start = cycle.index(first)
        ordered = cycle[start:] + cycle[:start]
        path = " -> ".join(repr(n) for n in [*ordered, ordered[0]])
        owner, field = _closing_link(data, index_of, ordered[-1], ordered[0])
        problems.append(
            Problem(
                file,
                f"after/on_failure form a cycle: {path} (each run would start the next for ever); "
                "remove one of these links",
                index_of[owner],
                owner,
                field,
            )
        )
    return problems


def _closing_link(data: list[Any], index_of: dict[str, int], source: str, target: str) -> tuple[str, str]:
    """The job and field that say `source` starts `target`: target's `after`, else source's `on_failure`."""
    after = _named(data[index_of[target]], AFTER)
    if source in after:
        return target, f"{AFTER}[{after.index(source)}]"
    return source, f"{ON_FAILURE}[{_named(data[index_of[source]], ON_FAILURE).index(target)}]"


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle through each strongly connected part of the graph, found by depth-first search."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in graph.get(node, ()):
            if state.get(target) == 1:
                found.append(path[path.index(target) :])
            elif target not in state:
                walk(target)
        path.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            walk(node)
    return found


# --- what a run starts, and what the started run's record says triggered it -------------------------


def next_jobs(jobs: Sequence[Any]) -> dict[str, dict[str, list[str]]]:
    """{job id: {"success": [ids], "failure": [ids]}}: the enabled jobs each job's run starts."""
    by_name = {job.name: job for job in jobs}
    chained: dict[str, dict[str, list[str]]] = {}
    for job in jobs:
        for before in job.after:
            if job.enabled and before in by_name:
                _add(chained, by_name[before].id, "success", job.id)
        for name in job.on_failure:
            if name in by_name and by_name[name].enabled:
                _add(chained, job.id, "failure", by_name[name].id)
    return chained


def shared_targets(chained: dict[str, dict[str, list[str]]]) -> set[str]:
    """The jobs more than one job's run starts. systemd passes $MONITOR_* (which run started it, whether
    that run was skipped) only to a handler exactly one unit lists, so exec starts these itself."""
    sources: dict[str, set[str]] = {}
    for source, starts in chained.items():
        for target in (*starts["success"], *starts["failure"]):
            sources.setdefault(target, set()).add(source)
    return {target for target, by in sources.items() if len(by) > 1}


def manager_starts(chained: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """What the units' OnSuccess= and OnFailure= name: each job's next jobs but the shared ones."""
    shared = shared_targets(chained)
    return {
        source: {when: [t for t in targets if t not in shared] for when, targets in starts.items()}
        for source, starts in chained.items()
    }


def _add(chained: dict[str, dict[str, list[str]]], source: str, when: str, target: str) -> None:
    targets = chained.setdefault(source, {"success": [], "failure": []})[when]
    if target not in targets:
        targets.append(target)


def systemd_chain_problems(file: str, jobs: Sequence[Any], version: int | None) -> list[Problem]:
    """`after` and `on_failure` on a user manager older than SYSTEMD_CHAINS, which would ignore the units'
    OnSuccess= and start chained runs exec could not tell apart: refused, with what would work."""
    if version is None or version >= SYSTEMD_CHAINS:
        return []
    message = (
        f"needs systemd {SYSTEMD_CHAINS} or later (OnSuccess=, OnFailure= and their $MONITOR_* variables); "
        f"this user manager is systemd {version}: install this user space with --backend crontab, where "
        "exec starts the chained jobs itself, or upgrade systemd"
    )
    return [
        Problem(file, message, index, job.name, key)
        for index, job in enumerate(jobs)
        for key in CHAIN_FIELDS
        if getattr(job, key)
    ]
