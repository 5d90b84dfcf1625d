"""The daemon under faults: each ends with the account in the state RULES.md demands."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from daemon_helpers import ACCOUNT, Guard, Guarded, eventually, live_gateway, positions, running, write_config
from projectx_helpers import FAST_HUB
from sim_helpers import Api, run

from risk_manager.broker.port import HubMessage

LOSS_RULES = {"daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False}}
UNREALIZED_RULES = {"daily_unrealized_loss": {"enabled": True, "limit": -300, "price_source": "last"}}


def closes(g: Guarded) -> int:
    return int(g.gw.state()["requests"].get("Position/closeContract", 0))


async def lose_on_es(g: Guarded) -> None:
    """Buy one ES, drop the price 15 points, sell: a 750 USD realized loss."""
    await g.trade("ES", 1)
    g.gw.set_price(g.contract("ES"), "5985.00")
    await g.trade("ES", -1)


def test_a_breach_while_the_user_hub_is_dropped_is_found_by_the_reconcile_and_flattened(guard: Guard) -> None:
    async def body() -> None:
        async with guard(LOSS_RULES) as g:
            mnq = g.contract("MNQ")
            await g.trade("MNQ", 2)
            await eventually(lambda: g.positions() == {mnq: 2})
            g.gw.fault({"hub": "user", "action": "drop"})
            await lose_on_es(g)
            await eventually(lambda: g.positions() == {}, what="flattened after the reconnect")
            assert g.lockouts() == ["RULE-003"]
            assert g.gw.state()["hubConnections"].get("user", 0) >= 2

    run(body, timeout=30)


def test_a_close_rate_limited_twice_is_retried_after_a_re_read_and_sent_exactly_three_times(
    guard: Guard,
) -> None:
    async def body() -> None:
        async with guard(UNREALIZED_RULES) as g:
            es = g.contract("ES")
            await g.trade("ES", 1)
            await eventually(lambda: g.positions() == {es: 1})
            g.gw.fault({"endpoint": "Position/closeContract", "status": 429, "count": 2})
            await eventually(
                lambda: g.gw.set_price(es, "5990.00") and g.positions() == {},
                timeout=10,
                what="closed despite the 429s",
            )
            assert closes(g) == 3

    run(body, timeout=30)


def test_a_close_that_timed_out_but_was_carried_out_is_not_sent_again(guard: Guard) -> None:
    async def body() -> None:
        async with guard(UNREALIZED_RULES, client={"request_timeout": 0.3}) as g:
            es = g.contract("ES")
            await g.trade("ES", 1)
            await eventually(lambda: g.positions() == {es: 1})
            g.gw.fault({"endpoint": "Position/closeContract", "delay_ms": 1000})
            await eventually(lambda: g.gw.set_price(es, "5990.00") and g.positions() == {})
            await asyncio.sleep(1.5)
            assert closes(g) == 1

    run(body, timeout=30)


def test_a_position_opened_while_the_daemon_was_down_under_a_lockout_is_closed_at_start(
    tmp_path: Path,
) -> None:
    """Two daemons, one after the other, on one gateway: the shared ``guard`` set-up does not fit."""

    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es, mnq = gw.contract_id("ES"), gw.contract_id("MNQ")
            gw.set_price(es, "6000.00")
            gw.set_price(mnq, "21000.00")
            config = write_config(tmp_path / "c", LOSS_RULES)
            async with running(gw, config, tmp_path / "d") as daemon:
                await trader.login()
                await trader.place(account=ACCOUNT, contract=es, size=1)
                gw.set_price(es, "5985.00")
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)  # -750 USD realized
                engine = daemon.persistent.engine  # type: ignore[union-attr]
                await eventually(lambda: engine.accounts[ACCOUNT].lockouts, what="locked")
            await trader.place(account=ACCOUNT, contract=mnq, size=1)  # the daemon is down
            await asyncio.sleep(0.2)
            assert positions(gw) == {mnq: 1}
            async with running(gw, config, tmp_path / "d") as daemon:
                assert positions(gw) == {} or await eventually(lambda: positions(gw) == {})
                assert any("restored lockout RULE-003" in line for line in daemon.startup_lines())

    run(body, timeout=30)


def test_expired_tokens_mid_session_do_not_stop_enforcement(guard: Guard) -> None:
    async def body() -> None:
        async with guard(UNREALIZED_RULES) as g:
            es = g.contract("ES")
            await g.trade("ES", 1)
            await eventually(lambda: g.positions() == {es: 1})
            g.gw.fault({"tokens": "expire"})
            await eventually(lambda: g.gw.set_price(es, "5990.00") and g.positions() == {}, timeout=10)

    run(body, timeout=30)


def test_a_message_that_cannot_be_read_is_skipped_and_the_daemon_goes_on_enforcing(guard: Guard) -> None:
    async def body() -> None:
        async with guard(UNREALIZED_RULES) as g:
            es = g.contract("ES")
            supervisor = g.daemon.supervisor
            assert supervisor is not None
            now = datetime.now(UTC)
            supervisor.handle_message(HubMessage("user", "GatewayUserPosition", [{"accountId": "x"}], now))
            supervisor.handle_message(HubMessage("market", "GatewayQuote", [es, {"lastPrice": "abc"}], now))
            assert supervisor.failed_messages == 2
            await g.trade("ES", 1)
            await eventually(lambda: g.positions() == {es: 1})
            await eventually(lambda: g.gw.set_price(es, "5990.00") and g.positions() == {})

    run(body, timeout=30)


def test_duplicated_user_events_count_a_loss_once(guard: Guard) -> None:
    async def body() -> None:
        rules = {"daily_realized_loss": {"enabled": True, "limit": -1000, "include_unrealized": False}}
        async with guard(rules) as g:
            g.gw.fault({"events": "duplicate", "count": 20})
            await lose_on_es(g)  # -750: under the 1000 limit, even if counted twice it is not
            engine = g.daemon.persistent.engine  # type: ignore[union-attr]
            await eventually(lambda: engine.accounts[ACCOUNT].day.trade_count == 2, what="two trades")
            await asyncio.sleep(0.3)
            day = engine.accounts[ACCOUNT].day
            sim_pnl = sum(Decimal(str(t["profitAndLoss"] or 0)) for t in g.gw.state()["trades"])
            assert sim_pnl < -700
            assert day.trade_count == 2 and day.realized == sim_pnl
            assert not engine.accounts[ACCOUNT].lockouts

    run(body, timeout=30)


def test_silent_quotes_raise_an_alert_and_positions_are_valued_from_rest_bars(
    guard: Guard, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        hub = replace(FAST_HUB, server_timeout=30.0)  # a frozen hub is not reconnected in this test
        async with guard(UNREALIZED_RULES, client={"hub": hub, "stale_quote_seconds": 0.5}) as g:
            es = g.contract("ES")
            await g.trade("ES", 1)
            await eventually(lambda: g.positions() == {es: 1})
            await asyncio.sleep(0.2)  # the quote subscription is in place
            g.gw.fault({"hub": "market", "action": "freeze"})
            g.gw.set_price(es, "5990.00")  # never reaches the daemon as a quote
            await eventually(lambda: g.positions() == {}, timeout=10, what="closed on the REST valuation")
            assert g.gw.state()["requests"].get("History/retrieveBars", 0) >= 1

    with caplog.at_level(logging.WARNING):
        run(body, timeout=30)
    assert f"no quote for {'CON.F.US.EP'}" in caplog.text


def test_a_5xx_on_close_that_did_not_close_is_followed_by_a_second_close_after_a_re_read(
    guard: Guard,
) -> None:
    async def body() -> None:
        async with guard(UNREALIZED_RULES) as g:
            es = g.contract("ES")
            await g.trade("ES", 1)
            await eventually(lambda: g.positions() == {es: 1})
            g.gw.fault({"endpoint": "Position/closeContract", "status": 503, "count": 1})
            await eventually(lambda: g.gw.set_price(es, "5990.00") and g.positions() == {}, timeout=10)
            assert closes(g) == 2
            assert g.gw.state()["requests"].get("Position/searchOpen", 0) >= 2  # re-read in between

    run(body, timeout=30)


def test_a_user_hub_gone_silent_without_closing_is_reconnected_and_the_missed_breach_enforced(
    guard: Guard,
) -> None:
    async def body() -> None:
        async with guard(LOSS_RULES) as g:
            mnq = g.contract("MNQ")
            await g.trade("MNQ", 1)
            await eventually(lambda: g.positions() == {mnq: 1})
            g.gw.fault({"hub": "user", "action": "freeze"})
            await lose_on_es(g)  # its events go nowhere
            await eventually(lambda: g.positions() == {}, timeout=10, what="flattened after the reconnect")

    run(body, timeout=30)


def test_a_flatten_the_gateway_kept_refusing_is_decided_again_later_and_the_account_ends_flat(
    guard: Guard,
) -> None:
    async def body() -> None:
        async with guard(LOSS_RULES, shifted_clock=True) as g:
            assert g.clock is not None
            mnq = g.contract("MNQ")
            await g.trade("MNQ", 2)
            await eventually(lambda: g.positions() == {mnq: 2})
            g.gw.fault({"endpoint": "Position/closeContract", "status": 503, "count": 1000})
            await lose_on_es(g)
            first = await g.audited("RULE-003", "flatten")
            assert first.outcome.startswith("failed") and g.positions() == {mnq: 2}
            assert g.lockouts() == ["RULE-003"]
            g.gw.fault({"clear": True})  # the gateway recovers; the lock must still be made to hold
            g.clock.jump_to(g.clock.now() + timedelta(seconds=31))
            await eventually(lambda: g.positions() == {}, what="flat after the engine's retry")
            retry = await eventually(lambda: g.enforced("RULE-003", "flatten")[1:],
                                     what="the retry's outcome")
            assert retry[0].reason.startswith("retry 1: the flatten decided by RULE-003 did not take effect")
            assert retry[0].outcome == "done: flat"

    run(body, timeout=30)
