"""RULE-012's crossing form (``decide_position``): the same decisions as ``evaluate`` on that
position, and the band ``price_band`` gives once they are committed, however the figures are written
and whether or not they come from the rule's memo."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.domain.actions import ModifyStop, PlaceStop
from risk_manager.domain.events import OrderSide
from risk_manager.rules.trade_management import TradeManagement, TradeManagementConfig

from engine_helpers import MNQ, EngineHarness, order, pos, quote

TICK = Decimal("0.25")
ENTRY = Decimal("21000")


def price(ticks: int) -> Decimal:
    return ENTRY + ticks * TICK



class Crossing(NamedTuple):
    """Where one position's crossing stands, in ticks from ENTRY (signed for the position's side)."""

    long: bool
    size: int
    best: int  # the best price reached
    back: int  # how far the market came back from it
    working: int | None  # the working stop, if any
    requested: int | None  # the last stop the rule requested, if any
    padded: bool  # the requested stop written with more digits


crossings = st.builds(
    Crossing,
    long=st.booleans(),
    size=st.integers(1, 3),
    best=st.integers(-5, 60),
    back=st.integers(0, 8),
    working=st.one_of(st.none(), st.integers(-40, 50)),
    requested=st.one_of(st.none(), st.integers(-40, 50)),
    padded=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    crossing=crossings,
    breakeven=st.booleans(),
    distance=st.sampled_from([10, 19, 25]),
    entries=st.lists(st.tuples(st.integers(-30, 30), st.booleans()), min_size=1, max_size=3),
)
def test_deciding_one_position_is_evaluating_it_then_asking_its_band_after_the_commit(
    crossing: Crossing, breakeven: bool, distance: int, entries: list[tuple[int, bool]]
) -> None:
    """Positions of other accounts with other entries (some written with more digits) cross the
    same prices with the same stops after the first: the rule remembers what does not depend on
    the entry (the trailing step), and each still gets the decisions and band evaluate gives. A
    trailing distance past the activation less the breakeven offset leaves breakeven the tighter."""
    config = TradeManagementConfig(
        enabled=True, breakeven={"enabled": breakeven}, trailing={"distance_ticks": distance}
    )
    rule = TradeManagement(config)
    for shift, entry_padded in entries:
        entry = ENTRY + shift * TICK
        _decide_as_evaluate(rule, entry.quantize(Decimal("0.001")) if entry_padded else entry, crossing)


def _decide_as_evaluate(rule: TradeManagement, entry: Decimal, crossing: Crossing) -> None:
    long, size, best, back, working, requested, padded = crossing
    sign = 1 if long else -1
    h = EngineHarness(rule)
    h.apply(pos(MNQ, sign * size, str(entry)))
    if working is not None:
        side = OrderSide.SELL if long else OrderSide.BUY
        h.apply(order(11, MNQ, side=side, size=size, stop_price=str(price(sign * working))))
    # the best price is reached, then the market comes back by ``back`` ticks
    h.apply(quote(MNQ, float(price(sign * best))), quote(MNQ, float(price(sign * (best - back)))))
    stops = h.state.stops_requested
    if requested is not None:
        stop = price(sign * requested)
        # the same price written another way: the reasons must still be the ones evaluate writes
        stops[MNQ] = stop.quantize(Decimal("0.001")) if padded else stop
    elif not padded:
        stops.pop(MNQ, None)

    position = h.view().positions[MNQ]
    decided = rule.decide_position(h.view(), position)
    from_memo = rule.decide_position(h.view(), position)
    expected = rule.evaluate(h.view())
    for action in expected:  # committed as the engine commits a stop request
        assert isinstance(action, PlaceStop | ModifyStop)
        stops[action.contract_id] = action.stop_price
    assert decided is not None
    assert decided == from_memo
    assert repr(decided[0]) == repr(expected)
    assert decided[1] == rule.price_band(h.view(), position)
