"""200 accounts trailing one contract while one account must be flattened: the flatten is not
starved by the stop moves, and the stop moves are coalesced per order (latest wins).

The start-up reconcile reads 3 REST endpoints per account (600 reads for 200 accounts), which the
gateway's 200 requests / 60 s would spread over minutes. So the test runs the same budget shape
(reserves for closes and stops, strict priorities) on a window scaled down to 0.5 s, and the
simulator's own rate limiter is off (the trader opens 200 positions from one session). The budget is
still saturated by the stop moves (200 per price tick, 180 per second allowed), which is the
situation the issue asks about.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from daemon_helpers import eventually, live_gateway, positions, requests, write_config
from projectx_helpers import settings
from sim_helpers import Api, run

from risk_manager.broker.projectx.budget import DEFAULT, HISTORY, Limit, RequestBudget
from risk_manager.config.loader import load_config
from risk_manager.daemon.app import Daemon

ACCOUNTS = 200
RULES = {
    "daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False},
    "trade_management": {
        "enabled": True,
        "breakeven": {"enabled": False},
        "trailing": {"enabled": True, "activation_ticks": 4, "distance_ticks": 4},
    },
}
# 100 requests per 0.5 s (stops: 90, reads: 60); the real gateway allows 200 per 60 s
SCALED = {DEFAULT: Limit(100, 0.5), HISTORY: Limit(50, 0.5)}


# Opt-in (RISK_MANAGER_LOAD_TESTS=1): alone it passes in ~20 s (4 of 5 runs), but in the full suite the
# flatten missed its 20 s bound once, because the in-process sim, daemon and trader share one event loop
# that 200 accounts saturate. Running the sim in its own process would make it fit for CI.
@pytest.mark.skipif(
    os.environ.get("RISK_MANAGER_LOAD_TESTS") != "1", reason="load test: set RISK_MANAGER_LOAD_TESTS=1 to run"
)
def test_200_accounts_trailing_one_contract_never_starve_a_flatten_and_stop_moves_are_coalesced(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with live_gateway(accounts=ACCOUNTS, rate_limits=False) as gw, Api(gw) as trader:
            mnq, es = gw.contract_id("MNQ"), gw.contract_id("ES")
            accounts = gw.account_ids
            loser = accounts[0]
            price = 21000.0
            gw.set_price(mnq, f"{price:.2f}")
            gw.set_price(es, "6000.00")
            await trader.login()
            for account in accounts:
                await trader.place(account=account, contract=mnq, size=1)
            await trader.place(account=loser, contract=es, size=1)
            config = write_config(tmp_path / "c", RULES, accounts=tuple(accounts))
            daemon = Daemon(load_config(config), tmp_path / "d", settings=settings(gw, request_timeout=10.0),
                            budget=RequestBudget(SCALED))
            await daemon.start()  # the start-up reconcile brings the 200 open positions
            try:
                persistent = daemon.persistent
                assert persistent is not None
                assert len(persistent.accounts) == ACCOUNTS

                def stops() -> int:
                    return sum(1 for o in gw.state()["workingOrders"] if o["type"] == 4)

                async def walk(steps: int) -> None:
                    nonlocal price
                    for _ in range(steps):
                        price += 0.25
                        gw.set_price(mnq, f"{price:.2f}")
                        await asyncio.sleep(0.25)

                await walk(12)  # past the activation: every account places its trailing stop
                await eventually(lambda: stops() == ACCOUNTS, timeout=20, what="200 trailing stops placed")
                await walk(12)  # 200 stop moves per tick: the budget is saturated
                gw.set_price(es, "5985.00")  # the loser's ES: -750 USD once sold
                sold = time.monotonic()
                await trader.place(account=loser, contract=es, side=1, size=1)
                walking = asyncio.get_running_loop().create_task(walk(8))  # trailing goes on
                await eventually(lambda: positions(gw, loser) == {}, timeout=20, what="the loser flattened")
                flattened = time.monotonic() - sold
                await walking
                assert requests(gw, "Position/closeContract") >= 1
                # Not a timing test (bench/ measures): the bound only catches a starved flatten, which
                # before enforcement reads went first failed outright (its read timed out behind the
                # stop moves). Daemon, simulator and trader share one event loop here, which the
                # 200 accounts' decisions saturate, so the figure is seconds, not milliseconds.
                assert flattened < 20.0, f"the flatten took {flattened:.2f} s"
                assert all(positions(gw, a) == {mnq: 1} for a in accounts[1:])  # trailing never closes
                persistent.flush()
                moves = [r for r in persistent.store.audit(rule="RULE-012") if r.kind == "modify_stop"]
                sent = requests(gw, "Order/modify")
                assert sent < len(moves), f"{sent} Order/modify for {len(moves)} stop decisions"
            finally:
                await daemon.stop()

    run(body, timeout=90)

