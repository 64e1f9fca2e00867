"""`cronsync exec --guard`: whether the minute exec started in is one of its job's times.

A crontab entry fires on a superset of the job's times when cron cannot say them (L, W, #, a job
timezone); the job's schedule comes as data in its compiled.json record (core/cronmatch.py).
"""

from __future__ import annotations

from cronsync.core.cronmatch import day_matches, days_in_month, matches

TYPE_CHECKING = False  # typing costs milliseconds on exec's path: only mypy reads these
if TYPE_CHECKING:
    import time
    from collections.abc import Callable

    from cronsync.core.cronmatch import Match

    Step = Callable[..., int | None]


def fires_at(match: Match, epoch: float) -> bool:
    """Whether the minute holding `epoch` is one of the schedule's times in its zone (the machine's when
    none), read as systemd reads OnCalendar=: a wall-clock time repeated by a DST change counts once, the
    first time, and a skipped one never.

    On exec's path: the C library's local time (the zone in TZ for the moment) costs microseconds, where
    importing datetime and zoneinfo costs milliseconds.
    """
    with _ZoneClock(match["zone"]) as clock:
        minute = int(epoch) - clock.localtime(int(epoch)).tm_sec  # the wall clock's minute
        wall = clock.localtime(minute)
        repeated = clock.repeated(minute, wall)
    weekday = (wall.tm_wday + 1) % 7
    return not repeated and matches(match, *wall[:5], 0, weekday)


# how far a scheduled time is looked for: a step per day, hour or minute that does not match
_MOST_STEPS = 200_000


def previous_fire(match: Match, epoch: float) -> int | None:
    """The latest of the schedule's times at or before `epoch` (whole seconds), read as fires_at reads
    them; None when there is none in the steps it looks back."""
    return _walk(match, int(epoch), _earlier)


def next_fire(match: Match, epoch: float) -> int | None:
    """The first of the schedule's times after `epoch` (whole seconds), read as fires_at reads them."""
    return _walk(match, int(epoch) + 1, _later)


def _walk(match: Match, moment: int, step: Step) -> int | None:
    with _ZoneClock(match["zone"]) as clock:
        for _ in range(_MOST_STEPS):
            wall = clock.localtime(moment)
            following = step(clock, match, moment, wall)
            if following is None:
                if not clock.repeated(moment, wall):
                    return moment
                following = step(clock, match, moment, wall, True)
                assert following is not None
            moment = following
    return None


def _day_matches(match: Match, wall: time.struct_time) -> bool:
    year, month, day = wall[:3]
    return bool(match["months"] >> month & 1) and day_matches(
        match, day, days_in_month(year, month), (wall.tm_wday + 1) % 7
    )


def _earlier(
    clock: _ZoneClock, match: Match, moment: int, wall: time.struct_time, skip: bool = False
) -> int | None:
    """None when `wall` is one of the schedule's times (unless `skip`); else the moment to look at next,
    going back: the end of the day, hour or minute before, or the latest matching second in this minute."""
    minute, second = wall.tm_min, wall.tm_sec
    if not _day_matches(match, wall):
        return min(clock.midnight(wall), moment) - 1
    if not match["hours"] >> wall.tm_hour & 1:
        return moment - minute * 60 - second - 1
    if skip or not match["minutes"] >> minute & 1:
        return moment - second - 1
    earlier = match["seconds"] & ((2 << second) - 1)  # this second and the ones before it
    if not earlier:
        return moment - second - 1
    latest = earlier.bit_length() - 1
    return None if latest == second else moment - (second - latest)


def _later(
    clock: _ZoneClock, match: Match, moment: int, wall: time.struct_time, skip: bool = False
) -> int | None:
    """None when `wall` is one of the schedule's times (unless `skip`); else the moment to look at next,
    going forward: the start of the next day, hour or minute, or the first matching second in this minute."""
    minute, second = wall.tm_min, wall.tm_sec
    next_hour = moment + 3600 - minute * 60 - second
    if not _day_matches(match, wall):
        midnight = clock.midnight(wall, days=1)
        return midnight if midnight > moment else next_hour
    if not match["hours"] >> wall.tm_hour & 1:
        return next_hour
    if skip or not match["minutes"] >> minute & 1:
        return moment + 60 - second
    later = match["seconds"] >> second << second  # this second and the ones after it
    if not later:
        return moment + 60 - second
    first = (later & -later).bit_length() - 1
    return None if first == second else moment + (first - second)


class _ZoneClock:
    """Local time in a job's zone: the C library's (TZ set for the moment), or zoneinfo's for a zone only
    Python's tzdata package has."""

    def __init__(self, zone: str | None) -> None:
        import os

        self.zone = zone = zone or None
        folder = os.environ.get("TZDIR") or "/usr/share/zoneinfo"
        self.by_zoneinfo = zone is not None and not _zone_file(folder, zone)
        self.previous: str | None = None

    def __enter__(self) -> _ZoneClock:
        import os
        import time

        if self.zone and not self.by_zoneinfo:
            self.previous = os.environ.get("TZ")
            os.environ["TZ"] = self.zone
            time.tzset()
        return self

    def __exit__(self, *_: object) -> None:
        import os
        import time

        if self.zone and not self.by_zoneinfo:
            if self.previous is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = self.previous
            time.tzset()

    def localtime(self, seconds: int) -> time.struct_time:
        import time

        if not self.by_zoneinfo:
            return time.localtime(seconds)
        from datetime import datetime
        from zoneinfo import ZoneInfo

        assert self.zone is not None
        wall = datetime.fromtimestamp(seconds, ZoneInfo(self.zone))
        offset = wall.utcoffset()
        gmtoff = int(offset.total_seconds()) if offset is not None else 0
        return time.struct_time((*wall.timetuple()[:9], wall.tzname(), gmtoff))

    def midnight(self, wall: time.struct_time, days: int = 0) -> int:
        """When the day of `wall` (or the one `days` after it) begins: a day may be 23 or 25 hours long."""
        import time

        if not self.by_zoneinfo:
            return int(time.mktime((wall.tm_year, wall.tm_mon, wall.tm_mday + days, 0, 0, 0, 0, 0, -1)))
        from datetime import date, datetime, timedelta
        from zoneinfo import ZoneInfo

        assert self.zone is not None
        day = date(wall.tm_year, wall.tm_mon, wall.tm_mday) + timedelta(days=days)
        return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.zone)).timestamp())

    def repeated(self, seconds: int, wall: time.struct_time) -> bool:
        """Whether this wall-clock time already happened (clocks went back): the offset a day earlier is
        larger, and the instant that much earlier shows the same wall time (as Python's fold is found)."""
        earlier = self.localtime(seconds - 86400).tm_gmtoff
        if earlier <= wall.tm_gmtoff:
            return False
        return self.localtime(seconds - (earlier - wall.tm_gmtoff))[:6] == wall[:6]


def _zone_file(folder: str, zone: str) -> bool:
    import os

    return not zone.startswith(("/", ".")) and ".." not in zone and os.path.isfile(os.path.join(folder, zone))
