"""Control API benchmark: round trip of each read endpoint over the trader socket.

    python bench/control_api.py [--accounts 20] [--samples 200]

One process runs the simulated gateway on 127.0.0.1 and the daemon against it (``accounts``
monitored accounts, RULE-003 and RULE-001 on, a moving market); a worker thread asks the daemon over
``<data-dir>/control/trader.sock`` with the sync client, one request at a time, keeping one client
(one connection) per endpoint. p50 and p99 per endpoint are printed, in milliseconds. The daemon and
the gateway share one event loop and one core, so the figures include the gateway's work.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from risk_manager.broker.projectx import HubSettings, Limit, ProjectXSettings, RequestBudget, Secret
from risk_manager.config.loader import load_config
from risk_manager.daemon.app import Daemon
from risk_manager.daemon.control import ControlClient
from risk_manager.sim.app import SimGateway
from risk_manager.sim.clock import SystemClock

ENDPOINTS = ("/v1/status", "/v1/pnl", "/v1/logs", "/v1/market-hours")


def write_config(directory: Path, accounts: list[int]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rules = {"daily_realized_loss": {"enabled": True, "limit": -500},
             "max_contracts": {"enabled": True, "limit": 5}}
    (directory / "risk_config.yaml").write_text(yaml.safe_dump({"rules": rules}))
    (directory / "accounts.yaml").write_text(
        yaml.safe_dump({"monitor": "listed", "accounts": [{"id": a} for a in accounts]})
    )
    return directory


def measure(data: Path, samples: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    for path in ENDPOINTS:
        with ControlClient(data) as client:
            client.get(path)  # connect once
            spent = []
            for _ in range(samples):
                start = time.perf_counter()
                client.get(path)
                spent.append((time.perf_counter() - start) * 1000)
        timings[path] = spent
    return timings


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(accounts: int, samples: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    async with SimGateway(clock=SystemClock(), always_open=True, market_driver=True, accounts=accounts,
                          rate_limits=False, ping_interval=5.0, seed=3) as gw:
        settings = ProjectXSettings(api_url=gw.base_url, user_hub_url=gw.user_hub_url,
                                    market_hub_url=gw.market_hub_url, username="bench", api_key=Secret("k"),
                                    hub=HubSettings(), stale_quote_seconds=60.0)
        budget = RequestBudget({"default": Limit(1_000_000, 60.0), "history": Limit(1000, 30.0)})
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config(write_config(Path(tmp) / "config", list(gw.account_ids)))
            daemon = Daemon(config, Path(tmp) / "data", settings=settings, budget=budget)
            await daemon.start()
            try:
                timings = await asyncio.to_thread(measure, Path(tmp) / "data", samples)
            finally:
                await daemon.stop()
    print(f"control API over the trader socket, {accounts} accounts, {samples} requests each (ms)")
    for path, spent in timings.items():
        print(f"  {path:18} p50 {statistics.median(spent):7.2f}   p99 {quantile(spent, 0.99):7.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.accounts, args.samples))
