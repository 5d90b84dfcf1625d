"""Trading-day and session calendar, on zoneinfo (DST-correct). Pure: time is always an argument.

- The *trading day* runs from one daily reset (default 17:00 America/Chicago) to the next and is
  labelled with the local date of the reset that ends it (Monday 17:00 → Tuesday 17:00 is Tuesday).
- *Sessions* (RULE-009) are windows ``start``-``end`` in a zone, on the weekdays a window STARTS,
  possibly wrapping midnight, with per-symbol overrides; holidays (closed all day) and early closes
  cut them.

How holidays and early closes apply (the one definition every caller relies on):

- Every window occurrence belongs to the local date on which it *ends* (in the window's zone), the
  way CME labels its sessions: Sunday 17:00 → Monday 16:00 is Monday's session. A window that does
  not wrap (08:30-15:00) belongs to the day it runs on; a window ending at exactly 00:00 belongs to
  the day before (it never runs on the day it "ends").
- A holiday on date D closes the window occurrence that belongs to D, all of it: with the CME
  window 17:00-16:00, Christmas (Friday) closes Thursday 17:00 → Friday 16:00, while New Year's Day
  (Thursday) closes Wednesday 17:00 → Thursday 16:00 and the market opens again on Thursday 17:00
  for Friday's session — which is what the exchange does.
- An early close on date D at time T (local, in the window's zone; in America/Chicago for the CME
  calendar's own early closes) ends the occurrence that belongs to D at T when T is before its
  normal end; an occurrence that would close before it opens does not open at all.
- With ``cme_holidays`` the exchange_calendars "CMES" calendar (CME Globex equity futures) adds its
  closed weekdays and early closes. Configured dates add to it: a date closed by either source is
  closed; a configured early close replaces the exchange's for the same date (the exchange
  library rounds some, e.g. the Friday after Thanksgiving is 12:00 there and 12:15 at CME).
- Times are half-open: a session is open at its start instant and closed at its end instant.
- Adjacent occurrences (one closes at the instant the next opens, e.g. 17:00-17:00) are one
  continuous session: its "end" is where it really closes and its "start" where it really opens.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from risk_manager.domain.contracts import canonical_root

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CME_ZONE = ZoneInfo("America/Chicago")
# exchange_calendars' code for CME Globex (equity futures hours, holidays and early closes).
CME_CALENDAR = "CMES"
# How far a search for the next session start may look ahead before calling the config unusable.
_SEARCH_DAYS = 370
# How far back previous_session_end looks (a long holiday weekend fits several times over).
_LOOKBACK_DAYS = 14
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DayBounds:
    label: date
    start: datetime  # UTC
    end: datetime  # UTC, exclusive


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """A daily window: opens ``start`` on each of ``days`` (local), closes ``end`` (next day if <= start)."""

    start: time
    end: time
    zone: ZoneInfo
    days: frozenset[int] = frozenset(range(5))  # 0 = Monday


@dataclass(frozen=True, slots=True)
class Holidays:
    closed: frozenset[date] = frozenset()
    early_close: dict[date, time] = field(default_factory=dict)


class CalendarUnavailable(RuntimeError):
    """The CME holiday calendar was asked for but its optional dependency is not installed."""


def local_at(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time ``at`` on ``day`` in ``zone`` (fold=0 for repeated hours)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _aware(t: datetime, name: str = "t") -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name}={t.isoformat()} has no time zone: pass an aware datetime (UTC inside)")
    return t


def _load_exchange_calendars() -> ModuleType:
    try:
        return importlib.import_module("exchange_calendars")
    except ImportError as exc:
        raise CalendarUnavailable(
            "holidays.calendar: CME needs the exchange_calendars package, which is not installed: "
            "run `pip install risk-manager[cme]`, or set holidays.calendar: none and list the dates "
            f"under holidays.dates / holidays.early_close ({exc})"
        ) from None


Interval = tuple[datetime, datetime]  # [open, close) in UTC


class TradingCalendar:
    """Daily resets and trading sessions. Construct from timers config (see config/), or directly in tests."""

    def __init__(
        self,
        reset_time: time = time(17, 0),
        reset_zone: ZoneInfo | str = "America/Chicago",
        session: SessionWindow | None = None,
        per_symbol: dict[str, SessionWindow] | None = None,
        holidays: Holidays | None = None,
        display_zone: ZoneInfo | str | None = None,
        cme_holidays: bool = False,
    ) -> None:
        self.reset_time = reset_time
        self.reset_zone = reset_zone if isinstance(reset_zone, ZoneInfo) else ZoneInfo(reset_zone)
        self.session = session
        self.per_symbol = {canonical_root(k): v for k, v in (per_symbol or {}).items()}
        self.holidays = holidays or Holidays()
        dz = display_zone if display_zone is not None else self.reset_zone
        self.display_zone = dz if isinstance(dz, ZoneInfo) else ZoneInfo(dz)
        self.cme_holidays = cme_holidays
        # Imported here, only when asked for: pandas behind it costs a second at start-up.
        self._xcals = _load_exchange_calendars() if cme_holidays else None
        # year -> (closed weekdays, early closes as UTC instants) from the exchange calendar.
        self._cme_years: dict[int, tuple[frozenset[date], dict[date, datetime]]] = {}
        # (window, start date) -> occurrence: the engine asks about the same few days on every event.
        self._memo: dict[tuple[SessionWindow, date], Interval | None] = {}

    # ---- daily reset -------------------------------------------------------------------------

    def trading_day(self, now: datetime) -> DayBounds:
        """The trading day that contains ``now``: start <= now < end."""
        local = now.astimezone(self.reset_zone)
        today_reset = local_at(local.date(), self.reset_time, self.reset_zone)
        if now >= today_reset:
            end_date = local.date() + timedelta(days=1)
            return DayBounds(end_date, today_reset, local_at(end_date, self.reset_time, self.reset_zone))
        start = local_at(local.date() - timedelta(days=1), self.reset_time, self.reset_zone)
        return DayBounds(local.date(), start, today_reset)

    def next_reset(self, now: datetime) -> datetime:
        """The first daily reset strictly after ``now``."""
        return self.trading_day(now).end

    def show(self, t: datetime) -> str:
        """A time as shown to users: in the display zone, with its abbreviation."""
        local = t.astimezone(self.display_zone)
        # strftime("%Y-%m-%d %H:%M:%S %Z") written out: a third of its cost (every lockout's reason,
        # and every unlock's, shows one or two times)
        return f"{local.isoformat(' ')[:19]} {local.tzname() or ''}"

    # ---- sessions ------------------------------------------------------------------------------

    @property
    def always_open(self) -> bool:
        """True when no session window is configured (global or per symbol): no session ever ends."""
        return self.session is None and not self.per_symbol

    def window_for(self, root: str | None) -> SessionWindow | None:
        """The session window of a symbol (its override, else the global one); None = always open."""
        if root is not None and self.per_symbol:  # asked per position on every event
            override = self.per_symbol.get(canonical_root(root))
            if override is not None:
                return override
        return self.session

    def in_session(self, root: str | None, t: datetime) -> bool:
        """True when ``root`` (None = the global window) may trade at ``t``; no session configured = True."""
        window = self.window_for(root)
        if window is None:
            return True
        _aware(t)
        today = t.astimezone(window.zone).date()
        # An occurrence lasts at most a day (25 h on a DST fall-back), so it started at most 2 days ago.
        return any(
            opened <= t < closed for opened, closed in self._occurrences(window, today - 2 * _ONE_DAY, today)
        )

    def session_end_after(self, root: str | None, t: datetime) -> datetime | None:
        """End of the session containing ``t`` (early closes applied); None when ``t`` is outside a
        session or no session is configured (always open: it never ends)."""
        window = self.window_for(root)
        if window is None:
            return None
        _aware(t)
        for opened, closed in self._sessions_from(window, t.astimezone(window.zone).date() - 2 * _ONE_DAY):
            if opened > t:
                return None
            if t < closed:
                return closed
        return None  # pragma: no cover - _sessions_from raises before running out

    def next_session_start(self, root: str | None, t: datetime) -> datetime:
        """The first instant strictly after ``t`` at which the session opens (closed → open).

        Used for "locked until the next session start". With no session configured the market never
        closes, and the trading day is the only session there is: the next daily reset is returned.
        Raises ValueError when no session opens within a year (no days, or every day a holiday).
        """
        window = self.window_for(root)
        if window is None:
            return self.next_reset(t)
        _aware(t)
        for opened, _closed in self._sessions_from(window, t.astimezone(window.zone).date() - 2 * _ONE_DAY):
            if opened > t:
                return opened
        raise AssertionError("unreachable")  # pragma: no cover - _sessions_from raises first

    def previous_session_end(self, root: str | None, t: datetime) -> datetime | None:
        """The latest session end at or before ``t`` within the last two weeks; None when there is
        none or no session is configured. RULE-009 uses it to name the session end it acts on."""
        window = self.window_for(root)
        if window is None:
            return None
        _aware(t)
        latest: datetime | None = None
        start = t.astimezone(window.zone).date() - _LOOKBACK_DAYS * _ONE_DAY
        for opened, closed in self._sessions_from(window, start):
            if opened > t:
                break
            if closed <= t:
                latest = closed
        return latest

    # ---- holidays ------------------------------------------------------------------------------

    def closed_on(self, day: date) -> bool:
        """True when ``day`` is a holiday: the session belonging to it does not open."""
        if day in self.holidays.closed:
            return True
        return self._xcals is not None and day in self._cme_year(day.year)[0]

    def early_close_on(self, day: date, zone: ZoneInfo) -> datetime | None:
        """The UTC instant at which the session belonging to ``day`` closes early, if it does.

        A configured early close is a wall time in ``zone`` (the window's) and replaces the
        exchange calendar's for the same date; the exchange's are instants (Chicago time).
        """
        configured = self.holidays.early_close.get(day)
        if configured is not None:
            return local_at(day, configured, zone)
        if self._xcals is None:
            return None
        return self._cme_year(day.year)[1].get(day)

    def _cme_year(self, year: int) -> tuple[frozenset[date], dict[date, datetime]]:
        found = self._cme_years.get(year)
        if found is None:
            found = self._cme_years[year] = self._load_cme_year(year)
        return found

    def _load_cme_year(self, year: int) -> tuple[frozenset[date], dict[date, datetime]]:
        """Closed weekdays and early closes of one year, from exchange_calendars (explicit bounds,
        so the answer never depends on today's date)."""
        assert self._xcals is not None
        with warnings.catch_warnings():
            # exchange_calendars trips pandas' own deprecation notices; nothing for our users to do.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            cal: Any = self._xcals.get_calendar(CME_CALENDAR, start=f"{year}-01-01", end=f"{year}-12-31")
        sessions = {ts.date() for ts in cal.sessions}
        day, last = date(year, 1, 1), date(year, 12, 31)
        closed: set[date] = set()
        while day <= last:
            if day.weekday() < 5 and day not in sessions:
                closed.add(day)
            day += _ONE_DAY
        early: dict[date, datetime] = {}
        for label in cal.early_closes:
            early[label.date()] = cal.closes[label].to_pydatetime().astimezone(UTC)
        return frozenset(closed), early

    # ---- occurrences ---------------------------------------------------------------------------

    def _occurrence(self, window: SessionWindow, day: date) -> Interval | None:
        """The window occurrence that starts on local ``day``, holidays and early closes applied."""
        key = (window, day)
        try:
            return self._memo[key]
        except KeyError:
            found = self._memo[key] = self._compute_occurrence(window, day)
            return found

    def _compute_occurrence(self, window: SessionWindow, day: date) -> Interval | None:
        if day.weekday() not in window.days:
            return None
        opened = local_at(day, window.start, window.zone)
        end_day = day if window.end > window.start else day + _ONE_DAY
        closed = local_at(end_day, window.end, window.zone)
        belongs_to = end_day - _ONE_DAY if window.end == time(0) else end_day
        if self.closed_on(belongs_to):
            return None
        early = self.early_close_on(belongs_to, window.zone)
        if early is not None and early < closed:
            closed = early
        if closed <= opened:
            return None
        return opened, closed

    def _occurrences(self, window: SessionWindow, first: date, last: date) -> Iterator[Interval]:
        day = first
        while day <= last:
            found = self._occurrence(window, day)
            if found is not None:
                yield found
            day += _ONE_DAY

    def _sessions_from(self, window: SessionWindow, first: date) -> Iterator[Interval]:
        """Continuous sessions (adjacent occurrences merged) starting from local date ``first``, in
        order. Raises ValueError when a search runs a year without the session opening or closing."""
        current: Interval | None = None
        day = first
        for _ in range(_SEARCH_DAYS):
            found = self._occurrence(window, day)
            day += _ONE_DAY
            if found is None:
                continue
            if current is not None and found[0] == current[1]:
                current = (current[0], found[1])
                continue
            if current is not None:
                yield current
            current = found
        if current is not None:
            yield current
        days = ", ".join(WEEKDAYS[d] for d in sorted(window.days)) or "none"
        raise ValueError(
            f"session {window.start:%H:%M}-{window.end:%H:%M} {window.zone.key} on days [{days}] has no "
            f"start or end within {_SEARCH_DAYS} days after {first}: check session_hours.days and "
            "holidays in timers.yaml"
        )
