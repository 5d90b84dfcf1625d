"""The simulator's live-like feed, normalized and applied to the engine: the day's P&L and the balance.

Whether the live gateway's repeated trade after a close keeps the closing trade's id is unknown
(PROJECTX.md §2b). With the same id, deduplication keeps the day's P&L equal to the balance change;
with a new id the repeat's fees and commissions would be counted twice, and the balance check says so
(one alert naming both figures), while ``pnl_source: balance`` keeps the daily limit on the right number.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sim_helpers import MNQ, START, Api, gateway, run, user_hub

from risk_manager.broker.normalize import normalize_message
from risk_manager.domain.actions import Action, Alert
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractTable
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig


async def trade_round_trip(repeat_new_id: bool) -> list[dict[str, Any]]:
    """One MNQ round trip on the live-like simulator: every user-hub message, in order."""
    async with gateway(repeat_new_id=repeat_new_id) as gw, Api(gw) as api:
        hub = await user_hub(gw, await api.login())
        gw.set_account(7, can_trade=True)  # the day's first balance
        gw.set_price(MNQ, 21000)
        await api.place(size=2)
        gw.set_price(MNQ, 20990)
        await api.call("Position/closeContract", {"accountId": 7, "contractId": MNQ})
        return [m for m in await hub.drain() if m.get("type") == 1]


def engine_after(messages: list[dict[str, Any]], pnl_source: str) -> tuple[Engine, list[Action]]:
    config = {"enabled": True, "limit": -44, "include_unrealized": False, "pnl_source": pnl_source}
    rule = DailyRealizedLoss(DailyRealizedLossConfig.model_validate(config))
    engine = Engine(Policy.uniform([rule], ()), TradingCalendar(), ContractTable())
    actions: list[Action] = []
    for message in messages:
        for event in normalize_message("user", message["target"], message["arguments"]):
            actions.extend(engine.apply(event, START))
    return engine, actions


def balance_alerts(actions: list[Action]) -> list[Alert]:
    return [a for a in actions if isinstance(a, Alert) and a.rule == "BALANCE"]


def balances(messages: list[dict[str, Any]]) -> list[Decimal]:
    return [
        Decimal(str(m["arguments"][0]["data"]["balance"]))
        for m in messages
        if m["target"] == "GatewayUserAccount"
    ]


def test_a_repeat_with_the_same_id_is_counted_once_and_the_pnl_equals_the_balance_change() -> None:
    messages = run(lambda: trade_round_trip(repeat_new_id=False))
    engine, actions = engine_after(messages, "trades")
    assert balance_alerts(actions) == []
    money = balances(messages)
    day = engine.accounts[7].day
    assert day.net_realized(True) == money[-1] - money[0] == Decimal("-43.48")  # -41 - 2 x (0.74 + 0.50)
    assert [a.rule for a in actions if a.kind == "flatten"] == []  # -43.48 is above the -44 limit


def test_a_repeat_with_a_new_id_is_caught_by_the_balance_check_and_balance_source_stays_right() -> None:
    messages = run(lambda: trade_round_trip(repeat_new_id=True))
    trade_ids = [m["arguments"][0]["data"]["id"] for m in messages if m["target"] == "GatewayUserTrade"]
    assert len(set(trade_ids)) == 3  # entry, close, and the repeat under its own id
    _, actions = engine_after(messages, "trades")
    [alert] = balance_alerts(actions)
    assert "day net realized P&L -44.72" in alert.message and "moved -43.48" in alert.message
    assert [a.rule for a in actions if a.kind == "flatten"] == ["RULE-003"]  # tripped by the double count
    _, by_balance = engine_after(messages, "balance")
    assert [a.rule for a in by_balance if a.kind == "flatten"] == []  # the balance says -43.48
