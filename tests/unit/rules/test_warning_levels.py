"""The warning levels shared by the limit rules: each fraction with its breach subject, as written."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from risk_manager.rules.base import under_first_warning, warn_levels


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


@given(
    st.lists(st.decimals(min_value=0, max_value=2, places=2), max_size=4),
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=0, max_value=400),
)
def test_no_warning_is_due_below_the_lowest_fraction_and_one_may_be_from_it_on(
    fractions: list[Decimal], count: int, limit: int
) -> None:
    warn_at = tuple(fractions)
    # what due_warning's own first test reads, level by level
    some_level_reached = any(count >= limit * fraction for fraction in warn_at)
    assert under_first_warning(warn_at, count, limit) == (
        not warn_at or (min(warn_at) > 0 and not some_level_reached)
    )


def test_a_count_under_the_lowest_fraction_of_its_limit_has_no_warning_due() -> None:
    warn_at = (Decimal("0.5"), Decimal("0.75"))
    assert under_first_warning(warn_at, 1, 4)  # 1 < 2
    assert not under_first_warning(warn_at, 2, 4)  # 2 reaches 50 %
    assert under_first_warning((), 10, 4)  # no warnings configured
    assert not under_first_warning((Decimal("0"),), 0, 4)  # a 0 fraction is reached at once
