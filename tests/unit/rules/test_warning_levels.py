"""The warning levels shared by the limit rules: each fraction with its breach subject, as written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractTable
from risk_manager.engine.state import AccountState, TradingDayStats
from risk_manager.engine.view import AccountView
from risk_manager.rules.base import due_count_warning, due_warning, warn_levels


def test_levels_go_from_the_lowest_fraction_up_each_with_its_marker_subject() -> None:
    warn_at = (Decimal("0.9"), Decimal("0.5"), Decimal("0.75"))
    assert warn_levels(warn_at, "account") == (
        (Decimal("0.5"), "account:warn:0.5"),
        (Decimal("0.75"), "account:warn:0.75"),
        (Decimal("0.9"), "account:warn:0.9"),
    )


def test_equal_fractions_written_differently_keep_their_own_subjects() -> None:
    """0.5 and 0.50 are equal Decimals, but a subject shows the fraction as configured: levels are
    kept per warn_at tuple, not per value."""
    assert warn_levels((Decimal("0.5"),), "pos:X") == ((Decimal("0.5"), "pos:X:warn:0.5"),)
    assert warn_levels((Decimal("0.50"),), "pos:X") == ((Decimal("0.50"), "pos:X:warn:0.50"),)


def _view(warn_at: tuple[Decimal, ...], announced: set[tuple[str, str]]) -> AccountView:
    """An account whose breach markers are ``announced``, as a rule sees it."""
    now = datetime(2026, 3, 2, 15, tzinfo=UTC)
    day = TradingDayStats(date(2026, 3, 2), now - timedelta(hours=1), now + timedelta(hours=20))
    state = AccountState(1, day)
    state.breaches = set(announced)
    return AccountView(state, now, None, {}, ContractTable(), TradingCalendar(), warn_at)


@given(
    st.lists(st.decimals(min_value=0, max_value=2, places=2), max_size=4, unique=True),
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=0, max_value=400),
    st.sets(st.integers(min_value=0, max_value=3)),
)
def test_a_count_is_due_the_warning_due_warning_gives_for_count_at_least_limit_times_fraction(
    fractions: list[Decimal], count: int, limit: int, announced: set[int]
) -> None:
    warn_at = tuple(sorted(fractions))
    levels = warn_levels(warn_at, "contracts")
    markers = {("RULE-001", levels[i][1]) for i in announced if i < len(levels)}
    view = _view(warn_at, markers)
    assert due_count_warning(view, "RULE-001", "contracts", count, limit) == due_warning(
        view, "RULE-001", "contracts", lambda f: count >= limit * f
    )


def test_a_count_under_the_lowest_fraction_of_its_limit_has_no_warning_due() -> None:
    warn_at = (Decimal("0.5"), Decimal("0.75"))
    assert due_count_warning(_view(warn_at, set()), "R", "s", 1, 4) is None  # 1 < 2
    assert due_count_warning(_view(warn_at, set()), "R", "s", 2, 4) == Decimal("0.5")  # 2 reaches 50 %
    assert due_count_warning(_view((), set()), "R", "s", 10, 4) is None  # no warnings configured
    assert due_count_warning(_view((Decimal("0"),), set()), "R", "s", 0, 4) == 0  # reached at once


def test_an_announced_fraction_passes_every_fraction_below_it_and_a_higher_one_reached_is_due() -> None:
    warn_at = (Decimal("0.5"), Decimal("0.75"), Decimal("0.9"))
    announced = {("R", "s:warn:0.75")}
    assert due_count_warning(_view(warn_at, announced), "R", "s", 8, 10) is None  # 80 %: 75 % announced
    assert due_count_warning(_view(warn_at, announced), "R", "s", 9, 10) == Decimal("0.9")
