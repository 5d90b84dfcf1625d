"""A daemon running in-process against a SimGateway on loopback, and a config written for a test."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import yaml
from projectx_helpers import API_KEY, USER, settings

from risk_manager.config.loader import load_config
from risk_manager.daemon.app import Daemon
from risk_manager.sim.app import SimGateway
from risk_manager.sim.clock import SystemClock

ACCOUNT = 7


def live_gateway(**kwargs: Any) -> SimGateway:
    """A gateway on the real clock (the daemon's clock), always open, with a still market:
    prices move only when a test moves them."""
    kwargs.setdefault("clock", SystemClock())
    kwargs.setdefault("always_open", True)
    kwargs.setdefault("market_driver", False)
    kwargs.setdefault("ping_interval", 0.05)
    kwargs.setdefault("seed", 1)
    return SimGateway(**kwargs)


def write_config(
    directory: Path,
    rules: dict[str, Any],
    gw: SimGateway | None = None,
    accounts: tuple[int, ...] = (ACCOUNT,),
    **risk: Any,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "risk_config.yaml").write_text(yaml.safe_dump({"rules": rules, **risk}))
    (directory / "accounts.yaml").write_text(
        yaml.safe_dump({"monitor": "listed", "accounts": [{"id": a, "name": f"acct {a}"} for a in accounts]})
    )
    (directory / "timers.yaml").write_text(
        yaml.safe_dump({"daily_reset": {"time": "17:00", "timezone": "America/Chicago"}})
    )
    if gw is not None:
        api = {
            "projectx": {
                "api_url": gw.base_url,
                "user_hub_url": gw.user_hub_url,
                "market_hub_url": gw.market_hub_url,
                "username": USER,
                "api_key": API_KEY,
            },
            "connection": {"request_timeout": 2},
        }
        path = directory / "api_config.yaml"
        path.write_text(yaml.safe_dump(api))
        path.chmod(0o600)
    return directory


@contextlib.asynccontextmanager
async def running(
    gw: SimGateway, config_dir: Path, data_dir: Path, **overrides: Any
) -> AsyncIterator[Daemon]:
    daemon = Daemon(load_config(config_dir), data_dir, settings=settings(gw, **overrides))
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()


async def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


def positions(gw: SimGateway, account: int = ACCOUNT) -> dict[str, int]:
    """contract -> signed size of the account's open positions, as the gateway holds them."""
    out = {}
    for p in gw.state()["positions"]:
        if p["accountId"] == account and p["size"]:
            out[p["contractId"]] = p["size"] * (1 if p["type"] == 1 else -1)
    return out


def working_orders(gw: SimGateway, account: int = ACCOUNT) -> list[dict[str, Any]]:
    return [o for o in gw.state()["workingOrders"] if o["accountId"] == account]


def requests(gw: SimGateway, endpoint: str) -> int:
    return int(gw.state()["requests"].get(endpoint, 0))
