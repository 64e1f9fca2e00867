"""`cronsync explain` through the real CLI."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cronsync.core.schedule import next_fires, parse
from tests.support.cli import cronsync


def test_json_has_the_lines_crontab_description_and_next_times_in_the_zone() -> None:
    before = datetime.now(UTC)
    result = cronsync("explain", "0 9 * * 1-5", "--timezone", "Europe/Berlin", "--next", "5", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["on_calendar"] == ["Mon..Fri *-*-* 09:00:00 Europe/Berlin"]
    # cron has no CRON_TZ: the entry fires at every candidate minute, exec --guard at 09:00 in Berlin
    assert out["crontab"] == "0 * * * *" and out["crontab_emulated"] is True
    assert out["crontab_refused"] is None and out["on_active_sec"] is None and out["notes"] == []
    assert out["description"] == "At 09:00 on Monday through Friday"
    assert out["timezone"] == "Europe/Berlin" and out["on_startup"] is False
    times = [datetime.fromisoformat(text) for text in out["next"]]
    assert len(times) == 5
    for moment in times:
        assert moment.utcoffset() is not None
        local = moment.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute, local.weekday() < 5) == (9, 0, True)
        assert moment.utcoffset() == local.utcoffset()  # shown in the zone's own offset
    expected = [t.isoformat() for t in next_fires(parse("0 9 * * 1-5"), before, 6, "Europe/Berlin")]
    assert out["next"] in (expected[:5], expected[1:])  # a run may fall between `before` and the CLI's now


def test_either_day_rule_gives_two_lines() -> None:
    out = json.loads(cronsync("explain", "1 2 3 4 5", "--json", "--next", "0").stdout)
    assert out["on_calendar"] == ["*-04-03 02:01:00", "Fri *-04-* 02:01:00"]
    assert out["next"] == []
    assert out["description"] == "At 02:01 on day 3 of April or on Friday in April"


def test_text_output_shows_every_part() -> None:
    result = cronsync("explain", "*/7 * * * *", "--timezone", "UTC", "--next", "3")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "*/7 * * * *: At every 7th minute from 0 through 56 past the hour" in text
    assert "OnCalendar=*-*-* *:00..56/7:00 UTC" in text
    assert "*/7 * * * * <command>" in text
    assert "next 3 run(s) (UTC):" in text
    assert len([line for line in text.splitlines() if line.strip().endswith("+00:00")]) == 3


def test_default_zone_is_local_time() -> None:
    env = {**os.environ, "TZ": "America/New_York"}
    out = json.loads(cronsync("explain", "@daily", "--json", "--next", "3", env=env).stdout)
    assert out["timezone"] is None and out["on_calendar"] == ["*-*-* 00:00:00"]
    offsets = {datetime.fromisoformat(text).utcoffset() for text in out["next"]}
    assert offsets and offsets <= {
        ZoneInfo("America/New_York").utcoffset(datetime(2024, m, 1)) for m in (1, 7)
    }
    assert all(text[11:19] == "00:00:00" for text in out["next"])


def test_reboot_runs_at_startup_and_has_no_calendar() -> None:
    out = json.loads(cronsync("explain", "@reboot", "--json").stdout)
    assert out["on_calendar"] == [] and out["on_startup"] is True
    assert out["crontab"] == "@reboot" and out["next"] == []
    assert "OnStartupSec=" in cronsync("explain", "@reboot").stdout


def test_invalid_expression_exits_1_with_the_message() -> None:
    result = cronsync("explain", "60 * * * *")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: minute field: 60 is out of range; allowed 0-59"
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_invalid_expression_with_json_prints_an_error_object() -> None:
    result = cronsync("explain", "0 0 31 4 *", "--json")
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert out["error"].startswith("day-of-month field: day 31 never occurs in April")
    assert out["ok"] is False


def test_unknown_time_zone_exits_1() -> None:
    result = cronsync("explain", "* * * * *", "--timezone", "Mars/Olympus_Mons", "--json")
    assert result.returncode == 1
    assert "'Mars/Olympus_Mons' is not an IANA time zone name" in json.loads(result.stdout)["error"]


def test_bad_flag_value_is_a_usage_error() -> None:
    result = cronsync("explain", "* * * * *", "--next", "-1")
    assert result.returncode == 2 and "--next" in result.stderr


WORDS = {  # a schedule written in words -> how cron writes it
    "every 15 minutes on weekdays": "*/15 * * * 1-5",
    "every minute": "* * * * *",
    "every 2 hours": "0 */2 * * *",
    "hourly": "0 * * * *",
    "daily at 9am": "0 9 * * *",
    "every day at noon": "0 12 * * *",
    "every monday at 10:30": "30 10 * * 1",
    "at 17:45 on weekends": "45 17 * * 0,6",
    "weekly": "0 0 * * 0",
    "monthly at 6pm": "0 18 1 * *",
    "every friday and saturday at 23:00": "0 23 * * 5,6",
}


def test_a_schedule_in_words_is_refused_with_how_cron_writes_it() -> None:
    from cronsync.core.phrases import cron_for

    for words, expression in WORDS.items():
        assert cron_for(words) == expression, words
        result = cronsync("explain", words)
        assert result.returncode == 1 and "cron syntax is expected" in result.stderr, words
        assert f"is written {expression!r}" in result.stderr, result.stderr
        meant = cronsync("explain", expression, "--json")  # what it suggests is valid and means it
        assert meant.returncode == 0, meant.stderr
        description = json.loads(meant.stdout)["description"]
        assert f"({description})" in result.stderr


def test_words_it_cannot_read_get_no_guess() -> None:
    from cronsync.core.phrases import cron_for

    for words in ("every day at 9 except sundays", "every 15 minutes at 9", "every month on mondays", "soon"):
        assert cron_for(words) is None, words
        result = cronsync("explain", words, "--json")
        assert result.returncode == 1
        error = json.loads(result.stdout)["error"]
        assert "cron syntax is expected" in error and "is written" not in error
    assert cronsync("explain", "0 9 * * mon-fri").returncode == 0  # day and month names are cron syntax


def test_forms_cron_lacks_are_emulated_on_crontab() -> None:
    out = json.loads(cronsync("explain", "0 0 L * *", "--json", "--timezone", "UTC", "--next", "2").stdout)
    assert out["on_calendar"] == ["*-*~01 00:00:00 UTC"]
    assert out["crontab"] == "0 0 28-31 * *" and out["crontab_emulated"] is True
    assert all(datetime.fromisoformat(t).day in (28, 29, 30, 31) for t in out["next"])
    text = cronsync("explain", "0 0 L * *").stdout
    assert "0 0 28-31 * * <command> --guard" in text and "emulated" in text


def test_what_crontab_cannot_run_is_said_and_systemd_runs_it() -> None:
    out = json.loads(cronsync("explain", "@every 90m", "--json", "--next", "2").stdout)
    assert out["on_calendar"] == [] and out["on_active_sec"] == "5400s"
    assert out["crontab"] is None and "interval from the last start" in out["crontab_refused"]
    first, second = (datetime.fromisoformat(t) for t in out["next"])
    assert (second - first).total_seconds() == 5400
    seconds = json.loads(cronsync("explain", "*/5 * * * * *", "--json").stdout)
    assert seconds["on_calendar"] == ["*-*-* *:*:00/5"] and seconds["crontab"] is None
    text = cronsync("explain", "@every 90m").stdout
    assert "OnActiveSec=5400s" in text and "OnUnitActiveSec=5400s" in text and "refused:" in text


def test_a_step_that_reaches_one_value_is_noted() -> None:
    out = json.loads(cronsync("explain", "14 16-23/24 * * *", "--json").stdout)
    assert out["on_calendar"] == ["*-*-* 16:14:00"] and out["crontab"] == "14 16-23/24 * * *"
    assert out["notes"] == ["hour: a step of 24 in '16-23/24' reaches only 16"]
    assert (
        "note: hour: a step of 24 in '16-23/24' reaches only 16"
        in cronsync("explain", "14 16-23/24 * * *").stdout
    )
