"""`cronsync history [<job>] [-n N] [--json]`: the last runs from USER/logs/scheduler.log."""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import Iterator
from typing import Any

import click

from cronsync import CronsyncError
from cronsync.apply.engine import catches_up
from cronsync.commands.common import RUN_HEADER, config_or_last_valid, find_job, format_row, user_space
from cronsync.core.errors import InvalidInput
from cronsync.core.health import Instant, timing_of
from cronsync.core.ids import job_id
from cronsync.userspace.paths import UserSpace
from cronsync.userspace.runhealth import healths, run_record
from cronsync.userspace.runlog import read_json_lines


def matches(record: dict[str, Any], wanted: str) -> bool:
    return wanted in (record.get("job_id"), record.get("job_name")) or record.get("job_id") == job_id(wanted)


def _check_known(space: UserSpace, job: str) -> None:
    """CronsyncError unless jobs.json (or its last valid version) has the job; with neither to tell it by,
    a job without runs is no error."""
    with contextlib.suppress(InvalidInput):
        find_job(space, job)


@click.command()
@click.argument("job", required=False)
@click.option("-n", "count", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the log records as a JSON array.")
@click.option("--fleet", "fleet", is_flag=True, help="Every host's runs: this log and the claims in etcd.")
@click.pass_context
def command(ctx: click.Context, job: str | None, count: int, as_json: bool, fleet: bool) -> None:
    """The last runs (of JOB, an id or name, if given): start, trigger, status, duration, exit code."""
    space = user_space(ctx)
    records = (r for r in read_json_lines(space.log_file) if job is None or matches(r, job))
    if fleet:
        last = fleet_history(space, job, count, records)
    else:
        last = list(deque(with_missed(records, judged_instants(space, job)), maxlen=count))
    if job is not None and not last:
        _check_known(space, job)  # an unknown job is an error, as for run and logs
    if as_json:
        click.echo(json.dumps(last, indent=2, ensure_ascii=False, allow_nan=False))
        return
    if not last:
        where = f" of {job!r}" if job else ""
        click.echo(f"no runs{where} in {space.log_file}")
        return
    host_width = max((len(str(r.get("host", ""))) for r in last), default=0) if fleet else 0
    click.echo(RUN_HEADER + (f"  {'HOST':<{host_width}}" if fleet else ""))
    for record in last:
        host = f"  {record.get('host', '')!s:<{host_width}}" if fleet else ""
        click.echo(format_row(record) + host + _schedule_note(record))


def fleet_history(
    space: UserSpace, wanted: str | None, count: int, records: Iterator[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The last `count` runs of the fleet: this host's log, each record with its `host`, and the runs of
    run_on "one" jobs other hosts claimed in etcd; missed instants of this host's run_on "each" jobs
    (whether a run_on "one" time ran is the claims' to say, not this host's log)."""
    from cronsync.adapters.etcd import EtcdError
    from cronsync.apply.fleetstate import configured_fleet, unreachable
    from cronsync.core.fleetview import claim_record, merge_history

    config = config_or_last_valid(space)
    settings = config.settings.fleet
    fleet = configured_fleet(space, settings.model_dump(mode="json") if settings is not None else None)
    ones = [job for job in (*config.jobs, *config.elsewhere) if job.run_on == "one"]
    wanted_ones = [j for j in ones if wanted is None or wanted in (j.id, j.name) or j.id == job_id(wanted)]
    try:
        claimed = [claim_record(c, j.name) for j in wanted_ones for c in fleet.claimed_runs(j.id, count)]
    except EtcdError as exc:
        raise unreachable(exc) from None
    finally:
        fleet.client.close()
    one_ids = {job.id for job in ones}
    instants = [item for item in judged_instants(space, wanted) if item[0] not in one_ids]
    return merge_history(with_missed(records, instants), claimed, fleet.host)[-count:]


def judged_instants(space: UserSpace, wanted: str | None) -> list[tuple[str, str, Instant]]:
    """(job id, job name, instant) of every instant health judged missed, late or caught up, in time
    order; none when no valid jobs.json says what the schedules are."""
    try:
        config = config_or_last_valid(space)
    except CronsyncError:  # no jobs.json to tell the schedules by (or it cannot be read): the runs alone
        return []
    jobs = [j for j in config.jobs if wanted is None or wanted in (j.id, j.name) or j.id == job_id(wanted)]
    persistent = catches_up(space)
    found = healths(space, [(j.id, timing_of(j, catches_up=persistent)) for j in jobs])
    noted = [
        (j.id, j.name, instant)
        for j in jobs
        for instant in found[j.id].instants
        if instant.kind in ("missed", "late", "caught-up")
    ]
    return sorted(noted, key=lambda item: item[2].at)


def with_missed(
    records: Iterator[dict[str, Any]], instants: list[tuple[str, str, Instant]]
) -> Iterator[dict[str, Any]]:
    """The log's records in their order, each missed instant as a record of status `missed` before the
    first run that started after it; a late or caught-up run gains `scheduled` and `late_by_s`."""
    missed = deque(item for item in instants if item[2].kind == "missed")
    late = {(ident, i.run_start): i for ident, _, i in instants if i.run_start is not None}
    for record in records:
        parsed = run_record(record)
        while missed and parsed is not None and missed[0][2].at < parsed.start:
            yield missed_record(*missed.popleft())
        instant = late.get((str(record.get("job_id")), parsed.start)) if parsed is not None else None
        if instant is not None:
            record = {**record, "scheduled": _iso(instant), "late_by_s": instant.late_by}
            record["schedule_kind"] = instant.kind
        yield record
    while missed:
        yield missed_record(*missed.popleft())


def missed_record(ident: str, name: str, instant: Instant) -> dict[str, Any]:
    """A scheduled instant no run answered, in history: status `missed`, no start, `scheduled`."""
    return {
        "job_id": ident,
        "job_name": name,
        "trigger": "timer",
        "status": "missed",
        "scheduled": _iso(instant),
    }


def _iso(instant: Instant) -> str:
    return instant.at.isoformat(timespec="seconds")


def _schedule_note(record: dict[str, Any]) -> str:
    if record.get("schedule_kind") not in ("late", "caught-up"):
        return ""
    what = "caught up" if record["schedule_kind"] == "caught-up" else "late for"
    return f"  ({what} {record['scheduled']}, {record['late_by_s']:.0f}s after it)"
