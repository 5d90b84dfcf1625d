"""TradingCalendar: daily resets across DST, session windows, holidays, early closes, CME calendar."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.domain.calendar import CalendarUnavailable, Holidays, SessionWindow, TradingCalendar

CHICAGO = ZoneInfo("America/Chicago")
MON_FRI = frozenset({0, 1, 2, 3, 4})
SUN_THU = frozenset({6, 0, 1, 2, 3})
RTH = SessionWindow(time(8, 30), time(15, 0), CHICAGO, MON_FRI)
GLOBEX = SessionWindow(time(17, 0), time(16, 0), CHICAGO, SUN_THU)


def ct(text: str) -> datetime:
    """A Chicago wall time ("2026-03-09 08:30") as an aware datetime (UTC inside the engine)."""
    return datetime.fromisoformat(text).replace(tzinfo=CHICAGO).astimezone(UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---- daily reset across DST ----------------------------------------------------------------------


class TestDailyResetAcrossDst:
    def test_spring_forward_day_resets_at_17_local_which_is_22_utc(self) -> None:
        cal = TradingCalendar()
        day = cal.trading_day(utc("2026-03-08 12:00"))  # Sunday, DST began at 02:00 local
        assert day.label == date(2026, 3, 8)
        assert day.start == utc("2026-03-07 23:00")  # Saturday 17:00 CST
        assert day.end == utc("2026-03-08 22:00")  # Sunday 17:00 CDT
        assert day.end - day.start == timedelta(hours=23)

    def test_spring_forward_next_reset_flips_exactly_at_17_cdt(self) -> None:
        cal = TradingCalendar()
        assert cal.next_reset(utc("2026-03-08 21:59:59")) == utc("2026-03-08 22:00")
        assert cal.next_reset(utc("2026-03-08 22:00")) == utc("2026-03-09 22:00")
        assert cal.trading_day(utc("2026-03-08 22:00")).label == date(2026, 3, 9)
        assert cal.trading_day(utc("2026-03-08 21:59:59")).label == date(2026, 3, 8)

    def test_fall_back_day_resets_at_17_local_which_is_23_utc(self) -> None:
        cal = TradingCalendar()
        day = cal.trading_day(utc("2026-11-01 12:00"))  # Sunday, DST ended at 02:00 local
        assert day.label == date(2026, 11, 1)
        assert day.start == utc("2026-10-31 22:00")  # Saturday 17:00 CDT
        assert day.end == utc("2026-11-01 23:00")  # Sunday 17:00 CST
        assert day.end - day.start == timedelta(hours=25)

    def test_fall_back_next_reset_flips_exactly_at_17_cst(self) -> None:
        cal = TradingCalendar()
        assert cal.next_reset(utc("2026-11-01 22:30")) == utc("2026-11-01 23:00")
        assert cal.next_reset(utc("2026-11-01 23:00")) == utc("2026-11-02 23:00")
        assert cal.trading_day(utc("2026-11-01 23:00")).label == date(2026, 11, 2)

    def test_trading_day_is_labelled_by_the_reset_that_ends_it(self) -> None:
        cal = TradingCalendar()
        assert cal.trading_day(ct("2026-03-02 16:59")).label == date(2026, 3, 2)
        assert cal.trading_day(ct("2026-03-02 17:00")).label == date(2026, 3, 3)

    def test_show_uses_the_display_zone_with_its_dst_abbreviation(self) -> None:
        cal = TradingCalendar()
        assert cal.show(utc("2026-03-08 22:00")) == "2026-03-08 17:00:00 CDT"
        assert cal.show(utc("2026-11-01 23:00")) == "2026-11-01 17:00:00 CST"


# ---- session windows -----------------------------------------------------------------------------


class TestWindowOpensOnItsDays:
    def test_no_session_configured_is_always_open(self) -> None:
        cal = TradingCalendar()
        assert cal.in_session("MNQ", ct("2026-03-07 03:00"))  # a Saturday night
        assert cal.session_end_after("MNQ", ct("2026-03-07 03:00")) is None

    def test_no_session_configured_next_start_is_the_next_reset(self) -> None:
        cal = TradingCalendar()
        assert cal.next_session_start(None, ct("2026-03-02 10:00")) == ct("2026-03-02 17:00")

    def test_rth_window_is_open_from_start_inclusive_to_end_exclusive(self) -> None:
        cal = TradingCalendar(session=RTH)
        assert not cal.in_session(None, ct("2026-03-02 08:29:59"))
        assert cal.in_session(None, ct("2026-03-02 08:30"))
        assert cal.in_session(None, ct("2026-03-02 14:59:59"))
        assert not cal.in_session(None, ct("2026-03-02 15:00"))

    def test_window_does_not_open_on_a_day_not_listed(self) -> None:
        cal = TradingCalendar(session=RTH)
        assert cal.in_session(None, ct("2026-03-06 10:00"))  # Friday
        assert not cal.in_session(None, ct("2026-03-07 10:00"))  # Saturday
        assert not cal.in_session(None, ct("2026-03-08 10:00"))  # Sunday

    def test_rth_window_follows_local_time_across_the_dst_change(self) -> None:
        cal = TradingCalendar(session=RTH)
        assert cal.next_session_start(None, ct("2026-03-06 16:00")) == utc("2026-03-09 13:30")  # CDT
        assert cal.session_end_after(None, ct("2026-03-06 10:00")) == utc("2026-03-06 21:00")  # CST

    def test_days_are_the_days_a_window_starts_so_thursday_night_runs_into_friday(self) -> None:
        cal = TradingCalendar(session=GLOBEX)  # starts Sun-Thu 17:00, ends next day 16:00
        assert cal.in_session(None, ct("2026-03-06 10:00"))  # Friday: Thursday's window
        assert not cal.in_session(None, ct("2026-03-06 17:30"))  # Friday evening: no window starts
        assert not cal.in_session(None, ct("2026-03-07 12:00"))  # Saturday
        assert not cal.in_session(None, ct("2026-03-08 16:59"))  # Sunday before the open
        assert cal.in_session(None, ct("2026-03-08 17:00"))  # Sunday open (first day of CDT)


class TestWindowWrappingMidnight:
    WRAP = SessionWindow(time(18, 0), time(17, 0), CHICAGO, SUN_THU)

    def test_wrapping_window_is_open_across_midnight(self) -> None:
        cal = TradingCalendar(session=self.WRAP)
        assert cal.in_session(None, ct("2026-03-02 23:59"))
        assert cal.in_session(None, ct("2026-03-03 00:00"))
        assert cal.in_session(None, ct("2026-03-03 16:59:59"))

    def test_wrapping_window_closes_at_end_and_reopens_at_start(self) -> None:
        cal = TradingCalendar(session=self.WRAP)
        assert not cal.in_session(None, ct("2026-03-03 17:00"))
        assert not cal.in_session(None, ct("2026-03-03 17:59:59"))
        assert cal.in_session(None, ct("2026-03-03 18:00"))

    def test_session_end_after_is_the_next_day_end(self) -> None:
        cal = TradingCalendar(session=self.WRAP)
        assert cal.session_end_after(None, ct("2026-03-02 20:00")) == ct("2026-03-03 17:00")
        assert cal.session_end_after(None, ct("2026-03-03 17:30")) is None

    def test_wrapping_window_lasts_24h_on_the_fall_back_night_and_23h_on_a_normal_one(self) -> None:
        every_day = SessionWindow(time(18, 0), time(17, 0), CHICAGO, frozenset(range(7)))
        cal = TradingCalendar(session=every_day)
        saturday = ct("2026-10-31 18:00")  # CDT; the clocks go back during this window
        assert cal.in_session(None, saturday)
        assert cal.session_end_after(None, saturday) == ct("2026-11-01 17:00")  # CST
        assert cal.session_end_after(None, saturday) - saturday == timedelta(hours=24)
        sunday = cal.next_session_start(None, saturday)
        assert sunday == ct("2026-11-01 18:00")
        assert cal.session_end_after(None, sunday) - sunday == timedelta(hours=23)

    def test_wrapping_window_on_the_spring_forward_night_lasts_22h(self) -> None:
        every_day = SessionWindow(time(18, 0), time(17, 0), CHICAGO, frozenset(range(7)))
        cal = TradingCalendar(session=every_day)
        saturday = ct("2026-03-07 18:00")  # CST; 02:00 becomes 03:00 during this window
        assert cal.session_end_after(None, saturday) - saturday == timedelta(hours=22)
        assert cal.session_end_after(None, saturday) == utc("2026-03-08 22:00")

    def test_window_ending_at_midnight_belongs_to_the_day_it_runs_on(self) -> None:
        evening = SessionWindow(time(18, 0), time(0, 0), CHICAGO, MON_FRI)
        cal = TradingCalendar(session=evening, holidays=Holidays(closed=frozenset({date(2026, 3, 3)})))
        assert cal.in_session(None, ct("2026-03-02 23:59"))  # Monday evening, Tuesday is the holiday
        assert not cal.in_session(None, ct("2026-03-03 18:00"))  # Tuesday's evening is closed
        assert cal.session_end_after(None, ct("2026-03-02 20:00")) == ct("2026-03-03 00:00")


class TestContinuousSessions:
    def test_adjacent_windows_form_one_session_ending_friday(self) -> None:
        around_the_clock = SessionWindow(time(17, 0), time(17, 0), CHICAGO, SUN_THU)
        cal = TradingCalendar(session=around_the_clock)
        assert cal.in_session(None, ct("2026-03-04 17:00"))  # the Tuesday→Wednesday seam
        assert cal.session_end_after(None, ct("2026-03-03 10:00")) == ct("2026-03-06 17:00")
        assert cal.next_session_start(None, ct("2026-03-03 10:00")) == ct("2026-03-08 17:00")


class TestNextSessionStart:
    def test_next_start_is_strictly_after_t(self) -> None:
        cal = TradingCalendar(session=RTH)
        assert cal.next_session_start(None, ct("2026-03-02 08:29:59")) == ct("2026-03-02 08:30")
        assert cal.next_session_start(None, ct("2026-03-02 08:30")) == ct("2026-03-03 08:30")

    def test_next_start_from_friday_evening_is_monday(self) -> None:
        cal = TradingCalendar(session=RTH)
        assert cal.next_session_start(None, ct("2026-03-06 15:00")) == ct("2026-03-09 08:30")

    def test_previous_session_end_is_the_latest_end_at_or_before_t(self) -> None:
        cal = TradingCalendar(session=RTH)
        assert cal.previous_session_end(None, ct("2026-03-02 15:00")) == ct("2026-03-02 15:00")
        assert cal.previous_session_end(None, ct("2026-03-02 14:59")) == ct("2026-02-27 15:00")
        assert cal.previous_session_end(None, ct("2026-03-08 12:00")) == ct("2026-03-06 15:00")

    def test_a_window_on_no_days_gives_a_fix_it_error(self) -> None:
        cal = TradingCalendar(session=SessionWindow(time(8, 30), time(15, 0), CHICAGO, frozenset()))
        assert not cal.in_session(None, ct("2026-03-02 10:00"))
        with pytest.raises(ValueError, match=r"session_hours\.days"):
            cal.next_session_start(None, ct("2026-03-02 10:00"))

    def test_naive_time_is_rejected_with_a_fix(self) -> None:
        cal = TradingCalendar(session=RTH)
        with pytest.raises(ValueError, match="aware datetime"):
            cal.in_session(None, datetime(2026, 3, 2, 10, 0))


class TestPerSymbolOverride:
    def test_symbol_with_an_override_uses_its_own_window(self) -> None:
        cal = TradingCalendar(session=RTH, per_symbol={"ES": GLOBEX})
        evening = ct("2026-03-03 19:00")
        assert cal.in_session("ES", evening)
        assert not cal.in_session("MNQ", evening)
        assert not cal.in_session(None, evening)

    def test_override_is_found_through_the_projectx_product_code(self) -> None:
        cal = TradingCalendar(session=RTH, per_symbol={"ES": GLOBEX})
        assert cal.in_session("EP", ct("2026-03-03 19:00"))
        assert cal.next_session_start("MNQ", ct("2026-03-03 15:30")) == ct("2026-03-04 08:30")
        assert cal.next_session_start("ES", ct("2026-03-03 16:30")) == ct("2026-03-03 17:00")

    def test_only_overrides_configured_leaves_other_symbols_always_open(self) -> None:
        cal = TradingCalendar(per_symbol={"ES": RTH})
        assert not cal.in_session("ES", ct("2026-03-03 19:00"))
        assert cal.in_session("NQ", ct("2026-03-03 19:00"))


# ---- holidays and early closes ------------------------------------------------------------------


class TestHolidays:
    XMAS = Holidays(closed=frozenset({date(2026, 12, 25)}))

    def test_holiday_closes_the_day_window(self) -> None:
        cal = TradingCalendar(session=RTH, holidays=self.XMAS)
        assert not cal.in_session(None, ct("2026-12-25 10:00"))
        assert cal.in_session(None, ct("2026-12-24 10:00"))
        assert cal.next_session_start(None, ct("2026-12-24 15:00")) == ct("2026-12-28 08:30")

    def test_holiday_closes_the_overnight_window_that_ends_on_it(self) -> None:
        cal = TradingCalendar(session=GLOBEX, holidays=self.XMAS)  # Christmas is a Friday
        assert cal.in_session(None, ct("2026-12-24 15:59"))  # Wed 17:00 → Thu 16:00 is Thursday's
        assert not cal.in_session(None, ct("2026-12-24 17:00"))  # Thu 17:00 → Fri 16:00 is Friday's
        assert not cal.in_session(None, ct("2026-12-25 03:00"))
        assert cal.next_session_start(None, ct("2026-12-24 16:00")) == ct("2026-12-27 17:00")

    def test_overnight_session_reopens_on_the_holiday_evening_for_the_next_day(self) -> None:
        new_year = Holidays(closed=frozenset({date(2026, 1, 1)}))  # a Thursday
        cal = TradingCalendar(session=GLOBEX, holidays=new_year)
        assert not cal.in_session(None, ct("2025-12-31 18:00"))
        assert not cal.in_session(None, ct("2026-01-01 10:00"))
        assert cal.in_session(None, ct("2026-01-01 17:00"))  # Friday's session
        assert cal.closed_on(date(2026, 1, 1))
        assert not cal.closed_on(date(2026, 1, 2))


class TestEarlyClose:
    THANKSGIVING_FRIDAY = Holidays(early_close={date(2026, 11, 27): time(12, 15)})

    def test_early_close_ends_the_session_at_the_given_time(self) -> None:
        cal = TradingCalendar(session=RTH, holidays=self.THANKSGIVING_FRIDAY)
        assert cal.in_session(None, ct("2026-11-27 12:14:59"))
        assert not cal.in_session(None, ct("2026-11-27 12:15"))
        assert cal.session_end_after(None, ct("2026-11-27 09:00")) == ct("2026-11-27 12:15")
        assert cal.session_end_after(None, ct("2026-11-26 09:00")) == ct("2026-11-26 15:00")

    def test_early_close_cuts_the_overnight_window_that_ends_that_day(self) -> None:
        cal = TradingCalendar(session=GLOBEX, holidays=self.THANKSGIVING_FRIDAY)
        assert cal.session_end_after(None, ct("2026-11-26 20:00")) == ct("2026-11-27 12:15")
        assert cal.previous_session_end(None, ct("2026-11-27 13:00")) == ct("2026-11-27 12:15")

    def test_early_close_before_the_window_opens_means_no_session_that_day(self) -> None:
        afternoon = SessionWindow(time(13, 0), time(15, 0), CHICAGO, MON_FRI)
        cal = TradingCalendar(session=afternoon, holidays=self.THANKSGIVING_FRIDAY)
        assert not cal.in_session(None, ct("2026-11-27 13:30"))
        assert cal.next_session_start(None, ct("2026-11-26 16:00")) == ct("2026-11-30 13:00")

    def test_early_close_after_the_normal_end_changes_nothing(self) -> None:
        late = Holidays(early_close={date(2026, 11, 27): time(16, 0)})
        cal = TradingCalendar(session=RTH, holidays=late)
        assert cal.session_end_after(None, ct("2026-11-27 09:00")) == ct("2026-11-27 15:00")


# ---- CME exchange calendar -------------------------------------------------------------------------


class TestCmeCalendar:
    def test_cme_closed_days_include_good_friday_and_christmas(self) -> None:
        pytest.importorskip("exchange_calendars")  # the `cme` extra
        cal = TradingCalendar(session=GLOBEX, cme_holidays=True)
        assert cal.closed_on(date(2026, 4, 3))  # Good Friday
        assert cal.closed_on(date(2026, 12, 25))
        assert cal.closed_on(date(2027, 12, 24))  # Christmas on a Saturday, observed Friday
        assert not cal.closed_on(date(2026, 4, 2))
        assert not cal.in_session(None, ct("2026-04-02 18:00"))  # Thu night belongs to Good Friday
        assert cal.next_session_start(None, ct("2026-04-02 16:00")) == ct("2026-04-05 17:00")

    def test_cme_early_closes_cut_the_session(self) -> None:
        pytest.importorskip("exchange_calendars")  # the `cme` extra
        cal = TradingCalendar(session=GLOBEX, cme_holidays=True)
        assert cal.session_end_after(None, ct("2026-11-25 20:00")) == ct("2026-11-26 12:00")  # Thanksgiving
        assert cal.session_end_after(None, ct("2026-12-23 20:00")) == ct("2026-12-24 12:00")
        assert not cal.in_session(None, ct("2026-12-24 12:00"))
        assert cal.next_session_start(None, ct("2026-12-24 12:00")) == ct("2026-12-27 17:00")

    def test_configured_dates_add_to_the_cme_calendar(self) -> None:
        pytest.importorskip("exchange_calendars")  # the `cme` extra
        extra = Holidays(closed=frozenset({date(2026, 7, 2)}), early_close={date(2026, 11, 27): time(12, 15)})
        cal = TradingCalendar(session=RTH, holidays=extra, cme_holidays=True)
        assert not cal.in_session(None, ct("2026-07-02 10:00"))  # configured
        assert not cal.in_session(None, ct("2026-04-03 10:00"))  # from CME
        # The configured 12:15 replaces the exchange library's 12:00 for that date.
        assert cal.session_end_after(None, ct("2026-11-27 09:00")) == ct("2026-11-27 12:15")
        assert cal.session_end_after(None, ct("2026-11-26 09:00")) == ct("2026-11-26 12:00")

    def test_without_cme_the_exchange_holidays_do_not_apply(self) -> None:
        cal = TradingCalendar(session=RTH)
        assert cal.in_session(None, ct("2026-04-03 10:00"))
        assert not cal.closed_on(date(2026, 4, 3))

    def test_cme_without_exchange_calendars_installed_says_how_to_install(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "exchange_calendars", None)  # makes the import fail
        with pytest.raises(CalendarUnavailable, match=r"pip install risk-manager\[cme\]"):
            TradingCalendar(session=RTH, cme_holidays=True)
        assert TradingCalendar(session=RTH).in_session(None, ct("2026-04-03 10:00"))


def test_a_calendar_is_always_open_only_without_any_session_window() -> None:
    assert TradingCalendar().always_open
    assert not TradingCalendar(session=RTH).always_open
    assert not TradingCalendar(per_symbol={"MNQ": GLOBEX}).always_open


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)),
    st.sampled_from(["America/Chicago", "UTC", "Europe/London", "Asia/Kolkata", "America/St_Johns"]),
)
def test_a_time_is_shown_in_the_display_zone_with_its_abbreviation(t: datetime, zone: str) -> None:
    shown = TradingCalendar(display_zone=zone).show(t)
    assert shown == t.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")
