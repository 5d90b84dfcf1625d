"""Paper broker: fills per order type at the simulated quotes, positions, P&L, fees, brackets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sim_helpers import CL, ES, MNQ, START

from risk_manager.domain.contracts import DEFAULT_SPECS
from risk_manager.sim.broker import Bracket, PaperBroker, UserEvent
from risk_manager.sim.clock import ManualClock
from risk_manager.sim.hours import MarketHours
from risk_manager.sim.market import MarketSimulator, build_contracts

BUY, SELL = 0, 1
LIMIT, MARKET, STOP_LIMIT, STOP, TRAILING, JOIN_BID = 1, 2, 3, 4, 5, 6
D = Decimal


@dataclass
class Desk:
    clock: ManualClock
    market: MarketSimulator
    broker: PaperBroker
    batches: list[list[UserEvent]] = field(default_factory=list)

    def quote(self, contract: str, last: str, bid: str | None = None, ask: str | None = None) -> None:
        self.market.set_price(
            contract, D(last), bid=None if bid is None else D(bid), ask=None if ask is None else D(ask)
        )

    def place(self, *args: Any, **kwargs: Any) -> int:
        outcome = self.broker.place_order(7, *args, **kwargs)
        assert outcome.ok, outcome
        assert outcome.order_id is not None
        return outcome.order_id

    def order(self, order_id: int) -> dict[str, Any]:
        return self.broker.orders[order_id].payload()

    def trades(self) -> list[dict[str, Any]]:
        return self.broker.search_trades(7, None, None)

    def positions(self) -> list[dict[str, Any]]:
        return self.broker.open_positions(7)

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return [(target, payload) for batch in self.batches for target, _, payload in batch]


def desk(always_open: bool = True, start: Any = START, live: bool = False) -> Desk:
    """A paper broker on a manual clock; bare event style unless ``live`` (test_live_behaviour.py
    covers the live-like one)."""
    clock = ManualClock(start)
    hours = MarketHours(always_open)
    market = MarketSimulator(build_contracts(hours.session_date(start)), clock, hours, seed=3)
    broker = PaperBroker(market, clock, live=live)
    broker.add_account(7, "SIM-7", D("50000"))
    result = Desk(clock, market, broker)
    broker.emit = result.batches.append
    market.on_update = broker.on_market
    return result


def test_market_orders_buy_at_the_ask_and_sell_at_the_bid() -> None:
    d = desk()
    d.quote(MNQ, "21000.00", bid="21000.00", ask="21000.25")
    buy = d.place(MNQ, MARKET, BUY, 1)
    sell = d.place(MNQ, MARKET, SELL, 1)
    assert d.order(buy)["filledPrice"] == 21000.25 and d.order(buy)["status"] == 2
    assert d.order(sell)["filledPrice"] == 21000.0 and d.order(sell)["fillVolume"] == 1


def test_a_fill_pushes_order_then_trade_then_position_then_account_in_one_batch() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    d.place(MNQ, MARKET, BUY, 2)
    assert [t for t, _, _ in d.batches[-1]] == [
        "GatewayUserOrder",
        "GatewayUserTrade",
        "GatewayUserPosition",
        "GatewayUserAccount",
    ]
    assert all(account == 7 for _, account, _ in d.batches[-1])


def test_limit_order_rests_then_fills_at_its_limit_when_the_market_crosses_even_through_a_gap() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    order = d.place(MNQ, LIMIT, BUY, 1, limit_price=D("20990.00"))
    assert d.order(order)["status"] == 1 and d.batches[-1][0][0] == "GatewayUserOrder"
    d.quote(MNQ, "20995.00")
    assert d.order(order)["status"] == 1
    d.quote(MNQ, "20980.00")  # gaps through the limit: a resting order trades at its own price
    assert d.order(order)["status"] == 2 and d.order(order)["filledPrice"] == 20990.0


def test_marketable_limit_order_fills_at_once_at_the_better_market_price() -> None:
    d = desk()
    d.quote(MNQ, "21000.00", bid="21000.00", ask="21000.25")
    order = d.place(MNQ, LIMIT, BUY, 1, limit_price=D("21005.00"))
    assert d.order(order)["filledPrice"] == 21000.25


def test_sell_stop_triggers_at_the_bid_and_fills_with_slippage_on_a_gap() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    stop = d.place(MNQ, STOP, SELL, 1, stop_price=D("20990.00"))
    d.quote(MNQ, "20990.25")
    assert d.order(stop)["status"] == 1
    d.quote(MNQ, "20985.00")  # gap below the stop: the stop becomes a market order at the bid
    assert d.order(stop)["status"] == 2 and d.order(stop)["filledPrice"] == 20985.0


def test_buy_stop_triggers_when_the_ask_reaches_it() -> None:
    d = desk()
    d.quote(ES, "6000.00")
    stop = d.place(ES, STOP, BUY, 1, stop_price=D("6002.00"))
    d.quote(ES, "6001.50", bid="6001.50", ask="6001.75")
    assert d.order(stop)["status"] == 1
    d.quote(ES, "6001.75", bid="6001.75", ask="6002.00")
    assert d.order(stop)["filledPrice"] == 6002.0


def test_stop_limit_becomes_a_limit_when_triggered_and_waits_if_the_market_is_past_it() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    order = d.place(MNQ, STOP_LIMIT, SELL, 1, stop_price=D("20990.00"), limit_price=D("20988.00"))
    d.quote(MNQ, "20985.00")  # stop hit, but the bid is below the sell limit: rests as a limit
    assert d.order(order)["status"] == 1 and d.order(order)["type"] == 3
    d.quote(MNQ, "20987.00")
    assert d.order(order)["status"] == 1
    d.quote(MNQ, "20989.00")  # bid back above the limit: fills at the limit
    assert d.order(order)["status"] == 2 and d.order(order)["filledPrice"] == 20988.0


def test_trailing_stop_follows_the_market_up_and_fills_when_it_turns() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    order = d.place(MNQ, TRAILING, SELL, 1, trail_price=D("10.00"))
    assert d.order(order)["stopPrice"] == 20990.0
    d.quote(MNQ, "21020.00")
    assert d.order(order)["stopPrice"] == 21010.0
    assert d.batches[-1][-1][0] == "GatewayUserOrder"  # the moved stop is pushed
    d.quote(MNQ, "21015.00")  # pullback smaller than the trail: no move down, no fill
    assert d.order(order)["stopPrice"] == 21010.0 and d.order(order)["status"] == 1
    d.quote(MNQ, "21010.00")
    assert d.order(order)["status"] == 2 and d.order(order)["filledPrice"] == 21010.0


def test_join_bid_rests_at_the_best_bid() -> None:
    d = desk()
    d.quote(MNQ, "21000.00", bid="20999.75", ask="21000.00")
    order = d.place(MNQ, JOIN_BID, BUY, 1)
    assert d.order(order)["limitPrice"] == 20999.75 and d.order(order)["status"] == 1


@pytest.mark.parametrize(
    ("contract", "side", "size", "entry", "exit", "pnl", "fee_per_side"),
    [
        # MNQ: 50 ticks x $0.50 x 2 = $50
        (MNQ, BUY, 2, "21000.00", "21012.50", D("50.00"), D("0.74")),
        # ES short: 18 ticks x $12.50 x 3 = $675
        (ES, SELL, 3, "6000.25", "5995.75", D("675.00"), D("4.20")),
        # CL: -18 ticks x $10 = -$180
        (CL, BUY, 1, "70.05", "69.87", D("-180.00"), D("1.52")),
    ],
)
def test_round_trip_pnl_matches_tick_math(
    contract: str, side: int, size: int, entry: str, exit: str, pnl: Decimal, fee_per_side: Decimal
) -> None:
    d = desk()
    spec = DEFAULT_SPECS[d.market.contracts[contract].root]
    tick = spec.tick_size
    # Quote so that the aggressor fills at exactly `entry`/`exit`: buys take the ask, sells the bid.
    if side == BUY:
        d.quote(contract, entry, bid=str(D(entry) - tick), ask=entry)
    else:
        d.quote(contract, entry, bid=entry, ask=str(D(entry) + tick))
    d.place(contract, MARKET, side, size)
    if side == BUY:
        d.quote(contract, exit, bid=exit, ask=str(D(exit) + tick))
    else:
        d.quote(contract, exit, bid=str(D(exit) - tick), ask=exit)
    assert d.broker.close_contract(7, contract).ok
    opening, closing = d.trades()
    ticks = (D(exit) - D(entry)) / tick * (1 if side == BUY else -1)
    assert ticks * spec.tick_value * size == pnl
    assert opening["profitAndLoss"] is None and D(str(closing["profitAndLoss"])) == pnl
    assert D(str(opening["fees"])) == fee_per_side == D(str(closing["fees"]))
    assert d.broker.accounts[7].balance == D("50000") + pnl - 2 * fee_per_side
    assert d.positions() == []


def test_averaging_in_gives_an_exact_average_price_and_exact_pnl() -> None:
    d = desk()
    d.quote(MNQ, "21000.00", bid="20999.75", ask="21000.00")
    d.place(MNQ, MARKET, BUY, 1)
    d.quote(MNQ, "21000.25", bid="21000.00", ask="21000.25")
    d.place(MNQ, MARKET, BUY, 2)
    [position] = d.positions()
    assert position["size"] == 2 + 1 and position["averagePrice"] == pytest.approx(21000.1666666667)
    d.quote(MNQ, "21010.00", bid="21010.00", ask="21010.25")
    d.place(MNQ, MARKET, SELL, 3)
    # (21010 - 21000) x 2 $/pt + (21010 - 21000.25) x 2 $/pt x 2 = 20 + 39 = 59
    assert d.trades()[-1]["profitAndLoss"] == 59.0


def test_partial_close_realizes_part_and_keeps_the_average() -> None:
    d = desk()
    d.quote(MNQ, "21000.00", bid="20999.75", ask="21000.00")
    d.place(MNQ, MARKET, BUY, 3)
    d.quote(MNQ, "21004.00", bid="21004.00", ask="21004.25")
    assert d.broker.partial_close(7, MNQ, 2).ok
    assert d.trades()[-1]["profitAndLoss"] == 16.0  # 4 pts x $2 x 2
    [position] = d.positions()
    assert (position["size"], position["averagePrice"], position["type"]) == (1, 21000.0, 1)


def test_a_fill_larger_than_the_position_reverses_it() -> None:
    d = desk()
    d.quote(MNQ, "21000.00", bid="20999.75", ask="21000.00")
    d.place(MNQ, MARKET, BUY, 2)
    d.quote(MNQ, "20995.00", bid="20995.00", ask="20995.25")
    d.place(MNQ, MARKET, SELL, 5)
    assert d.trades()[-1]["profitAndLoss"] == -20.0  # closes 2 at -5 pts x $2
    [position] = d.positions()
    assert (position["type"], position["size"], position["averagePrice"]) == (2, 3, 20995.0)


def test_a_position_going_flat_is_pushed_with_size_zero_and_the_next_one_gets_a_new_id() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    d.place(MNQ, MARKET, BUY, 1)
    opened = [p for t, p in d.events() if t == "GatewayUserPosition"][-1]
    assert d.broker.close_contract(7, MNQ).ok
    flat = [p for t, p in d.events() if t == "GatewayUserPosition"][-1]
    assert flat["id"] == opened["id"] and flat["size"] == 0 and flat["averagePrice"] == opened["averagePrice"]
    d.place(MNQ, MARKET, SELL, 1)
    reopened = [p for t, p in d.events() if t == "GatewayUserPosition"][-1]
    assert reopened["id"] != opened["id"] and reopened["type"] == 2


def test_brackets_attach_on_fill_and_one_leg_filling_cancels_the_other() -> None:
    d = desk()
    d.quote(MNQ, "21000.00", bid="20999.75", ask="21000.00")
    entry = d.place(MNQ, MARKET, BUY, 2, stop_loss=Bracket(-8, STOP), take_profit=Bracket(16, LIMIT))
    batch = [(t, p) for t, _, p in d.batches[-1]]
    assert [t for t, _ in batch[:4]] == [
        "GatewayUserOrder",
        "GatewayUserTrade",
        "GatewayUserPosition",
        "GatewayUserAccount",
    ]
    legs = [p for t, p in batch[4:]]
    assert [(o["type"], o["side"], o["size"], o["stopPrice"], o["limitPrice"]) for o in legs] == [
        (STOP, SELL, 2, 20998.0, None),
        (LIMIT, SELL, 2, None, 21004.0),
    ]
    assert d.order(entry)["status"] == 2
    d.quote(MNQ, "21004.00", bid="21004.00", ask="21004.25")
    stop, target = (d.order(leg["id"]) for leg in legs)
    assert target["status"] == 2 and target["filledPrice"] == 21004.0
    assert stop["status"] == 3  # cancelled by the OCO link
    assert d.positions() == []
    assert d.trades()[-1]["profitAndLoss"] == 16.0


def test_bracket_ticks_are_signed_relative_to_the_entry() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    wrong = d.broker.place_order(7, MNQ, MARKET, BUY, 1, stop_loss=Bracket(8, STOP))
    assert wrong.code == 2 and "negative" in (wrong.message or "")
    wrong = d.broker.place_order(7, MNQ, MARKET, SELL, 1, take_profit=Bracket(8, LIMIT))
    assert wrong.code == 2 and "negative" in (wrong.message or "")
    unsupported = d.broker.place_order(7, MNQ, MARKET, BUY, 1, take_profit=Bracket(8, STOP))
    assert unsupported.code == 2
    assert d.broker.orders == {}  # nothing was placed


def test_account_that_cannot_trade_is_refused_orders_but_may_still_close() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    d.place(MNQ, MARKET, BUY, 1)
    d.broker.set_account(7, can_trade=False)
    assert d.batches[-1] == [("GatewayUserAccount", 7, d.broker.accounts[7].payload())]
    assert d.broker.accounts[7].payload()["canTrade"] is False
    refused = d.broker.place_order(7, MNQ, MARKET, BUY, 1)
    assert refused.code == 4
    assert d.broker.close_contract(7, MNQ).ok


def test_outside_trading_hours_market_orders_and_closes_are_rejected() -> None:
    d = desk(always_open=False, start=START + timedelta(days=5))  # Saturday
    d.quote(MNQ, "21000.00")
    assert d.broker.place_order(7, MNQ, MARKET, BUY, 1).code == 5  # OutsideTradingHours
    d.broker.positions.clear()
    d.market.hours.always_open = True
    d.place(MNQ, MARKET, BUY, 1)
    d.market.hours.always_open = False
    closed = d.broker.close_contract(7, MNQ)
    assert closed.code == 5 and "outside trading hours" in (closed.message or "")


def test_modify_moves_a_stop_but_not_through_the_market() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    stop = d.place(MNQ, STOP, SELL, 1, stop_price=D("20990.00"))
    assert d.broker.modify_order(7, stop, stop_price=D("20995.00")).ok
    assert d.order(stop)["stopPrice"] == 20995.0
    bad = d.broker.modify_order(7, stop, stop_price=D("21001.00"))
    assert bad.code == 3 and d.order(stop)["stopPrice"] == 20995.0
    off_grid = d.broker.modify_order(7, stop, stop_price=D("20995.10"))
    assert off_grid.code == 3


def test_modifying_a_limit_into_the_market_fills_it() -> None:
    d = desk()
    d.quote(MNQ, "21000.00", bid="21000.00", ask="21000.25")
    order = d.place(MNQ, LIMIT, BUY, 1, limit_price=D("20990.00"))
    assert d.broker.modify_order(7, order, limit_price=D("21001.00")).ok
    assert d.order(order)["status"] == 2 and d.order(order)["filledPrice"] == 21000.25


def test_orders_of_another_contract_do_not_react_to_a_quote() -> None:
    d = desk()
    d.quote(MNQ, "21000.00")
    d.quote(ES, "6000.00")
    order = d.place(ES, LIMIT, BUY, 1, limit_price=D("5990.00"))
    d.quote(MNQ, "20000.00")
    assert d.order(order)["status"] == 1


def test_quotes_from_the_random_walk_fill_resting_orders() -> None:
    d = desk()
    book = d.market.book(MNQ)
    limit = book.contract.price(book.bid - 2)
    order = d.place(MNQ, LIMIT, BUY, 1, limit_price=limit)
    d.market.set_rate(MNQ, 400.0)
    for _ in range(200):
        d.clock.advance(0.05)
        d.market.step()
        if d.order(order)["status"] == 2:
            break
    assert d.order(order)["status"] == 2 and d.order(order)["filledPrice"] == float(limit)
