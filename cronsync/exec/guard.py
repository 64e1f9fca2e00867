"""`cronsync exec --guard`: whether the minute exec started in is one of its job's times.

A crontab entry fires on a superset of the job's times when cron cannot say them (L, W, #, a job
timezone); the job's schedule comes as data in its compiled.json record (core/cronmatch.py).
"""

from __future__ import annotations

from cronsync.core.cronmatch import matches, wall_matches

TYPE_CHECKING = False  # typing costs milliseconds on exec's path: only mypy reads these
if TYPE_CHECKING:
    import time

    from cronsync.core.cronmatch import Match


def fires_at(match: Match, epoch: float) -> bool:
    """Whether the minute holding `epoch` is one of the schedule's times in its zone (the machine's when
    none), read as systemd reads OnCalendar=: a wall-clock time repeated by a DST change counts once, the
    first time, and a skipped one never.

    On exec's path: the C library's local time (the zone in TZ for the moment) costs microseconds, where
    importing datetime and zoneinfo costs milliseconds.
    """
    import os
    import time

    zone = match["zone"]
    if zone and not _zone_file(os.environ.get("TZDIR") or "/usr/share/zoneinfo", zone):
        return _fires_at_by_zoneinfo(match, int(epoch) - int(epoch) % 60)
    previous = os.environ.get("TZ")
    if zone:
        os.environ["TZ"] = zone
        time.tzset()
    try:
        minute = int(epoch) - time.localtime(int(epoch)).tm_sec  # the wall clock's minute
        wall = time.localtime(minute)
        repeated = _repeated(minute, wall)
    finally:
        if zone:
            if previous is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = previous
            time.tzset()
    weekday = (wall.tm_wday + 1) % 7
    return not repeated and matches(match, *wall[:5], 0, weekday)


def _zone_file(folder: str, zone: str) -> bool:
    import os

    return not zone.startswith(("/", ".")) and ".." not in zone and os.path.isfile(os.path.join(folder, zone))


def _repeated(seconds: int, wall: time.struct_time) -> bool:
    """Whether this wall-clock time already happened (clocks went back): the offset a day earlier is
    larger, and the instant that much earlier shows the same wall time (as Python's fold is found)."""
    import time

    earlier = time.localtime(seconds - 86400).tm_gmtoff
    if earlier <= wall.tm_gmtoff:
        return False
    return time.localtime(seconds - (earlier - wall.tm_gmtoff))[:6] == wall[:6]


def _fires_at_by_zoneinfo(match: Match, minute: int) -> bool:
    """fires_at for a zone the C library cannot read (tz data only in Python's tzdata package)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    wall = datetime.fromtimestamp(minute, ZoneInfo(match["zone"]))
    return not wall.fold and wall_matches(match, wall)
