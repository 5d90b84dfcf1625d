"""Commissions count with fees; a repeated trade counts once; the day's P&L is checked against the balance.

PROJECTX.md §2b: live trades carry ``commissions`` beside ``fees``, the balance moves by
``profitAndLoss - fees - commissions``, and a close is followed by the same trade again without P&L.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from risk_manager.broker.normalize import PayloadError, normalize_user
from risk_manager.config.models import GeneralConfig
from risk_manager.domain.actions import Action, Alert
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractTable
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.engine.snapshot import restore, snapshot
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig
from risk_manager.rules.daily_realized_profit import DailyRealizedProfit, DailyRealizedProfitConfig
from risk_manager.store.codec import decode, encode

from engine_helpers import MNQ, EngineHarness, account_event, kinds, trade

D = Decimal
RESET_AT = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 17:00 Chicago: the daily reset after T0
WIRE_TRADE: dict[str, Any] = {
    "id": 5001,
    "accountId": 7,
    "contractId": MNQ,
    "creationTimestamp": "2026-03-02T14:30:00.95+00:00",
    "price": 21000.25,
    "fees": 0.37,
    "side": 0,
    "size": 1,
    "voided": False,
    "orderId": 1001,
}


def loss_rule(**config: object) -> DailyRealizedLoss:
    cfg = DailyRealizedLossConfig.model_validate({"enabled": True, "limit": -500, **config})
    return DailyRealizedLoss(cfg)


def harness(*rules: Any, tolerance: str = "0.01") -> EngineHarness:
    """An engine with ``rules`` (default: RULE-003 on realized P&L) and a balance tolerance."""
    h = EngineHarness()
    policy = Policy.uniform(list(rules or (loss_rule(include_unrealized=False),)), (), D(tolerance))
    h.engine = Engine(policy, TradingCalendar(), ContractTable())
    return h


def balance_alerts(actions: list[Action]) -> list[Alert]:
    return [a for a in actions if isinstance(a, Alert) and a.rule == "BALANCE"]


# ---- the normalizer ---------------------------------------------------------------------------


@pytest.mark.parametrize("wire", [{"commissions": 0.25}, {"action": 0, "data": {"commissions": 0.25}}])
def test_commissions_are_read_from_bare_and_wrapped_trades(wire: dict[str, Any]) -> None:
    payload = {"action": 0, "data": WIRE_TRADE | wire["data"]} if "data" in wire else WIRE_TRADE | wire
    [event] = normalize_user("GatewayUserTrade", payload)
    assert event.commissions == D("0.25")


@pytest.mark.parametrize("payload", [WIRE_TRADE, WIRE_TRADE | {"commissions": None}])
def test_absent_and_null_commissions_alike_mean_none(payload: dict[str, Any]) -> None:
    [event] = normalize_user("GatewayUserTrade", payload)
    assert event.commissions == 0 and event.pnl is None  # profitAndLoss is absent here, too


def test_commissions_of_the_wrong_type_are_a_clear_error() -> None:
    with pytest.raises(PayloadError, match="'commissions' must be a number"):
        normalize_user("GatewayUserTrade", WIRE_TRADE | {"commissions": "a lot"})


def test_commissions_survive_the_journal_and_old_entries_read_as_none() -> None:
    event = trade(1, MNQ, "21000", pnl="10", fees="0.37", commissions="0.25")
    kind, _, payload = encode(event)
    assert decode(kind, payload) == event
    fields = orjson.loads(payload)
    del fields["commissions"]  # journaled by name before commissions existed
    assert decode(kind, orjson.dumps(fields)).commissions == 0
    # journaled by position (the encoding before field names), before commissions existed
    old = [1, 7, MNQ, "21000", "10", "0.37", 0, 1, False, 1, None]
    assert decode(kind, orjson.dumps(old)) == replace(event, commissions=Decimal(0))


# ---- the day's P&L ----------------------------------------------------------------------------


def test_commissions_count_with_fees_in_the_days_net_pnl() -> None:
    h = harness(loss_rule(include_unrealized=False, limit=-100))
    assert h.apply(trade(1, MNQ, "21000", pnl="-99", fees="0.37", commissions="0.25")) == []
    assert h.state.day.net_realized(True) == D("-99.62")
    actions = h.apply(trade(2, MNQ, "21000", pnl="0", fees="0.37", commissions="0.25"))
    assert ("RULE-003", "flatten") in kinds(actions)  # -99 - 0.74 - 0.50 = -100.24
    assert actions[0].reason == "day P&L -100.24 <= limit -100.00"


def test_without_include_fees_neither_fees_nor_commissions_count() -> None:
    h = harness(loss_rule(include_unrealized=False, limit=-100, include_fees=False))
    assert h.apply(trade(1, MNQ, "21000", pnl="-99.99", fees="5", commissions="5")) == []


def test_the_repeated_trade_after_a_close_is_not_counted_twice() -> None:
    h = harness()
    close = trade(1, MNQ, "21010", pnl="19.50", fees="0.37", commissions="0.25")
    repeat = trade(1, MNQ, "21000.25", fees="0.37", commissions="0.25")  # same id, no P&L
    h.apply(close, repeat, close)
    day = h.state.day
    assert (day.realized, day.fees, day.commissions, day.trade_count) == (D("19.50"), D("0.37"), D("0.25"), 1)


def test_commissions_and_the_opening_balance_survive_a_snapshot() -> None:
    h = harness()
    h.apply(account_event(balance="50000"), trade(1, MNQ, "21000", pnl="5", fees="0.37", commissions="0.25"))
    copy = harness()
    restore(copy.engine, orjson.loads(orjson.dumps(snapshot(h.engine))))
    assert copy.state.day.commissions == D("0.25") and copy.state.day.opening_balance == D("50000")


# ---- balance reconciliation -------------------------------------------------------------------


def test_a_balance_that_moves_by_pnl_minus_fees_and_commissions_raises_nothing() -> None:
    h = harness()
    h.apply(account_event(balance="50000"))
    actions = h.apply(
        trade(1, MNQ, "21010", pnl="19.50", fees="0.37", commissions="0.25"),
        account_event(balance="50018.88"),
        account_event(balance="50018.88"),  # the live gateway repeats account updates
    )
    assert balance_alerts(actions) == []


def test_a_balance_that_disagrees_raises_one_alert_naming_both_figures() -> None:
    h = harness()
    h.apply(account_event(balance="50000"))
    h.apply(trade(1, MNQ, "21010", pnl="19.50", fees="0.37", commissions="0.25"))
    first = balance_alerts(h.apply(account_event(balance="50019.50")))  # the costs were not taken off
    again = balance_alerts(h.apply(account_event(balance="50019.50")))
    assert len(first) == 1 and again == []
    assert "day net realized P&L 18.88" in first[0].message and "moved 19.50" in first[0].message
    assert dict(first[0].inputs)["difference"] == "0.62"


def test_the_alert_rearms_once_the_figures_agree_again() -> None:
    h = harness()
    h.apply(account_event(balance="50000"))
    assert len(balance_alerts(h.apply(account_event(balance="49990")))) == 1
    assert balance_alerts(h.apply(account_event(balance="50000"))) == []
    assert len(balance_alerts(h.apply(account_event(balance="49990")))) == 1


def test_a_difference_within_the_tolerance_is_not_news() -> None:
    h = harness(tolerance="1.00")
    h.apply(account_event(balance="50000"))
    assert balance_alerts(h.apply(account_event(balance="50001"))) == []
    assert len(balance_alerts(h.apply(account_event(balance="50001.01")))) == 1


def test_trades_counted_before_the_first_balance_of_the_day_are_already_in_it() -> None:
    h = harness()  # a daemon starting mid-day replays the day's trades, then reads the account
    h.apply(trade(1, MNQ, "21000", pnl="-100", fees="0.37", commissions="0.25"))
    assert balance_alerts(h.apply(account_event(balance="49899.38"))) == []
    assert h.state.day.opening_balance == D("50000")


def test_a_new_trading_day_starts_from_the_last_balance() -> None:
    h = harness()
    h.apply(
        account_event(balance="50000"), trade(1, MNQ, "21000", pnl="-100"), account_event(balance="49900")
    )
    h.tick(to=RESET_AT)
    assert h.state.day.opening_balance == D("49900")
    assert balance_alerts(h.apply(account_event(balance="49900"))) == []


def test_the_tolerance_is_configured_as_general_balance_tolerance() -> None:
    assert GeneralConfig().balance_tolerance == D("0.01")
    assert GeneralConfig.model_validate({"balance_tolerance": 2.5}).balance_tolerance == D("2.5")
    with pytest.raises(ValidationError, match="must be 0 or more"):
        GeneralConfig.model_validate({"balance_tolerance": -1})


# ---- pnl_source: balance ----------------------------------------------------------------------


def test_daily_loss_can_follow_the_balance_the_firm_uses() -> None:
    by_trades = harness(loss_rule(include_unrealized=False, limit=-100), tolerance="1000")
    by_balance = harness(
        loss_rule(include_unrealized=False, limit=-100, pnl_source="balance"), tolerance="1000"
    )
    for h in (by_trades, by_balance):
        h.apply(account_event(balance="50000"), trade(1, MNQ, "21000", pnl="-60", fees="0.37"))
    # The balance says more was lost than the trades show (e.g. a repeat with a new id elsewhere).
    assert kinds(by_trades.apply(account_event(balance="49890"))) == []
    actions = by_balance.apply(account_event(balance="49890"))
    assert ("RULE-003", "flatten") in kinds(actions)
    assert actions[0].reason == "day P&L -110.00 <= limit -100.00"
    assert dict(actions[0].inputs)["pnl_source"] == "balance"


def test_balance_source_without_include_fees_adds_the_costs_back() -> None:
    h = harness(loss_rule(include_unrealized=False, limit=-100, include_fees=False, pnl_source="balance"))
    h.apply(
        account_event(balance="50000"), trade(1, MNQ, "21000", pnl="-99.50", fees="0.37", commissions="0.25")
    )
    assert kinds(h.apply(account_event(balance="49899.88"))) == []  # -99.50 before costs: above the limit


def test_balance_source_falls_back_to_trades_until_a_balance_is_known() -> None:
    h = harness(loss_rule(include_unrealized=False, limit=-100, pnl_source="balance"))
    assert ("RULE-003", "flatten") in kinds(h.apply(trade(1, MNQ, "21000", pnl="-101")))


def test_daily_profit_can_follow_the_balance_too() -> None:
    cfg = DailyRealizedProfitConfig.model_validate({"enabled": True, "target": 100, "pnl_source": "balance"})
    h = harness(DailyRealizedProfit(cfg), tolerance="1000")
    h.apply(account_event(balance="50000"))
    assert ("RULE-013", "flatten") in kinds(h.apply(account_event(balance="50100")))
    assert "(from the balance)" in DailyRealizedProfit(cfg).describe()


def test_pnl_source_accepts_only_trades_or_balance() -> None:
    with pytest.raises(ValidationError, match="pnl_source"):
        DailyRealizedLossConfig.model_validate({"enabled": True, "limit": -500, "pnl_source": "equity"})
