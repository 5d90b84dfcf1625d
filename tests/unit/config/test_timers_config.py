"""timers.yaml (alias timers_config.yaml): reset, sessions, holidays; defaults and errors."""

from __future__ import annotations

from datetime import date, time

import pytest
from config_samples import TIMERS_EXAMPLE, issues, line_of, load

RISK = "rules:\n  auth_loss_guard: {enabled: true}\n"


def timers(text: str) -> dict[str, str]:
    return {"risk_config.yaml": RISK, "timers.yaml": text}


def test_config_md_timers_example_loads() -> None:
    config = load(timers(TIMERS_EXAMPLE))
    t = config.timers
    assert (t.daily_reset.time, t.daily_reset.timezone) == (time(17, 0), "America/Chicago")
    assert t.session_hours is not None
    assert (t.session_hours.start, t.session_hours.end) == (time(8, 30), time(15, 0))
    assert t.session_hours.days == (0, 1, 2, 3, 4)
    es = t.session_hours.per_symbol["ES"]
    assert (es.start, es.end, es.days) == (time(17, 0), time(16, 0), (6, 0, 1, 2, 3))
    assert t.holidays.calendar == "none"
    assert t.holidays.dates == (date(2026, 12, 25),)
    assert [(e.date, e.time) for e in t.holidays.early_close] == [(date(2026, 11, 27), time(12, 15))]


def test_without_timers_file_the_reset_is_17_00_chicago_and_no_sessions() -> None:
    config = load({"risk_config.yaml": RISK})
    reset = config.timers.daily_reset
    assert (reset.time, reset.timezone) == (time(17, 0), "America/Chicago")
    assert config.timers.session_hours is None
    assert config.timers.holidays.calendar == "none"


def test_timers_config_yaml_is_read_as_timers_yaml() -> None:
    config = load({"risk_config.yaml": RISK, "timers_config.yaml": 'daily_reset: {time: "16:00"}\n'})
    assert config.timers.daily_reset.time == time(16, 0)


def test_unquoted_times_are_accepted() -> None:
    config = load(timers("daily_reset: {time: 17:00}\nsession_hours: {start: 08:30, end: 15:00}\n"))
    assert config.timers.daily_reset.time == time(17, 0)
    assert config.timers.session_hours is not None and config.timers.session_hours.start == time(8, 30)


def test_bad_hh_mm_names_line_value_and_the_expected_form() -> None:
    text = TIMERS_EXAMPLE.replace('end: "15:00"', 'end: "25:00"')
    [error] = issues(timers(text))
    assert (error.file, error.line, error.path, error.value) == (
        "timers.yaml", line_of(TIMERS_EXAMPLE, 'end: "15:00"'), "session_hours.end", '"25:00"')
    assert "HH:MM" in error.message and "17:00" in error.message


def test_bad_zone_in_daily_reset_is_an_error() -> None:
    [error] = issues(timers("daily_reset:\n  time: \"17:00\"\n  timezone: CST\n"))
    assert (error.line, error.path, error.value) == (3, "daily_reset.timezone", "CST")
    assert "IANA" in error.message


def test_bad_day_name_is_an_error_on_the_list_item() -> None:
    [error] = issues(timers("session_hours:\n  start: \"08:30\"\n  end: \"15:00\"\n  days: [mon, tues]\n"))
    assert (error.path, error.value) == ("session_hours.days[1]", "tues")
    assert "mon, tue, wed" in error.message


def test_session_needs_start_and_end() -> None:
    [error] = issues(timers("session_hours:\n  start: \"08:30\"\n"))
    assert (error.line, error.path) == (1, "session_hours.end")
    assert "required setting is missing: add end: under session_hours" in error.message


def test_per_symbol_session_inherits_zone_and_days() -> None:
    text = (
        "session_hours:\n  start: \"08:30\"\n  end: \"15:00\"\n  timezone: America/New_York\n"
        "  days: [mon, wed]\n  per_symbol:\n    CLE: {start: \"18:00\", end: \"17:00\"}\n"
    )
    hours = load(timers(text)).timers.session_hours
    assert hours is not None
    cl = hours.per_symbol["CL"]  # product code CLE is the CME root CL
    assert (cl.timezone, cl.days) == (None, None)  # resolved against session_hours when building the calendar


def test_holiday_calendar_accepts_cme_in_any_case() -> None:
    pytest.importorskip("exchange_calendars")  # the `cme` extra
    assert load(timers("holidays: {calendar: CME}\n")).timers.holidays.calendar == "cme"


def test_holiday_calendar_rejects_other_names() -> None:
    [error] = issues(timers("holidays: {calendar: NYSE}\n"))
    assert (error.path, error.value) == ("holidays.calendar", "NYSE")
    assert "'none' or 'cme'" in error.message


def test_holiday_dates_must_be_dates() -> None:
    [error] = issues(timers('holidays:\n  dates: ["2026-13-01"]\n'))
    assert (error.line, error.path, error.value) == (2, "holidays.dates[0]", '"2026-13-01"')
    assert "YYYY-MM-DD" in error.message


def test_unknown_key_in_timers_is_an_error() -> None:
    [error] = issues(timers("daily_reset: {time: \"17:00\", zone: UTC}\n"))
    assert (error.line, error.path) == (1, "daily_reset.zone")
    assert "did you mean 'timezone'?" in error.message


def test_session_block_outside_without_session_hours_is_an_error_naming_timers_yaml() -> None:
    [error] = issues({"risk_config.yaml": "rules:\n  session_block_outside: {enabled: true}\n"})
    assert (error.file, error.line, error.path) == ("risk_config.yaml", 2, "rules.session_block_outside")
    assert "add session_hours" in error.message and "timers.yaml" in error.message


def test_until_session_start_cooldown_without_session_hours_is_an_error() -> None:
    text = (
        "rules:\n  trade_frequency_limit:\n    enabled: true\n"
        "    cooldowns: {per_session: until_session_start}\n"
    )
    [error] = issues({"risk_config.yaml": text})
    assert (error.line, error.path) == (4, "rules.trade_frequency_limit.cooldowns.per_session")
    assert "needs session_hours" in error.message
    assert load({"risk_config.yaml": text, "timers.yaml": TIMERS_EXAMPLE}).risk is not None
