"""The protective stops the engine keeps between order updates (AccountState.protective_stops, kept up
to date by the engine instead of read again from the orders) are what a scan of the working orders
finds, whatever the sequence of order updates."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.domain.events import OrderEvent, OrderSide, OrderStatus, OrderType, PositionEvent
from risk_manager.rules.no_stop_loss_grace import NoStopLossGrace, NoStopLossGraceConfig

from engine_helpers import ES, MNQ, EngineHarness, order, pos

updates = st.lists(
    st.builds(
        order,
        order_id=st.integers(1, 4),
        contract=st.sampled_from([MNQ, ES]),
        type=st.sampled_from([OrderType.STOP, OrderType.TRAILING_STOP, OrderType.LIMIT, OrderType.MARKET]),
        side=st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        status=st.sampled_from([OrderStatus.OPEN, OrderStatus.FILLED, OrderStatus.CANCELLED]),
    ),
    max_size=25,
)
POSITIONS: tuple[PositionEvent, ...] = (pos(MNQ, 1, "21000"), pos(ES, -1, "5000"))


def scanned(h: EngineHarness, position_contract: str) -> OrderEvent | None:
    """The stop a fresh scan of the working orders finds for the position."""
    fresh = dataclasses.replace(h.state, protective_stops=None)
    h_view = h.view()
    position = h_view.positions[position_contract]
    view = type(h_view)(fresh, h.now, None, {}, h.engine.contracts, h.engine.calendar, ())
    return view.protective_stop(position)


@settings(max_examples=150, deadline=None)
@given(updates)
def test_the_kept_protective_stops_match_a_scan_of_the_working_orders(events: list[OrderEvent]) -> None:
    h = EngineHarness(NoStopLossGrace(NoStopLossGraceConfig(enabled=True, grace_period_seconds=60)))
    h.apply(*POSITIONS)
    for event in events:
        h.apply(event)  # the rule asks for the stops on every order update: they are kept from here
        view = h.view()
        for contract in (MNQ, ES):
            assert view.protective_stop(view.positions[contract]) == scanned(h, contract)
