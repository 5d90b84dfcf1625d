"""A daemon with a symbol lockout taken, and the control client called off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, running, write_config
from sim_helpers import Api

from risk_manager.daemon.app import Daemon
from risk_manager.daemon.control import ControlClient, ControlRefused
from risk_manager.sim.app import SimGateway

RULES = {
    "symbol_blocks": {"enabled": True, "blocked_symbols": ["MNQ"]},
    "daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False},
}


async def call(data_dir: Path, role: str, method: str, path: str, body: Any = None, **params: Any) -> Any:
    """One control call from a worker thread (the sync client would block the daemon's loop)."""

    def go() -> Any:
        with ControlClient(data_dir, role) as client:
            return client.get(path, **params) if method == "GET" else client.post(path, body)

    return await asyncio.to_thread(go)


async def refused(data_dir: Path, role: str, method: str, path: str, body: Any = None) -> ControlRefused:
    try:
        answer = await call(data_dir, role, method, path, body)
    except ControlRefused as exc:
        return exc
    raise AssertionError(f"{method} {path} on the {role} socket was answered: {answer}")


@contextlib.asynccontextmanager
async def daemon_with_lockout(
    tmp_path: Path, **risk: Any
) -> AsyncIterator[tuple[SimGateway, Daemon, Path]]:
    """A daemon whose account holds RULE-011's lockout on MNQ (a blocked symbol was traded)."""
    async with live_gateway() as gw, Api(gw) as trader:
        mnq = gw.contract_id("MNQ")
        gw.set_price(mnq, "21000.00")
        config = write_config(tmp_path / "c", RULES, **risk)
        data = tmp_path / "d"
        async with running(gw, config, data) as daemon:
            await trader.login()
            await trader.place(account=ACCOUNT, contract=mnq, size=1)
            engine = daemon.persistent.engine  # type: ignore[union-attr]
            # flat at the gateway and in the daemon, with both executions (the open and RULE-011's
            # close) counted: what a test reads next no longer depends on an event still in flight
            await eventually(
                lambda: engine.accounts[ACCOUNT].lockouts
                and positions(gw) == {}
                and not engine.accounts[ACCOUNT].positions
                and engine.accounts[ACCOUNT].day.trade_count == 2,
                timeout=10,
                what="the MNQ lockout, the close counted",
            )
            yield gw, daemon, data
