"""The warning levels shared by the limit rules: each fraction with its breach subject, as written."""

from __future__ import annotations

from decimal import Decimal

from risk_manager.rules.base import warn_levels


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
