"""The daemon against the simulated gateway: each breach caused as a trader would cause it (REST
orders, price moves), and the gateway's state afterwards is what the rules demand."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, running, working_orders, write_config
from notify_fakes import ChatApi
from sim_helpers import Api, run


def test_rule_003_daily_loss_flattens_locks_and_closes_a_new_position_opened_while_locked(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es, mnq = gw.contract_id("ES"), gw.contract_id("MNQ")
            gw.set_price(es, "6000.00")
            gw.set_price(mnq, "21000.00")
            rules = {"daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False}}
            config = write_config(tmp_path / "config", rules)
            async with running(gw, config, tmp_path / "data") as daemon:
                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=2)
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await eventually(lambda: positions(gw) == {mnq: 2, es: 1}, what="positions open")
                gw.set_price(es, "5985.00")  # -15 points on ES: -750 USD
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)
                await eventually(lambda: positions(gw) == {}, what="the account flattened")
                engine = daemon.persistent.engine  # type: ignore[union-attr]
                await eventually(lambda: engine.accounts[ACCOUNT].lockouts, what="the lockout")
                [lockout] = list(engine.accounts[ACCOUNT].lockouts)
                assert lockout.rule == "RULE-003"
                await trader.place(account=ACCOUNT, contract=mnq, size=1)  # a trade while locked
                await eventually(
                    lambda: positions(gw) == {} and requests_closed(gw) >= 2, what="the new position closed"
                )
                assert working_orders(gw) == []
                store = daemon.persistent.store  # type: ignore[union-attr]
                flatten = await eventually(
                    lambda: [
                        r for r in store.audit(ACCOUNT, rule="RULE-003") if r.kind == "flatten" and r.outcome
                    ],
                    what="the flatten's outcome in the audit trail",
                )
                assert flatten[0].outcome == "done: flat" and flatten[0].latency_ms > 0

    run(body, timeout=30)


def requests_closed(gw: object) -> int:
    state = gw.state()  # type: ignore[attr-defined]
    return sum(n for k, n in state["requests"].items() if "closeContract" in k)


def test_rule_001_an_over_size_position_is_reduced_to_the_limit(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            mnq = gw.contract_id("MNQ")
            gw.set_price(mnq, "21000.00")
            rules = {
                "max_contracts": {
                    "enabled": True,
                    "limit": 2,
                    "count_type": "gross",
                    "enforcement": "reduce_to_limit",
                }
            }
            config = write_config(tmp_path / "config", rules)
            async with running(gw, config, tmp_path / "data"):
                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=5)
                await eventually(lambda: positions(gw) == {mnq: 2}, what="reduced to 2")

    run(body, timeout=30)


def test_rule_004_a_position_is_closed_when_a_price_move_takes_its_loss_past_the_limit(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es = gw.contract_id("ES")
            gw.set_price(es, "6000.00")
            rules = {"daily_unrealized_loss": {"enabled": True, "limit": -300, "price_source": "last"}}
            config = write_config(tmp_path / "config", rules)
            async with running(gw, config, tmp_path / "data"):
                await trader.login()
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await eventually(lambda: positions(gw) == {es: 1}, what="position open")
                await asyncio.sleep(0.2)
                assert positions(gw) == {es: 1}  # no loss yet: nothing closed
                # The quote subscription follows the position event: push the move until it is seen.
                await eventually(
                    lambda: gw.set_price(es, "5990.00") and positions(gw) == {},
                    what="the losing position closed",
                )

    run(body, timeout=30)


def test_rule_008_a_position_without_a_stop_is_closed_after_the_grace_period(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            mnq, es = gw.contract_id("MNQ"), gw.contract_id("ES")
            gw.set_price(mnq, "21000.00")
            gw.set_price(es, "6000.00")
            rules = {"no_stop_loss_grace": {"enabled": True, "grace_period_seconds": 1}}
            config = write_config(tmp_path / "config", rules)
            async with running(gw, config, tmp_path / "data"):
                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=1)
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await trader.place(account=ACCOUNT, contract=es, type_=4, side=1, size=1, stopPrice=5990)
                await eventually(lambda: es in positions(gw) and mnq in positions(gw), what="positions open")
                await eventually(
                    lambda: positions(gw) == {es: 1}, timeout=5, what="the unprotected one closed"
                )
                await asyncio.sleep(0.5)
                assert positions(gw) == {es: 1}  # the protected one stays

    run(body, timeout=30)


def test_rule_011_a_position_in_a_blocked_symbol_is_closed(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            mnq = gw.contract_id("MNQ")
            gw.set_price(mnq, "21000.00")
            rules = {"symbol_blocks": {"enabled": True, "blocked_symbols": ["MNQ"]}}
            config = write_config(tmp_path / "config", rules)
            async with running(gw, config, tmp_path / "data"):
                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=1)
                await eventually(
                    lambda: requests_closed(gw) >= 1 and positions(gw) == {},
                    what="the blocked symbol's position closed",
                )

    run(body, timeout=30)


def test_rule_012_a_stop_is_placed_at_breakeven_then_trailed(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            mnq = gw.contract_id("MNQ")
            gw.set_price(mnq, "21000.00")
            rules = {
                "trade_management": {
                    "enabled": True,
                    "breakeven": {"enabled": True, "trigger_ticks": 8, "offset_ticks": 1},
                    "trailing": {"enabled": True, "activation_ticks": 40, "distance_ticks": 10},
                }
            }
            config = write_config(tmp_path / "config", rules)
            async with running(gw, config, tmp_path / "data"):
                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=1)  # fills at the ask, 21000.25
                await eventually(lambda: positions(gw) == {mnq: 1}, what="position open")

                def stops() -> list[float]:
                    return [o["stopPrice"] for o in working_orders(gw) if o["type"] == 4]

                await eventually(
                    lambda: gw.set_price(mnq, "21003.00") and stops() == [21000.5],
                    what="the breakeven stop placed at entry + 1 tick",
                )
                await eventually(
                    lambda: gw.set_price(mnq, "21015.00") and stops() == [21012.5],
                    what="the stop trailed 10 ticks behind the best price",
                )
                assert positions(gw) == {mnq: 1}  # trade management never closes

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
