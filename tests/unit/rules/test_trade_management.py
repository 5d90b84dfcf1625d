"""RULE-012 trade_management, driven through the real engine with an explicit clock."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import Action, ModifyStop, PlaceStop
from risk_manager.domain.contracts import ContractSpec, ContractTable
from risk_manager.domain.events import OrderSide, OrderStatus, OrderType
from risk_manager.rules.api import Inclusive
from risk_manager.rules.trade_management import TradeManagement, TradeManagementConfig

from engine_helpers import ES, MNQ, T0, EngineHarness, flat, kinds, order, pos, quote

RESET = T0.replace(hour=23, minute=0)  # 17:00 Chicago on 2 March 2026 (CST)
TICK = 0.25  # MNQ and ES


def harness(fast_path: bool = True, **cfg: Any) -> EngineHarness:
    return EngineHarness(TradeManagement(TradeManagementConfig(enabled=True, **cfg)), fast_path=fast_path)


def up(ticks: float, entry: float = 21000.0) -> float:
    return entry + ticks * TICK


def stops(actions: list[Action]) -> list[tuple[str, str, Decimal]]:
    """(kind, contract, stop price) of each stop action."""
    return [(a.kind, a.contract_id, a.stop_price) for a in actions if isinstance(a, PlaceStop | ModifyStop)]


def stop_order(
    price: Any, order_id: int = 11, contract: str = MNQ, side: int = OrderSide.SELL, size: int = 2
) -> Any:
    return order(order_id, contract, type=OrderType.STOP, side=side, size=size, stop_price=price)


# ---- breakeven ---------------------------------------------------------------------------------


def test_breakeven_moves_the_existing_stop_to_entry_plus_offset_at_the_trigger() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"))
    actions = h.apply(quote(MNQ, up(10)))
    assert kinds(actions) == [("RULE-012", "modify_stop")]
    modify = actions[0]
    assert isinstance(modify, ModifyStop)
    assert (modify.order_id, modify.stop_price) == (11, Decimal("21000.25"))
    assert modify.reason == (
        f"{MNQ} +2: best 21002.5 is 10 ticks from entry 21000: breakeven stop 21000.25 (was 20990)"
    )
    assert ("profit_ticks", "10") in modify.inputs


def test_one_tick_short_of_the_trigger_nothing_moves() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"))
    assert h.apply(quote(MNQ, up(9)), quote(MNQ, up(9), bid=up(9), ask=up(9.5))) == []


def test_without_a_working_stop_one_is_placed_on_the_closing_side_for_the_whole_size() -> None:
    h = harness()
    h.apply(pos(MNQ, 3, "21000"))
    actions = h.apply(quote(MNQ, up(10)))
    assert kinds(actions) == [("RULE-012", "place_stop")]
    place = actions[0]
    assert isinstance(place, PlaceStop)
    assert (place.stop_price, place.side, place.size) == (Decimal("21000.25"), OrderSide.SELL, 3)


def test_a_short_gets_its_breakeven_stop_below_entry_on_the_buy_side() -> None:
    h = harness()
    h.apply(pos(ES, -1, "5000"))
    assert h.apply(quote(ES, up(-9, 5000))) == []
    actions = h.apply(quote(ES, up(-10, 5000)))
    place = actions[0]
    assert isinstance(place, PlaceStop)
    assert (place.stop_price, place.side, place.size) == (Decimal("4999.75"), OrderSide.BUY, 1)


def test_the_same_stop_is_not_requested_twice() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"))
    assert len(stops(h.apply(quote(MNQ, up(10))))) == 1
    assert h.apply(quote(MNQ, up(12)), quote(MNQ, up(10))) == []
    assert h.apply(stop_order("21000.25")) == []  # the modify shows up


def test_a_placed_stop_still_on_its_way_is_never_placed_again() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"))
    assert stops(h.apply(quote(MNQ, up(10)))) == [("place_stop", MNQ, Decimal("21000.25"))]
    assert h.apply(quote(MNQ, up(25))) == []  # no order event yet: no second stop
    # The order shows up: now it can be moved to the trailing level.
    assert stops(h.apply(stop_order("21000.25", order_id=40))) == [("modify_stop", MNQ, Decimal("21003.75"))]


# ---- trailing --------------------------------------------------------------------------------------


def test_trailing_starts_at_the_activation_and_follows_new_bests_at_the_distance() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("21000.25"))
    assert h.apply(quote(MNQ, up(19))) == []  # breakeven level equals the stop already there
    assert stops(h.apply(quote(MNQ, up(20)))) == [("modify_stop", MNQ, Decimal("21002.50"))]
    assert stops(h.apply(quote(MNQ, up(24)))) == [("modify_stop", MNQ, Decimal("21003.50"))]


def test_trailing_never_loosens_when_the_price_comes_back() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("21000.25"))
    h.apply(quote(MNQ, up(30)))
    assert h.apply(quote(MNQ, up(22)), quote(MNQ, up(15)), quote(MNQ, up(29))) == []
    assert stops(h.apply(quote(MNQ, up(31)))) == [("modify_stop", MNQ, Decimal("21005.25"))]


def test_a_jump_past_both_levels_moves_straight_to_the_tighter_trailing_stop() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"))
    assert stops(h.apply(quote(MNQ, up(40)))) == [("modify_stop", MNQ, Decimal("21007.50"))]


def test_short_trailing_mirrors_the_long() -> None:
    h = harness()
    h.apply(pos(ES, -2, "5000"), stop_order("5005", contract=ES, side=OrderSide.BUY))
    assert stops(h.apply(quote(ES, up(-20, 5000)))) == [("modify_stop", ES, Decimal("4997.50"))]
    assert h.apply(quote(ES, up(-15, 5000))) == []
    assert stops(h.apply(quote(ES, up(-22, 5000)))) == [("modify_stop", ES, Decimal("4997.00"))]


def test_a_stop_the_trader_already_tightened_is_not_loosened() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("21004"))
    assert h.apply(quote(MNQ, up(20))) == []  # trailing level 21002.50 is looser than 21004
    assert stops(h.apply(quote(MNQ, up(27)))) == [("modify_stop", MNQ, Decimal("21004.25"))]


def test_a_stop_the_trader_tightens_after_a_move_is_the_one_the_next_move_must_beat() -> None:
    """The working stop is read once and kept until an order changes: the trader's own move (the
    same order id, a new price) and a second stop on the other side are seen at the next quote."""
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"))
    assert stops(h.apply(quote(MNQ, up(20)))) == [("modify_stop", MNQ, Decimal("21002.50"))]
    h.apply(stop_order("21006"))  # the trader tightens it by hand, past the rule's request
    assert h.apply(quote(MNQ, up(30))) == []  # 21005.00 would loosen it
    assert stops(h.apply(quote(MNQ, up(35)))) == [("modify_stop", MNQ, Decimal("21006.25"))]
    h.apply(order(11, MNQ, type=OrderType.STOP, side=OrderSide.SELL, size=2, stop_price="21006",
                  status=OrderStatus.CANCELLED))
    # the stop gone, no move of it is decided (a stale read would modify order 11 to 21007.50);
    # a stop requested for the position already, none is placed in its stead either
    assert h.apply(quote(MNQ, up(40))) == []


def test_a_working_stop_of_unknown_price_is_left_alone() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), order(11, MNQ, type=OrderType.TRAILING_STOP, side=OrderSide.SELL))
    assert h.apply(quote(MNQ, up(40))) == []


# ---- tick grid -----------------------------------------------------------------------------------


def test_stops_round_onto_the_tick_grid_in_the_protective_direction() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000.10"))  # average of several fills, off the grid
    assert stops(h.apply(quote(MNQ, 21002.75))) == [("place_stop", MNQ, Decimal("21000.50"))]  # up
    h2 = harness()
    h2.apply(pos(ES, -2, "5000.10"))
    assert stops(h2.apply(quote(ES, 4997.5))) == [("place_stop", ES, Decimal("4999.75"))]  # down


# ---- parts switched off, growth, close, reset ----------------------------------------------------


def test_breakeven_off_only_trails() -> None:
    h = harness(breakeven={"enabled": False})
    h.apply(pos(MNQ, 1, "21000"), stop_order("20990", size=1))
    assert h.apply(quote(MNQ, up(19))) == []
    assert stops(h.apply(quote(MNQ, up(20)))) == [("modify_stop", MNQ, Decimal("21002.50"))]


def test_trailing_off_moves_to_breakeven_once_and_then_stays() -> None:
    h = harness(trailing={"enabled": False})
    h.apply(pos(MNQ, 1, "21000"), stop_order("20990", size=1))
    assert len(stops(h.apply(quote(MNQ, up(10))))) == 1
    assert h.apply(quote(MNQ, up(80))) == []


def test_a_new_position_after_a_close_starts_from_scratch() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    assert len(stops(h.apply(quote(MNQ, up(10))))) == 1  # placed; the order never shows up
    h.apply(flat(MNQ), quote(MNQ, 21000.0))
    h.apply(pos(MNQ, 1, "21000"))
    assert stops(h.apply(quote(MNQ, up(10)))) == [("place_stop", MNQ, Decimal("21000.25"))]


def test_management_carries_over_the_daily_reset_without_repeating_itself() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"), at=RESET - timedelta(minutes=5))
    assert len(stops(h.apply(quote(MNQ, up(20))))) == 1
    h.tick(to=RESET + timedelta(minutes=1))
    assert stops(h.apply(quote(MNQ, up(20)), quote(MNQ, up(18)))) == []
    assert stops(h.apply(quote(MNQ, up(21)))) == [("modify_stop", MNQ, Decimal("21002.75"))]


def test_it_never_closes_or_locks() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"))
    for ticks in (10, 30, -50, 60, -200):
        h.apply(quote(MNQ, up(ticks)))
    assert {a.kind for _, a in h.log} == {"modify_stop"}


def test_quiet_bands_give_the_same_decisions_as_evaluating_every_quote() -> None:
    rng = random.Random(12)
    for _ in range(20):
        fast, slow = harness(fast_path=True), harness(fast_path=False)
        price = 21000.0
        events: list[Any] = [pos(MNQ, 2, "21000"), stop_order("20990")]
        for step in range(120):
            price += rng.choice((-2, -1, -1, 0, 1, 1, 2)) * TICK
            bid = price - TICK * rng.choice((0, 1))
            events.append(quote(MNQ, price, bid=bid, ask=bid + TICK))
            if step == 60:
                events.append(stop_order("21001"))  # the trader moves the stop by hand
        for h in (fast, slow):
            h.apply(*events)
        assert stops(a for _, a in fast.log) == stops(a for _, a in slow.log)  # type: ignore[arg-type]


def band_of(h: EngineHarness, contract: str = MNQ) -> Any:
    """RULE-012's quiet band for the account's position in ``contract``, as the engine asks it."""
    engine = h.engine
    view = engine._view(engine.accounts[7], h.now, None)
    rule = engine.policy.rules_for(7).rules[0]  # type: ignore[union-attr]
    return rule.price_band(view, view.positions[contract])


def test_the_trailing_edge_is_inclusive_and_the_trigger_edges_are_not() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"), quote(MNQ, up(3)))
    assert band_of(h) == (None, Decimal("21002.50"))  # breakeven acts at the trigger itself
    h.apply(quote(MNQ, up(12)))  # breakeven: stop to entry + 1 tick
    assert band_of(h) == (None, Decimal("21005.00"))  # trailing activation: acts at the level too
    h.apply(quote(MNQ, up(20)))  # trailing: stop to best - 10 ticks = 21002.50
    # at 21005.00 again the target is 21002.50, no tighter: the edge itself is quiet
    assert band_of(h) == (None, Inclusive(Decimal("21005.00")))


def test_a_short_trailing_edge_is_inclusive_below() -> None:
    h = harness()
    h.apply(pos(MNQ, -2, "21000"), stop_order("21010", side=OrderSide.BUY), quote(MNQ, up(-20)))
    assert band_of(h) == (Inclusive(Decimal("20995.00")), None)


def evaluations_of(h: EngineHarness, *events: Any) -> tuple[list[Action], int]:
    """(decisions of ``events``, how many times the engine evaluated a quote for them)."""
    original = h.engine._evaluate_quote
    evaluated = 0

    def counting(*args: Any) -> None:
        nonlocal evaluated
        evaluated += 1
        original(*args)

    h.engine._evaluate_quote = counting  # type: ignore[method-assign]
    try:
        return h.apply(*events), evaluated
    finally:
        h.engine._evaluate_quote = original  # type: ignore[method-assign]


def test_a_quote_back_on_the_trailing_edge_wakes_nothing_and_one_tick_past_it_moves_the_stop() -> None:
    for fast_path in (True, False):
        h = harness(fast_path=fast_path)
        h.apply(pos(MNQ, 2, "21000"), stop_order("20990"), quote(MNQ, up(20)), quote(MNQ, up(18)))
        # back on the edge: the target is the stop already requested
        assert evaluations_of(h, quote(MNQ, up(20))) == ([], 0 if fast_path else 1)
        assert stops(h.apply(quote(MNQ, up(21)))) == [("modify_stop", MNQ, Decimal("21002.75"))]


# ---- describe and config --------------------------------------------------------------------------


def test_describe_mentions_the_levels() -> None:
    text = TradeManagement(TradeManagementConfig(enabled=True)).describe()
    assert "RULE-012" in text
    assert "+10 ticks -> entry +1 ticks" in text
    assert "trail 10 ticks behind the best price from +20 ticks" in text


def test_defaults_match_the_config_reference() -> None:
    config = TradeManagementConfig()
    assert config.enabled is False
    assert (config.breakeven.enabled, config.breakeven.trigger_ticks, config.breakeven.offset_ticks) == (
        True,
        10,
        1,
    )
    assert (config.trailing.enabled, config.trailing.activation_ticks, config.trailing.distance_ticks) == (
        True,
        20,
        10,
    )


def test_config_rejects_trailing_activation_below_the_breakeven_trigger() -> None:
    with pytest.raises(ValidationError, match=r"activation_ticks \(5\) must be >= breakeven.trigger_ticks"):
        TradeManagementConfig(enabled=True, trailing={"activation_ticks": 5})
    # Allowed when one of the two is off: they no longer interact.
    TradeManagementConfig(enabled=True, breakeven={"enabled": False}, trailing={"activation_ticks": 5})


def test_config_accepts_activation_equal_to_the_trigger() -> None:
    TradeManagementConfig(enabled=True, trailing={"activation_ticks": 10})


def test_config_rejects_an_offset_not_below_the_trigger() -> None:
    with pytest.raises(ValidationError, match="lower offset_ticks or raise trigger_ticks"):
        TradeManagementConfig(enabled=True, breakeven={"trigger_ticks": 4, "offset_ticks": 4})


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_config_rejects_bad_tick_counts_with_a_fix(bad: Any) -> None:
    with pytest.raises(ValidationError, match="positive whole number of ticks"):
        TradeManagementConfig(enabled=True, trailing={"distance_ticks": bad})


def test_config_rejects_a_negative_offset_with_a_fix() -> None:
    with pytest.raises(ValidationError, match="0 or more"):
        TradeManagementConfig(enabled=True, breakeven={"offset_ticks": -1})


def test_config_rejects_both_parts_off_while_enabled() -> None:
    with pytest.raises(ValidationError, match="enable one of them"):
        TradeManagementConfig(enabled=True, breakeven={"enabled": False}, trailing={"enabled": False})


def test_config_rejects_unknown_keys_inside_a_part() -> None:
    with pytest.raises(ValidationError, match="distance"):
        TradeManagementConfig(enabled=True, trailing={"distance": 10})


def test_status_field_of_a_cancelled_stop_makes_it_not_count() -> None:
    h = harness()
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"))
    h.apply(
        order(
            11,
            MNQ,
            type=OrderType.STOP,
            side=OrderSide.SELL,
            size=2,
            stop_price="20990",
            status=OrderStatus.CANCELLED,
        )
    )
    assert stops(h.apply(quote(MNQ, up(10)))) == [("place_stop", MNQ, Decimal("21000.25"))]


def test_stops_are_written_in_each_contracts_own_tick_precision_when_two_ticks_are_equal() -> None:
    # 0.25 and 0.250 are one value, written two ways: each stop is written on its own contract's tick
    table = ContractTable(
        {
            "MNQ": ContractSpec("MNQ", Decimal("0.25"), Decimal("0.5")),
            "ES": ContractSpec("ES", Decimal("0.250"), Decimal("12.5")),
        }
    )
    rule = TradeManagement(TradeManagementConfig(enabled=True))
    h = EngineHarness(rule, contracts=table)
    h.apply(pos(MNQ, 2, "21000"), stop_order("20990"), pos(ES, 2, "6000"))
    h.apply(stop_order("5990", order_id=12, contract=ES))
    moved = stops(h.apply(quote(MNQ, up(10)), quote(ES, up(10, entry=6000.0))))
    assert [(contract, str(price)) for _, contract, price in moved] == [
        (MNQ, "21000.25"),
        (ES, "6000.250"),
    ]
