"""The daemon against the simulated gateway: each breach caused as a trader would cause it (REST
orders, price moves), and the gateway's state afterwards is what the rules demand."""

from __future__ import annotations

from pathlib import Path

from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, running, working_orders, write_config
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
                await eventually(lambda: positions(gw) == {} and requests_closed(gw) >= 2,
                                 what="the new position closed")
                assert working_orders(gw) == []

    run(body, timeout=30)


def requests_closed(gw: object) -> int:
    state = gw.state()  # type: ignore[attr-defined]
    return sum(n for k, n in state["requests"].items() if "closeContract" in k)


def test_rule_001_an_over_size_position_is_reduced_to_the_limit(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            mnq = gw.contract_id("MNQ")
            gw.set_price(mnq, "21000.00")
            rules = {"max_contracts": {"enabled": True, "limit": 2, "count_type": "gross",
                                       "enforcement": "reduce_to_limit"}}
            config = write_config(tmp_path / "config", rules)
            async with running(gw, config, tmp_path / "data"):
                await trader.login()
                await trader.place(account=ACCOUNT, contract=mnq, size=5)
                await eventually(lambda: positions(gw) == {mnq: 2}, what="reduced to 2")

    run(body, timeout=30)
