"""Daemon benchmark: breach-to-close latency over loopback, with its stages.

    python bench/daemon.py [--accounts 20] [--samples 100] [--background-rate 200]

One process runs the simulated gateway on 127.0.0.1 and the daemon (``risk_manager.daemon.app``)
against it, with RULE-004 (daily_unrealized_loss, -300 USD). ``accounts - 1`` accounts each hold one
MES contract whose quotes are forced to ``background-rate`` updates/s; one account buys one MNQ, and
the gateway is told to print a price 200 points lower (-400 USD). Measured, per sample:

    total     the gateway pushes the breaking quote -> the gateway receives Position/closeContract
    receive   push -> the daemon's client has read the frame (HubMessage.received_at)
    queue     received -> the daemon starts processing it
    decide    normalize + engine + store commit (PersistentEngine.decide returns the close)
    commit    the store write inside ``decide``
    rest      decided -> the gateway's handler runs closeContract (task start, httpx, loopback)

p50 and p99 of each are printed, and the process's peak RSS (``--accounts 500`` for the issue's
memory figure; it includes the simulated gateway's own accounts, books and connections).
The gateway and the daemon share one event loop and one core here,
so the figures include the gateway's own work; the targets of issue 11 are p50 < 5 ms, p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from risk_manager.broker.port import HubMessage
from risk_manager.broker.projectx import HubSettings, Limit, ProjectXSettings, RequestBudget, Secret
from risk_manager.config.loader import load_config
from risk_manager.daemon.app import Daemon
from risk_manager.sim.app import SimGateway
from risk_manager.sim.clock import SystemClock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "sim"))
from sim_helpers import Api


def write_config(directory: Path, accounts: list[int]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rules = {"daily_unrealized_loss": {"enabled": True, "limit": -300, "price_source": "last"}}
    (directory / "risk_config.yaml").write_text(yaml.safe_dump({"rules": rules}))
    (directory / "accounts.yaml").write_text(
        yaml.safe_dump({"monitor": "listed", "accounts": [{"id": a} for a in accounts]}))
    (directory / "timers.yaml").write_text("daily_reset: {time: '17:00', timezone: America/Chicago}\n")
    return directory


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(accounts: int, samples: int, rate: float) -> None:
    logging.basicConfig(level=logging.ERROR)
    async with SimGateway(clock=SystemClock(), always_open=True, market_driver=True, accounts=accounts,
                          rate_limits=False, ping_interval=5.0, seed=3) as gw, Api(gw) as trader:
        ids = list(gw.account_ids)
        hot, background = ids[0], ids[1:]
        mnq, mes = gw.contract_id("MNQ"), gw.contract_id("MES")
        closes: list[float] = []
        original = gw.broker.close_contract

        def close_contract(account_id: int, contract_id: str) -> Any:
            closes.append(time.time())
            return original(account_id, contract_id)

        gw.broker.close_contract = close_contract  # type: ignore[method-assign]
        settings = ProjectXSettings(api_url=gw.base_url, user_hub_url=gw.user_hub_url,
                                    market_hub_url=gw.market_hub_url, username="bench", api_key=Secret("k"),
                                    hub=HubSettings(), stale_quote_seconds=60.0)
        budget = RequestBudget({"default": Limit(1_000_000, 60.0), "history": Limit(1000, 30.0)})
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config(write_config(Path(tmp) / "config", ids))
            daemon = Daemon(config, Path(tmp) / "data", settings=settings, budget=budget)
            await daemon.start()
            supervisor = daemon.supervisor
            persistent = daemon.persistent
            assert supervisor is not None and persistent is not None
            stages: dict[str, list[float]] = {k: [] for k in ("total", "receive", "queue", "decide", "commit",
                                                                "rest")}
            mark: dict[str, float] = {}
            handle = supervisor.handle_message
            write = persistent.store.write

            def timed_handle(message: HubMessage) -> None:
                start = time.time()
                handle(message)
                if "t0" in mark and "decided" not in mark and message.target == "GatewayQuote" \
                        and message.arguments and message.arguments[0] == mnq:
                    mark["received"] = message.received_at.timestamp()
                    mark["start"] = start
                    mark["decided"] = time.time()

            def timed_write(batch: Any) -> None:
                start = time.time()
                write(batch)
                if "t0" in mark and "commit" not in mark:
                    mark["commit"] = time.time() - start

            supervisor.handle_message = timed_handle  # type: ignore[method-assign]
            persistent.store.write = timed_write  # type: ignore[method-assign]
            try:
                await trader.login()
                for account in background:
                    await trader.place(account=account, contract=mes, size=1)
                gw.set_quote_rate(mes, rate)
                for _ in range(samples):
                    gw.set_price(mnq, "21000.00")
                    await trader.place(account=hot, contract=mnq, size=1)
                    while mnq not in persistent.accounts.get(hot, _NO).positions:
                        await asyncio.sleep(0.005)
                    await asyncio.sleep(0.3 if not stages["total"] else 0.05)  # first: quote subscription
                    mark.clear()
                    before = len(closes)
                    mark["t0"] = time.time()
                    gw.set_price(mnq, "20800.00")
                    while len(closes) == before:
                        await asyncio.sleep(0.0005)
                    t_close = closes[before]
                    while mnq in persistent.accounts[hot].positions:
                        await asyncio.sleep(0.005)
                    if "decided" not in mark:
                        continue
                    ms = 1000.0
                    stages["total"].append((t_close - mark["t0"]) * ms)
                    stages["receive"].append((mark["received"] - mark["t0"]) * ms)
                    stages["queue"].append((mark["start"] - mark["received"]) * ms)
                    stages["decide"].append((mark["decided"] - mark["start"]) * ms)
                    stages["commit"].append(mark.get("commit", 0.0) * ms)
                    stages["rest"].append((t_close - mark["decided"]) * ms)
            finally:
                gw.set_quote_rate(mes, None)
                await daemon.stop()
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        n = len(stages["total"])
        print(f"breach-to-close over loopback: {accounts} accounts, {rate:g} background quotes/s, "
              f"{n} samples")
        print(f"{'stage':<10}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
        for name, values in stages.items():
            if values:
                print(f"{name:<10}{pct(values, 0.5):>10.3f}{pct(values, 0.99):>10.3f}"
                      f"{statistics.fmean(values):>10.3f}")
        print(f"peak RSS of the process (gateway and daemon together): {rss_mb:.0f} MB")


class _NoAccount:
    def __init__(self) -> None:
        self.positions: dict[str, Any] = {}


_NO = _NoAccount()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--background-rate", type=float, default=200.0)
    args = parser.parse_args()
    asyncio.run(main(args.accounts, args.samples, args.background_rate))
