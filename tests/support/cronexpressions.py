"""hypothesis strategies for cron expressions: crontab(5)'s syntax, and the forms beyond it (L, LW, nW, nL,
n#k, ?, a seconds field first). Shared by the property tests of tests/pure."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from cronsync.core.schedule import (
    DAY,
    FIELDS,
    HOUR,
    MINUTE,
    MONTH,
    NICKNAMES,
    SECOND,
    WEEKDAY,
    CronField,
    Schedule,
)
from tests.support.systemd_calendar import BASE_TIMES


@st.composite
def value(draw: st.DrawFn, spec: CronField, low: int | None = None) -> tuple[int, str]:
    number = draw(st.integers(spec.low if low is None else low, spec.high))
    text = str(number)
    if spec.names and number - spec.low < len(spec.names) and draw(st.booleans()):
        name = spec.names[number - spec.low]
        text = draw(st.sampled_from([name, name.upper(), name.capitalize()]))
    return number, text


@st.composite
def term(draw: st.DrawFn, spec: CronField) -> str:
    kind = draw(st.sampled_from(["value", "range", "range-step", "start-step", "star-step"]))
    # Debian's cron takes any step of 1 or more: beyond the range it reaches one value (`*/61` is 0).
    step = draw(st.integers(1, spec.high + 40))
    if kind == "star-step":
        return f"*/{step}"
    start, start_text = draw(value(spec))
    if kind == "value":
        return start_text
    if kind == "start-step":
        return f"{start_text}/{step}"
    _, end_text = draw(value(spec, low=start))
    return f"{start_text}-{end_text}" + (f"/{step}" if kind == "range-step" else "")


@st.composite
def field(draw: st.DrawFn, spec: CronField) -> str:
    kind = draw(st.sampled_from(["star", "terms", "terms", "terms"]))
    if kind == "star":
        return "*"
    return ",".join(draw(st.lists(term(spec), min_size=1, max_size=3)))


@st.composite
def cron_expression(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 20)) == 0:
        return draw(st.sampled_from(sorted(NICKNAMES)))
    minute, hour = draw(field(MINUTE)), draw(field(HOUR))
    month = draw(st.one_of(st.just("*"), field(MONTH)))
    day, weekday = draw(field(DAY)), draw(field(WEEKDAY))
    return f"{minute} {hour} {day} {month} {weekday}"


base_times = st.one_of(
    st.sampled_from(BASE_TIMES),
    st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC)).map(
        lambda moment: moment.replace(microsecond=0)
    ),
)


@st.composite
def day_form(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["L", "LW", "W", "plain"]))
    if kind == "W":
        return f"{draw(st.integers(1, 31))}{draw(st.sampled_from(['W', 'w']))}"
    if kind == "plain":
        return draw(term(DAY))
    return draw(st.sampled_from([kind, kind.lower()]))


@st.composite
def weekday_form(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["last", "nth", "plain"]))
    if kind == "plain":
        return draw(term(WEEKDAY))
    _, weekday = draw(value(WEEKDAY))
    if kind == "last":
        return f"{weekday}{draw(st.sampled_from(['L', 'l']))}"
    return f"{weekday}#{draw(st.integers(1, 5))}"


@st.composite
def form_expression(draw: st.DrawFn, seconds: bool = True) -> str:
    """An expression with at least one of L, LW, nW, nL, n#k, ? or a seconds field."""
    minute, hour = draw(field(MINUTE)), draw(field(HOUR))
    month = draw(st.one_of(st.just("*"), field(MONTH)))
    day = draw(
        st.one_of(st.just("*"), st.just("?"), st.lists(day_form(), min_size=1, max_size=3).map(",".join))
    )
    weekday = draw(
        st.one_of(st.just("*"), st.just("?"), st.lists(weekday_form(), min_size=1, max_size=3).map(",".join))
    )
    if day == weekday == "?":
        day = "*"
    expression = f"{minute} {hour} {day} {month} {weekday}"
    if seconds and draw(st.booleans()):
        expression = f"{draw(field(SECOND))} {expression}"
    return expression


def cronsim_fires(schedule: Schedule, base: datetime, count: int) -> list[datetime]:
    """The next fire times after `base` (UTC) as cronsim reads the schedule."""
    from cronsim import CronSim

    fires = CronSim(cronsim_expression(schedule), base.astimezone(UTC))
    return [next(fires) for _ in range(count)]


def cronsim_expression(schedule: Schedule) -> str:
    """The schedule as cronsim 2.8 reads it the way cron does: nicknames expanded, `a-a/n` written `a`
    (cronsim reads a one-value range with a step as `a/n`, from a to the max), and weekday numbers in
    `5L` and `5#2` (it reads no names there)."""
    if schedule.nickname:
        return NICKNAMES[schedule.nickname]
    pairs = zip(FIELDS, schedule.fields, strict=True)
    fields = [",".join(_cronsim_term(spec, term) for term in field.split(",")) for spec, field in pairs]
    if schedule.seconds_field is not None:
        fields.insert(0, ",".join(_cronsim_term(SECOND, term) for term in schedule.seconds_field.split(",")))
    return " ".join(fields)


def _cronsim_term(spec: CronField, term: str) -> str:
    if spec is WEEKDAY and ("#" in term or term.endswith("l")):
        weekday, mark, rest = term.partition("#") if "#" in term else (term[:-1], "l", "")
        return f"{_value(spec, weekday)}{mark}{rest}"
    base, slash, _ = term.partition("/")
    start, dash, end = base.partition("-")
    if slash and dash and _value(spec, start) == _value(spec, end):
        return start
    return term


def _value(spec: CronField, text: str) -> int:
    return spec.names.index(text) + spec.low if text in spec.names else int(text)
