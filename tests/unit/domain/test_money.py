"""Exact decimals of gateway numbers: floats through their shortest repr, nothing inexact or non-finite."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk_manager.domain.money import money, to_decimal


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_finite_float_becomes_the_decimal_of_its_shortest_repr(value: float) -> None:
    assert to_decimal(value) == Decimal(repr(value))
    assert str(to_decimal(value)) == str(Decimal(repr(value)))  # the same digits and exponent too


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "NaN", "Infinity", " -inf "])
def test_a_non_finite_number_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="expected a finite number"):
        to_decimal(value)


@pytest.mark.parametrize("value", [True, False, None, "high", [1], {"a": 1}])
def test_anything_but_a_number_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="expected a number"):
        to_decimal(value)


def test_ints_strings_and_decimals_are_read_exactly() -> None:
    exact = Decimal("21000.25")
    assert to_decimal(exact) is exact
    assert to_decimal(21000) == Decimal(21000)
    assert to_decimal(" 5138.250000000 ") == Decimal("5138.25")
    assert to_decimal(21000.1) == Decimal("21000.1")
    assert to_decimal(-0.0) == 0 and str(to_decimal(-0.0)) == "-0.0"


def test_a_float_subclass_is_read_like_a_float() -> None:
    class Price(float):
        pass

    assert to_decimal(Price(1.1)) == Decimal("1.1")
    with pytest.raises(ValueError, match="finite"):
        to_decimal(Price("nan"))


def test_money_shows_two_decimals() -> None:
    assert money(Decimal("-512.5")) == "-512.50"
