"""ProjectX client cost: hub messages/s through the client, and close round-trip latency.

The simulated gateway runs in a child process (rate limits off) so the gateway and the client do not
share one core. Measured through the real client (``ProjectXClient``): SignalR frames split on 0x1E,
every record parsed, a ``HubMessage`` built and queued, read from ``events()``; REST calls through the
request budget, the token manager and httpx.

    python bench/projectx_client.py [--seconds 5] [--rates 5000,20000] [--closes 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from risk_manager.broker.port import HubMessage
from risk_manager.broker.projectx import (
    HubSettings,
    Limit,
    ProjectXClient,
    ProjectXSettings,
    RequestBudget,
    Secret,
)
from risk_manager.broker.projectx.budget import DEFAULT, HISTORY


async def serve(port_file: str) -> None:
    from risk_manager.sim.app import SimGateway

    gw = SimGateway(always_open=True, seed=42, rate_limits=False, ping_interval=15.0)
    await gw.start()
    Path(port_file).write_text(f"{gw.port} {gw.contract_id('MNQ')}")
    try:
        await asyncio.Event().wait()
    finally:
        await gw.stop()


def client(root: str) -> ProjectXClient:
    settings = ProjectXSettings(
        api_url=f"{root}/api", user_hub_url=f"{root}/hubs/user", market_hub_url=f"{root}/hubs/market",
        username="bench", api_key=Secret("bench-key"), hub=HubSettings(server_timeout=30.0),
    )
    # the gateway's limits are off for the bench: measure the client, not the 200/60 s budget
    budget = RequestBudget({DEFAULT: Limit(10**9, 60.0), HISTORY: Limit(50, 30.0)})
    return ProjectXClient(settings, budget=budget)


async def quotes(root: str, contract: str, rate: int, seconds: float) -> tuple[float, int]:
    async with client(root) as px, httpx.AsyncClient(base_url=root) as http:
        await px.subscribe_contract(contract)
        events = px.events()
        while not (isinstance(e := await anext(events), HubMessage) and e.target == "GatewayQuote"):
            pass
        await http.post("/__sim__/market", json={"contractId": contract, "rate": rate})
        count = 0
        started = time.perf_counter()
        try:
            async with asyncio.timeout(seconds):
                async for event in events:
                    if isinstance(event, HubMessage):
                        count += 1
        except TimeoutError:
            pass
        finally:
            await http.post("/__sim__/market", json={"contractId": contract, "rate": None})
        return count / (time.perf_counter() - started), count


async def closes(root: str, contract: str, n: int) -> dict[str, list[float]]:
    """closeContract round trips through the client and, for comparison, bare httpx."""
    timings: dict[str, list[float]] = {"client": [], "bare httpx": []}
    async with client(root) as px, httpx.AsyncClient(base_url=root) as http:
        token = (await http.post("/api/Auth/loginKey", json={"userName": "t", "apiKey": "x"})).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        close = {"accountId": 8, "contractId": contract}
        for i in range(2 * n):
            order = {"accountId": 8, "contractId": contract, "type": 2, "side": 0, "size": 1}
            assert (await http.post("/api/Order/place", json=order, headers=headers)).json()["success"]
            t0 = time.perf_counter()
            if i % 2:
                assert (await http.post("/api/Position/closeContract", json=close, headers=headers)).json()[
                    "success"]
                timings["bare httpx"].append(time.perf_counter() - t0)
            else:
                await px.close_position(8, contract)
                timings["client"].append(time.perf_counter() - t0)
    return timings


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="5000,20000", help="forced quote rates (updates/s)")
    parser.add_argument("--closes", type=int, default=300, help="closeContract round trips to time")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        child = subprocess.Popen([sys.executable, __file__, "--serve", port_file])
        try:
            deadline = time.monotonic() + 20
            while not (os.path.exists(port_file) and os.path.getsize(port_file)):
                if time.monotonic() > deadline or child.poll() is not None:
                    raise SystemExit("sim gateway did not start")
                time.sleep(0.05)
            port, contract = Path(port_file).read_text().split()
            root = f"http://127.0.0.1:{port}"
            print(f"sim gateway: {root} (child process, rate limits off), {os.cpu_count()} CPU(s)")
            print("\nQuotes through ProjectXClient.events() (frames split, records parsed, messages queued):")
            for rate in (int(r) for r in args.rates.split(",")):
                delivered, count = asyncio.run(quotes(root, contract, rate, args.seconds))
                print(f"  offered {rate:>7,}/s -> {delivered:>9,.0f} messages/s through the client "
                      f"({count:,})")
            print(f"\nPosition/closeContract round trip, {args.closes} closes each (interleaved):")
            for name, values in asyncio.run(closes(root, contract, args.closes)).items():
                print(f"  {name:<11} p50 {pct(values, 50):.2f} ms   p90 {pct(values, 90):.2f} ms   "
                      f"p99 {pct(values, 99):.2f} ms   mean {statistics.fmean(values) * 1000:.2f} ms")
        finally:
            child.terminate()
            child.wait(timeout=10)


if __name__ == "__main__":
    main()
