"""The daemon against the simulated gateway, one rule at a time: each breach caused as a trader
would cause it (REST orders, price moves, account changes), and what the gateway shows afterwards is
what RULES.md demands; every enforcement leaves its outcome in the audit trail."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from daemon_helpers import ACCOUNT, Guard, Guarded, eventually, live_gateway, running, write_config
from notify_fakes import ChatApi
from projectx_helpers import FAST_HUB
from sim_helpers import Api, run


def closes_sent(g: Guarded) -> int:
    return sum(n for k, n in g.gw.state()["requests"].items() if "closeContract" in k)


async def lose_on_es(g: Guarded, points: str = "15") -> None:
    """Buy one ES at 6000.25 and sell it after the market fell ``points``: a realized loss."""
    await g.trade("ES", 1)
    await eventually(lambda: g.positions().get(g.contract("ES")) == 1, what="the ES position open")
    price = f"{6000 - int(points)}.00"
    g.gw.set_price(g.contract("ES"), price)
    await g.trade("ES", -1)


def test_rule_001_an_over_size_position_is_reduced_to_the_limit(guard: Guard) -> None:
    async def body() -> None:
        rules = {"max_contracts": {"enabled": True, "limit": 2, "count_type": "gross",
                                   "enforcement": "reduce_to_limit"}}
        async with guard(rules) as g:
            await g.trade("MNQ", 5)
            await eventually(lambda: g.positions() == {g.contract("MNQ"): 2}, what="reduced to 2")
            assert (await g.audited("RULE-001", "close_position")).outcome == "done: reduced to 2"

    run(body, timeout=30)


def test_rule_002_an_instrument_over_its_own_limit_is_reduced_and_the_others_are_left_alone(
    guard: Guard,
) -> None:
    async def body() -> None:
        rules = {"max_contracts_per_instrument": {"enabled": True, "default_limit": 3,
                                                  "instrument_limits": {"MNQ": 2},
                                                  "enforcement": "reduce_to_limit"}}
        async with guard(rules) as g:
            mnq, es = g.contract("MNQ"), g.contract("ES")
            await g.trade("ES", 3)  # at the default limit: allowed
            await g.trade("MNQ", 4)  # 2 over MNQ's own limit
            await eventually(lambda: g.positions() == {mnq: 2, es: 3}, what="MNQ reduced to 2")
            row = await g.audited("RULE-002", "close_position")
            assert row.outcome == "done: reduced to 2" and row.latency_ms is not None
            await asyncio.sleep(0.3)
            assert g.positions() == {mnq: 2, es: 3}  # no second reduce, ES untouched

    run(body, timeout=30)


def test_rule_003_daily_loss_flattens_locks_and_closes_a_new_position_opened_while_locked(
    guard: Guard,
) -> None:
    async def body() -> None:
        rules = {"daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False}}
        async with guard(rules) as g:
            mnq = g.contract("MNQ")
            await g.trade("MNQ", 2)
            await lose_on_es(g)  # -15 points on ES: -750 USD
            await eventually(lambda: g.positions() == {}, what="the account flattened")
            await eventually(lambda: g.lockouts() == ["RULE-003"], what="the lockout")
            await g.trade("MNQ", 1)  # a trade while locked
            await eventually(lambda: g.positions() == {} and closes_sent(g) >= 2,
                             what="the new position closed")
            assert g.working_orders() == []
            flatten = await g.audited("RULE-003", "flatten")
            assert flatten.outcome == "done: flat" and flatten.latency_ms is not None
            assert flatten.latency_ms > 0
            assert mnq not in g.positions()

    run(body, timeout=30)


def test_rule_004_a_position_is_closed_when_a_price_move_takes_its_loss_past_the_limit(
    guard: Guard,
) -> None:
    async def body() -> None:
        rules = {"daily_unrealized_loss": {"enabled": True, "limit": -300, "price_source": "last"}}
        async with guard(rules) as g:
            es = g.contract("ES")
            await g.trade("ES", 1)
            await eventually(lambda: g.positions() == {es: 1}, what="position open")
            await asyncio.sleep(0.2)
            assert g.positions() == {es: 1}  # no loss yet: nothing closed
            # The quote subscription follows the position event: push the move until it is seen.
            await eventually(lambda: g.gw.set_price(es, "5990.00") and g.positions() == {},
                             what="the losing position closed")
            assert (await g.audited("RULE-004", "close_position")).outcome == "done: closed"

    run(body, timeout=30)


def test_rule_005_a_position_whose_profit_reaches_the_target_is_closed_and_the_other_kept(
    guard: Guard,
) -> None:
    async def body() -> None:
        rules = {"max_unrealized_profit": {"enabled": True, "target": 200, "price_source": "last"}}
        async with guard(rules) as g:
            es, mnq = g.contract("ES"), g.contract("MNQ")
            await g.trade("ES", 1)  # fills at 6000.25
            await g.trade("MNQ", 1)
            await eventually(lambda: g.positions() == {es: 1, mnq: 1}, what="positions open")
            await asyncio.sleep(0.2)
            assert g.positions() == {es: 1, mnq: 1}  # no profit yet
            # +9.75 points on ES: +487.50 USD, past the 200 target (MNQ stays flat in price)
            await eventually(lambda: g.gw.set_price(es, "6010.00") and es not in g.positions(),
                             what="the winning position closed")
            assert g.positions() == {mnq: 1}
            assert (await g.audited("RULE-005", "close_position")).outcome == "done: closed"
            assert g.lockouts() == []  # take profit, no lockout

    run(body, timeout=30)


def test_rule_006_too_many_executions_in_a_minute_lock_the_account_and_cancel_its_orders(
    guard: Guard,
) -> None:
    async def body() -> None:
        rules = {"trade_frequency_limit": {"enabled": True, "per_minute": 2, "per_hour": 100,
                                           "per_session": 500, "cooldowns": {"per_minute": "60s"},
                                           "close_positions": False}}
        async with guard(rules) as g:
            mnq = g.contract("MNQ")
            resting = await g.rest_limit("MNQ", "20900.00")
            for _ in range(3):  # the third execution in the minute is one too many
                await g.trade("MNQ", 1)
            await eventually(lambda: g.lockouts() == ["RULE-006"], what="the cooldown lockout")
            await eventually(lambda: g.working_orders() == [], what="the resting order cancelled")
            row = await g.audited("RULE-006", "cancel_orders")
            assert row.outcome == "done: cancelled 1"
            assert resting not in [o["id"] for o in g.working_orders()]
            # close_positions: false keeps the position the triggering fill made
            await asyncio.sleep(0.3)
            assert g.positions() == {mnq: 3}
            [lockout] = list(g.daemon.persistent.engine.accounts[ACCOUNT].lockouts)  # type: ignore[union-attr]
            assert lockout.until is not None
            assert timedelta(seconds=55) < lockout.until - datetime.now(UTC) <= timedelta(seconds=60)

    run(body, timeout=30)


def test_rule_007_a_losing_trade_locks_the_account_for_its_tier_and_flattens_it(guard: Guard) -> None:
    async def body() -> None:
        rules = {"cooldown_after_loss": {"enabled": True, "close_positions": True,
                                         "tiers": [{"loss": -100, "cooldown": "5m"},
                                                   {"loss": -600, "cooldown": "15m"}]}}
        async with guard(rules) as g:
            mnq = g.contract("MNQ")
            await g.trade("MNQ", 1)
            await eventually(lambda: g.positions() == {mnq: 1}, what="MNQ open")
            await lose_on_es(g, points="5")  # -5.25 points on ES: -262.50 USD, the 5-minute tier
            await eventually(lambda: g.lockouts() == ["RULE-007"], what="the cooldown lockout")
            await eventually(lambda: g.positions() == {}, what="the account flattened")
            assert (await g.audited("RULE-007", "flatten")).outcome == "done: flat"
            [lockout] = list(g.daemon.persistent.engine.accounts[ACCOUNT].lockouts)  # type: ignore[union-attr]
            assert lockout.until is not None
            assert timedelta(minutes=4) < lockout.until - datetime.now(UTC) <= timedelta(minutes=5)

    run(body, timeout=30)


def _session_hours_later() -> dict[str, Any]:
    """A trading session that starts two hours from now: now is outside it."""
    start = datetime.now(UTC) + timedelta(hours=2)
    end = start + timedelta(hours=1)
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return {"session_hours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
                              "timezone": "UTC", "days": every_day}}


def test_rule_009_a_position_opened_outside_the_session_is_closed_and_the_account_locked(
    guard: Guard,
) -> None:
    async def body() -> None:
        rules = {"session_block_outside": {"enabled": True, "close_at_session_end": True}}
        async with guard(rules, timers=_session_hours_later()) as g:
            resting = await g.rest_limit("MNQ", "20900.00")
            await g.trade("ES", 1)  # the gateway's market is open; the configured session is not
            await eventually(lambda: g.lockouts() == ["RULE-009"], what="the session lockout")
            await eventually(lambda: g.positions() == {} and g.working_orders() == [],
                             what="the position closed and the order cancelled")
            assert resting not in [o["id"] for o in g.working_orders()]
            rows = [r for r in g.store.audit(ACCOUNT, rule="RULE-009") if r.outcome]
            assert {r.kind for r in rows} & {"close_position", "flatten"}
            assert all(r.outcome.startswith("done") for r in rows if r.kind != "alert")  # type: ignore[union-attr]

    run(body, timeout=30)


def test_rule_009_a_position_held_at_the_session_end_is_flattened_and_locked_until_the_next_start(
    guard: Guard,
) -> None:
    async def body() -> None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        start, end = now - timedelta(hours=1), now + timedelta(minutes=2)  # now is inside the session
        every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        timers = {"session_hours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
                                    "timezone": "UTC", "days": every_day}}
        rules = {"session_block_outside": {"enabled": True, "close_at_session_end": True}}
        async with guard(rules, timers=timers, shifted_clock=True) as g:
            es = g.contract("ES")
            await g.trade("ES", 1)
            resting = await g.rest_limit("MNQ", "20900.00")
            await eventually(lambda: g.positions() == {es: 1} and len(g.working_orders()) == 1,
                             what="a position and a working order inside the session")
            await asyncio.sleep(0.3)
            assert g.positions() == {es: 1} and g.lockouts() == []  # inside the session: left alone
            assert g.clock is not None
            g.clock.jump_to(end + timedelta(milliseconds=200))  # the session ends with the position open
            await eventually(lambda: g.lockouts() == ["RULE-009"], what="the session-end lockout")
            await eventually(lambda: g.positions() == {} and g.working_orders() == [],
                             what="flat with no working order")
            assert resting not in [o["id"] for o in g.working_orders()]
            assert (await g.audited("RULE-009", "flatten")).outcome == "done: flat"
            [lockout] = list(g.daemon.persistent.engine.accounts[ACCOUNT].lockouts)  # type: ignore[union-attr]
            assert lockout.until == start + timedelta(days=1)  # the next session start
            await g.trade("MNQ", 1)  # a trade while locked is closed
            await eventually(lambda: g.positions() == {} and closes_sent(g) >= 2,
                             what="the position opened while locked closed")

    run(body, timeout=30)


def test_rule_010_can_trade_false_flattens_and_locks_until_can_trade_returns(guard: Guard) -> None:
    async def body() -> None:
        async with guard({"auth_loss_guard": {"enabled": True}}) as g:
            mnq = g.contract("MNQ")
            await g.trade("MNQ", 2)
            await g.rest_limit("MNQ", "20900.00")
            await eventually(lambda: g.positions() == {mnq: 2} and len(g.working_orders()) == 1,
                             what="a position and a working order")
            g.gw.set_account(ACCOUNT, can_trade=False)  # the gateway pushes the account update
            await eventually(lambda: g.lockouts() == ["RULE-010"], what="the auth-loss lockout")
            await eventually(lambda: g.positions() == {} and g.working_orders() == [],
                             what="flat with no working order")
            assert (await g.audited("RULE-010", "flatten")).outcome == "done: flat"
            g.gw.set_account(ACCOUNT, can_trade=True)
            await eventually(lambda: g.lockouts() == [], what="unlocked when canTrade returns")

    run(body, timeout=30)


def test_rule_013_the_daily_profit_target_flattens_and_locks_until_the_reset(guard: Guard) -> None:
    async def body() -> None:
        rules = {"daily_realized_profit": {"enabled": True, "target": 500, "include_unrealized": False,
                                           "message": "Target reached - see you tomorrow"}}
        async with guard(rules) as g:
            es, mnq = g.contract("ES"), g.contract("MNQ")
            await g.trade("MNQ", 1)
            await g.trade("ES", 1)  # at 6000.25
            await eventually(lambda: g.positions() == {es: 1, mnq: 1}, what="positions open")
            g.gw.set_price(es, "6015.00")
            await g.trade("ES", -1)  # +14.75 points: +737.50 USD realized
            await eventually(lambda: g.lockouts() == ["RULE-013"], what="the profit lockout")
            await eventually(lambda: g.positions() == {}, what="the account flattened")
            assert (await g.audited("RULE-013", "flatten")).outcome == "done: flat"
            engine = g.daemon.persistent.engine  # type: ignore[union-attr]
            [lockout] = list(engine.accounts[ACCOUNT].lockouts)
            assert "Target reached" in lockout.reason
            assert lockout.until == engine.accounts[ACCOUNT].day.end  # the next daily reset

    run(body, timeout=30)


def test_rule_008_a_position_without_a_stop_is_closed_after_the_grace_period(guard: Guard) -> None:
    async def body() -> None:
        async with guard({"no_stop_loss_grace": {"enabled": True, "grace_period_seconds": 1}}) as g:
            mnq, es = g.contract("MNQ"), g.contract("ES")
            await g.trade("MNQ", 1)
            await g.trade("ES", 1)
            await g.trader.place(account=ACCOUNT, contract=es, type_=4, side=1, size=1, stopPrice=5990)
            await eventually(lambda: es in g.positions() and mnq in g.positions(), what="positions open")
            await eventually(lambda: g.positions() == {es: 1}, what="the unprotected one closed")
            await asyncio.sleep(0.5)
            assert g.positions() == {es: 1}  # the protected one stays
            assert (await g.audited("RULE-008", "close_position")).outcome == "done: closed"

    run(body, timeout=30)


def test_rule_011_a_position_in_a_blocked_symbol_is_closed(guard: Guard) -> None:
    async def body() -> None:
        async with guard({"symbol_blocks": {"enabled": True, "blocked_symbols": ["MNQ"]}}) as g:
            await g.trade("MNQ", 1)
            await eventually(lambda: closes_sent(g) >= 1 and g.positions() == {},
                             what="the blocked symbol's position closed")

    run(body, timeout=30)


def test_rule_012_a_stop_is_placed_at_breakeven_then_trailed(guard: Guard) -> None:
    async def body() -> None:
        rules = {"trade_management": {"enabled": True,
                                      "breakeven": {"enabled": True, "trigger_ticks": 8, "offset_ticks": 1},
                                      "trailing": {"enabled": True, "activation_ticks": 40,
                                                   "distance_ticks": 10}}}
        async with guard(rules) as g:
            mnq = g.contract("MNQ")
            await g.trade("MNQ", 1)  # fills at the ask, 21000.25
            await eventually(lambda: g.positions() == {mnq: 1}, what="position open")

            def stops() -> list[float]:
                return [o["stopPrice"] for o in g.working_orders() if o["type"] == 4]

            await eventually(lambda: g.gw.set_price(mnq, "21003.00") and stops() == [21000.5],
                             what="the breakeven stop placed at entry + 1 tick")
            await eventually(lambda: g.gw.set_price(mnq, "21015.00") and stops() == [21012.5],
                             what="the stop trailed 10 ticks behind the best price")
            assert g.positions() == {mnq: 1}  # trade management never closes
            assert (await g.audited("RULE-012", "place_stop")).outcome.startswith("done")  # type: ignore[union-attr]

    run(body, timeout=30)


def test_a_lockout_and_the_daemons_start_and_stop_are_notified_on_the_configured_channel(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader, ChatApi() as chat:
            es = gw.contract_id("ES")
            gw.set_price(es, "6000.00")
            rules = {"daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False}}
            general = {"notifications": {"discord_webhook": chat.discord_url}}
            config = write_config(tmp_path / "config", rules, general=general)
            async with running(gw, config, tmp_path / "data"):
                await trader.login()
                await trader.place(account=ACCOUNT, contract=es, size=1)
                gw.set_price(es, "5985.00")
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)
                await eventually(
                    lambda: "RULE-003" in orjson.dumps(chat.delivered("discord")).decode(),
                    timeout=10,
                    what="the lockout notified",
                )
            text = orjson.dumps(chat.delivered("discord")).decode().lower()
            assert "start" in text and "stop" in text

    run(body, timeout=30)


def test_rule_012_a_stop_cancelled_behind_the_daemons_back_is_forgotten_not_moved_again(
    guard: Guard,
) -> None:
    """The stop is cancelled at the gateway while its cancel event is lost (the user hub frozen, as
    when a flatten's cancel races the trailing quotes): the first move gets errorCode 3, the enforcer
    reads the orders, forgets the stop and tells the engine (the cancel event it missed), so later
    quotes decide no move of it and nothing is sent again."""

    async def body() -> None:
        rules = {"trade_management": {"enabled": True,
                                      "breakeven": {"enabled": True, "trigger_ticks": 8, "offset_ticks": 1},
                                      "trailing": {"enabled": True, "activation_ticks": 40,
                                                   "distance_ticks": 10}}}
        patient = replace(FAST_HUB, server_timeout=30.0)  # no reconnect (and reconcile) while frozen
        async with guard(rules, client={"hub": patient}) as g:
            mnq = g.contract("MNQ")
            await g.trade("MNQ", 1)  # fills at 21000.25
            await eventually(lambda: g.positions() == {mnq: 1}, what="position open")
            stops = await eventually(
                lambda: g.gw.set_price(mnq, "21003.00") and [o for o in g.working_orders() if o["type"] == 4],
                what="the breakeven stop placed",
            )
            g.gw.fault({"hub": "user", "action": "freeze"})  # the cancel event never reaches the daemon
            assert (await g.trader.call("Order/cancel", {"accountId": ACCOUNT, "orderId": stops[0]["id"]}))[
                "success"
            ]
            g.gw.set_price(mnq, "21015.00")  # trailing: the engine moves the stop it still believes in
            first = await eventually(lambda: g.enforced("RULE-012", "modify_stop"), what="the first move")
            assert first[0].outcome.startswith("skipped: the stop no longer exists")  # type: ignore[union-attr]
            engine = g.daemon.persistent.engine  # type: ignore[union-attr]
            assert stops[0]["id"] not in engine.accounts[ACCOUNT].working_orders  # told as by the event
            for price in ("21020.00", "21025.00"):
                g.gw.set_price(mnq, price)
            await asyncio.sleep(0.5)
            # the engine knows the stop is gone: no later move of it is decided, none is sent
            assert len(g.enforced("RULE-012", "modify_stop")) == 1
            assert g.gw.state()["requests"].get("Order/modify", 0) == 1
            g.gw.fault({"clear": True})

    run(body, timeout=30)


def test_rule_008_a_stop_found_gone_by_a_refused_move_leaves_the_position_unprotected_and_closed(
    guard: Guard,
) -> None:
    """The trader's stop is cancelled at the gateway while its cancel event is lost (the user hub
    frozen): RULE-012's move gets errorCode 3, the enforcer reads the orders and finds it gone, and
    the engine is told as the gateway's event would have told it -- the position has no stop, so
    RULE-008 closes it (its grace ran out while the stop still counted)."""

    async def body() -> None:
        rules = {"no_stop_loss_grace": {"enabled": True, "grace_period_seconds": 1},
                 "trade_management": {"enabled": True,
                                      "breakeven": {"enabled": True, "trigger_ticks": 8, "offset_ticks": 1}}}
        patient = replace(FAST_HUB, server_timeout=30.0)  # no reconnect (and reconcile) while frozen
        async with guard(rules, client={"hub": patient}) as g:
            mnq = g.contract("MNQ")
            await g.trade("MNQ", 1)  # fills at 21000.25
            stop = await g.trader.place(account=ACCOUNT, contract=mnq, type_=4, side=1, size=1,
                                        stopPrice=20990)
            await eventually(lambda: g.positions() == {mnq: 1} and len(g.working_orders()) == 1,
                             what="a position with its stop")
            engine = g.daemon.persistent.engine  # type: ignore[union-attr]
            await eventually(lambda: stop["orderId"] in engine.accounts[ACCOUNT].working_orders,
                             what="the stop known to the engine")
            await asyncio.sleep(1.3)  # past the grace: the stop protects the position
            assert g.positions() == {mnq: 1}
            g.gw.fault({"hub": "user", "action": "freeze"})  # the cancel event never reaches the daemon
            cancel = {"accountId": ACCOUNT, "orderId": stop["orderId"]}
            assert (await g.trader.call("Order/cancel", cancel))["success"]
            g.gw.set_price(mnq, "21003.00")  # breakeven: the engine moves the stop it still believes in
            moved = await eventually(lambda: g.enforced("RULE-012", "modify_stop"), what="the refused move")
            assert moved[0].outcome.startswith("skipped: the stop no longer exists")  # type: ignore[union-attr]
            assert stop["orderId"] not in engine.accounts[ACCOUNT].working_orders
            await eventually(lambda: g.positions() == {}, what="the unprotected position closed")
            assert (await g.audited("RULE-008", "close_position")).outcome == "done: closed"
            g.gw.fault({"clear": True})

    run(body, timeout=30)
