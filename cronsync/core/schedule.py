"""Cron expressions: parsing and validation (placeholder; the full compiler lands with issue 3)."""

from __future__ import annotations

from dataclasses import dataclass


class ScheduleError(ValueError):
    """A cron expression cronsync refuses, with a message naming the field and the bad part."""


@dataclass(frozen=True)
class Schedule:
    expression: str


def parse(expression: str) -> Schedule:
    from datetime import datetime

    import cronsim

    try:
        cronsim.CronSim(expression, datetime(2000, 1, 1))
    except cronsim.CronSimError as exc:
        raise ScheduleError(str(exc)) from None
    return Schedule(expression)
