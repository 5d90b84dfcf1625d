"""200 accounts trailing one contract while one account must be flattened: the flatten is not
starved by the stop moves, and the stop moves are coalesced per order (latest wins).

The simulated gateway runs in its own process (``risk-manager sim-gateway``, as a user runs it), so the
daemon's event loop is the daemon's alone, as in production; the test drives the market through the
sim's control API.

The start-up reconcile reads 3 REST endpoints per account (600 reads for 200 accounts), which the
gateway's 200 requests / 60 s would spread over minutes. So the test runs the same budget shape
(reserves for closes and stops, strict priorities) scaled to 60 requests per second, and the
simulator's own rate limiter is off (the trader opens 200 positions from one session). The budget is
still saturated by the stop moves (200 per price tick, four ticks a second, 56 per second allowed),
which is the situation the issue asks about.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from daemon_helpers import write_config
from projectx_helpers import FAST_HUB, settings
from sim_helpers import Api, run
from sim_process import SimProcess, positions_in

from risk_manager.broker.projectx.budget import DEFAULT, HISTORY, Limit, Priority, RequestBudget
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
# 60 requests per second in windows of 0.25 s (stops: 56, reads: 48); the real gateway allows 200 per
# 60 s. Kept below what the simulator answers on a busy machine: requests granted faster than they are
# answered pile up in the client's connection pool, which gets slow (it scans every waiting request
# against every connection) when hundreds wait in it -- a test artefact, the real budget is 300 times
# smaller.
SCALED = {DEFAULT: Limit(15, 0.25), HISTORY: Limit(8, 0.25)}
SCALED_RESERVE = {Priority.CLOSE: 0, Priority.PROTECT: 1, Priority.ROUTINE: 3}
# Silence detection is not under test here, and a machine busy with other tests can leave a hub
# unanswered for a while: the gateway's ping every 0.5 s, silence after 5 s, connects within 10 s.
PATIENT_HUB = replace(FAST_HUB, open_timeout=10.0, server_timeout=5.0, subscribe_timeout=10.0)


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    """Poll an async ``check`` (a control-API read) until it returns something truthy; twice a
    second, since a state read of 200 accounts costs the simulator tens of milliseconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


# Runs in the normal suite (about 30 s). It was opt-in while it failed 1 run of 3 beside other daemon
# tests on 2 busy cores: the simulator, starved of CPU, left enforcement reads unanswered for 10 s. Since
# requests in flight are capped in the budget (a flatten's re-read no longer queues in the HTTP pool
# behind granted stop moves): alone 31-33 s, 5 of 5 runs, two of them beside a full CI run; with the
# simulator held to about 10 % of a core (SIGSTOP/SIGCONT) it passed, the flatten taking 1.1 s.
@pytest.mark.slow
def test_200_accounts_trailing_one_contract_never_starve_a_flatten_and_stop_moves_are_coalesced(
    tmp_path: Path,
) -> None:
    options = ("--accounts", str(ACCOUNTS), "--no-rate-limits", "--ping-interval", "0.5")
    with SimProcess(tmp_path, *options) as sim:
        run(lambda: trailing_session(sim, tmp_path), timeout=90)


async def trailing_session(sim: SimProcess, tmp_path: Path) -> None:
    async with sim, Api(sim) as trader:  # type: ignore[arg-type]  (Api needs only the REST URL)
        mnq, es = await sim.contract_id("MNQ"), await sim.contract_id("ES")
        accounts = await sim.account_ids()
        assert len(accounts) == ACCOUNTS
        loser = accounts[0]
        price = 21000.0
        await sim.set_price(mnq, f"{price:.2f}")
        await sim.set_price(es, "6000.00")
        await trader.login()
        for account in accounts:
            await trader.place(account=account, contract=mnq, size=1)
        await trader.place(account=loser, contract=es, size=1)
        config = write_config(tmp_path / "c", RULES, accounts=tuple(accounts))
        daemon = Daemon(load_config(config), tmp_path / "d",
                        settings=settings(sim, PATIENT_HUB, request_timeout=10.0),  # type: ignore[arg-type]
                        budget=RequestBudget(SCALED, SCALED_RESERVE))
        await daemon.start()  # the start-up reconcile brings the 200 open positions
        try:
            persistent = daemon.persistent
            assert persistent is not None
            assert len(persistent.accounts) == ACCOUNTS

            async def stops_placed() -> bool:
                state = await sim.state()
                return sum(1 for o in state["workingOrders"] if o["type"] == 4) == ACCOUNTS

            async def walk(steps: int) -> None:
                nonlocal price
                for _ in range(steps):
                    price += 0.25
                    await sim.set_price(mnq, f"{price:.2f}")
                    await asyncio.sleep(0.25)

            await walk(12)  # past the activation: every account places its trailing stop
            await until(stops_placed, timeout=20, what="200 trailing stops placed")
            await walk(12)  # 200 stop moves per tick: the budget is saturated
            await sim.set_price(es, "5985.00")  # the loser's ES: -750 USD once sold
            sold = time.monotonic()
            await trader.place(account=loser, contract=es, side=1, size=1)
            walking = asyncio.get_running_loop().create_task(walk(8))  # trailing goes on

            async def loser_flat() -> bool:
                # one account's positions over REST: a state dump of 200 accounts would cost the
                # simulator tens of milliseconds twice a second while the daemon needs its answers
                answer = await trader.call("Position/searchOpen", {"accountId": loser})
                return answer["success"] is True and answer["positions"] == []

            await until(loser_flat, timeout=20, what="the loser flattened")
            flattened = time.monotonic() - sold
            await walking
            state = await sim.state()
            assert state["requests"].get("Position/closeContract", 0) >= 1
            # Not a timing test (bench/ measures): the bound only catches a starved flatten, which
            # before enforcement reads went first failed outright (its read timed out behind the
            # stop moves). Alone it is about 5 s: most of it the daemon working through the backlog of
            # 200 accounts' quotes and stop decisions on a machine shared with other test runs.
            assert flattened < 20.0, f"the flatten took {flattened:.2f} s"
            assert all(positions_in(state, a) == {mnq: 1} for a in accounts[1:])  # trailing never closes
            persistent.flush()
            moves = [r for r in persistent.store.audit(rule="RULE-012") if r.kind == "modify_stop"]
            sent = state["requests"].get("Order/modify", 0)
            assert sent < len(moves), f"{sent} Order/modify for {len(moves)} stop decisions"
        finally:
            await daemon.stop()
