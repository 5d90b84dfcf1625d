"""Quiet-band edges turned into floats: the fast path compares received prices (floats) with them,
and must agree exactly with the rules, which compare the prices' exact values (shortest repr)."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from risk_manager.domain.money import to_decimal
from risk_manager.engine.engine import _float_band
from risk_manager.rules.api import Inclusive

# Edges as rules make them: tick-grid prices, and the long quotients of P&L splits.
grid_edges = st.builds(
    lambda ticks, tick: Decimal(ticks) * Decimal(tick),
    st.integers(-10_000_000, 10_000_000),
    st.sampled_from(["0.25", "0.01", "0.1", "0.005", "1"]),
)
odd_edges = st.decimals(min_value=-1e7, max_value=1e7, allow_nan=False, allow_infinity=False, places=12)
edges = st.one_of(grid_edges, odd_edges)


def prices_near(edge: Decimal) -> list[float]:
    """Received prices around ``edge``: the float nearest to it and a few steps either side."""
    f = float(edge)
    out = [f]
    up = down = f
    for _ in range(3):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        out += [up, down]
    return out


@given(edges)
def test_a_price_is_inside_an_inclusive_upper_edge_exactly_when_its_value_is_at_most_the_edge(
    edge: Decimal,
) -> None:
    _, hi = _float_band((None, Inclusive(edge)))
    for price in prices_near(edge):
        assert (price < hi) == (to_decimal(price) <= edge)


@given(edges)
def test_a_price_is_inside_an_inclusive_lower_edge_exactly_when_its_value_is_at_least_the_edge(
    edge: Decimal,
) -> None:
    lo, _ = _float_band((Inclusive(edge), None))
    for price in prices_near(edge):
        assert (lo < price) == (to_decimal(price) >= edge)


@given(edges)
def test_a_price_on_an_exclusive_edge_or_beyond_is_never_inside(edge: Decimal) -> None:
    lo, hi = _float_band((edge, None))[0], _float_band((None, edge))[1]
    for price in prices_near(edge):
        if lo < price:
            assert to_decimal(price) > edge
        if price < hi:
            assert to_decimal(price) < edge


def test_a_tick_grid_price_on_an_inclusive_edge_is_quiet_and_the_next_tick_is_not() -> None:
    _, hi = _float_band((None, Inclusive(Decimal("21005.25"))))
    assert hi > 21005.25
    assert hi <= 21005.5
    _, hi = _float_band((None, Decimal("21005.25")))
    assert hi <= 21005.25
    assert hi > 21005.0
