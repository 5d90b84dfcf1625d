"""Simulated gateway throughput: quote events/s pushed to one subscribed client, REST round-trip latency.

The gateway runs in a child process (as it would next to a daemon) with rate limits off, so the two
sides of the loopback connection do not share one core. The client is a plain ``websockets`` reader
that splits frames on 0x1E and parses every record with orjson, like a real client.

    python bench/sim_gateway.py [--seconds 5] [--rates 20000,30000,40000] [--rest 2000] [--bare]

The gateway runs in its default, live-like mode (partial quotes, 7-digit timestamps); ``--bare``
measures the simplified debugging mode instead.

Targets (issue 3): >= 20,000 quote events/s delivered to one subscribed client on loopback;
REST round trip p50 < 2 ms with a keep-alive client.
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
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

MNQ_ROOT = "MNQ"
RS = "\x1e"


async def serve(port_file: str, bare: bool) -> None:
    from risk_manager.sim.app import SimGateway

    gw = SimGateway(always_open=True, seed=42, rate_limits=False, ping_interval=15.0, bare=bare)
    await gw.start()
    Path(port_file).write_text(f"{gw.port} {gw.contract_id(MNQ_ROOT)}")
    try:
        await asyncio.Event().wait()
    finally:
        await gw.stop()


async def quotes(root: str, contract: str, rate: int, seconds: float) -> tuple[float, int, float]:
    """(delivered quotes/s, quotes delivered, max lag in seconds at the end) at a forced ``rate``."""
    async with httpx.AsyncClient(base_url=root) as http:
        token = (await http.post("/api/Auth/loginKey", json={"userName": "bench", "apiKey": "x"})).json()[
            "token"
        ]
        ws_url = root.replace("http", "ws", 1) + f"/hubs/market?access_token={token}"
        async with connect(ws_url, max_size=8 * 1024 * 1024) as ws:
            await ws.send('{"protocol":"json","version":1}' + RS)
            assert await ws.recv() == "{}" + RS
            await ws.send(
                orjson.dumps(
                    {"type": 1, "target": "SubscribeContractQuotes", "arguments": [contract]}
                ).decode()
                + RS
            )
            await http.post("/__sim__/market", json={"contractId": contract, "rate": rate})
            count = 0
            parse = orjson.loads
            warmup_end = time.perf_counter() + 1.0
            while time.perf_counter() < warmup_end:
                frame = await ws.recv()
            start = time.perf_counter()
            end = start + seconds
            last_ts = ""
            now = start
            try:
                while now < end:
                    frame = await ws.recv()
                    for record in frame.split(RS)[:-1]:
                        message = parse(record)
                        if message.get("target") == "GatewayQuote":
                            count += 1
                            last_ts = message["arguments"][1]["timestamp"]
                    now = time.perf_counter()
            except ConnectionClosed:  # the gateway drops a client that falls 64 MB behind
                now = time.perf_counter()
                return count / (now - start), count, float("inf")
            finally:
                await http.post("/__sim__/market", json={"contractId": contract, "rate": None})
            elapsed = now - start
            # lag: how old the last quote we parsed was when we parsed it (server clock = this clock)
            lag = (
                (datetime.now(UTC) - datetime.fromisoformat(last_ts)).total_seconds()
                if last_ts
                else float("nan")
            )
            return count / elapsed, count, lag


async def rest(root: str, n: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {
        "Order/searchOpen": [],
        "Position/searchOpen": [],
        "Order/place (market)": [],
    }
    async with httpx.AsyncClient(base_url=root, timeout=5.0) as http:
        token = (await http.post("/api/Auth/loginKey", json={"userName": "bench", "apiKey": "x"})).json()[
            "token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        contract = (
            await http.post(
                "/api/Contract/search", json={"searchText": "MNQ", "live": False}, headers=headers
            )
        ).json()["contracts"][0]["id"]
        for _ in range(50):  # warm the connection and the code paths
            await http.post("/api/Order/searchOpen", json={"accountId": 7}, headers=headers)
        for i in range(n):
            for name, path, body in (
                ("Order/searchOpen", "/api/Order/searchOpen", {"accountId": 7}),
                ("Position/searchOpen", "/api/Position/searchOpen", {"accountId": 7}),
                (
                    "Order/place (market)",
                    "/api/Order/place",
                    {"accountId": 8, "contractId": contract, "type": 2, "side": i % 2, "size": 1},
                ),
            ):
                t0 = time.perf_counter()
                r = await http.post(path, json=body, headers=headers)
                timings[name].append(time.perf_counter() - t0)
                assert r.status_code == 200 and r.json()["success"], r.text
    return timings


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement time per quote rate")
    parser.add_argument("--rates", default="20000,40000,80000", help="forced quote rates to try (updates/s)")
    parser.add_argument("--rest", type=int, default=2000, help="REST requests per endpoint")
    parser.add_argument("--bare", action="store_true", help="measure the --bare debugging mode")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.bare))
        return
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", port_file, *(["--bare"] if args.bare else [])]
        )
        try:
            deadline = time.monotonic() + 20
            while not (os.path.exists(port_file) and os.path.getsize(port_file)):
                if time.monotonic() > deadline or child.poll() is not None:
                    raise SystemExit("sim gateway did not start")
                time.sleep(0.05)
            port, contract = Path(port_file).read_text().split()
            root = f"http://127.0.0.1:{port}"
            mode = "bare" if args.bare else "live-like"
            print(f"sim gateway ({mode}): {root} (child process, rate limits off), {os.cpu_count()} CPU(s)")
            print("\nQuote push to one subscribed client (GatewayQuote, every record parsed):")
            sustained = 0.0
            for rate in (int(r) for r in args.rates.split(",")):
                delivered, count, lag = asyncio.run(quotes(root, contract, rate, args.seconds))
                keeps_up = delivered >= 0.98 * rate and lag < 0.5
                if keeps_up:
                    sustained = max(sustained, delivered)
                print(
                    f"  offered {rate:>7,}/s -> delivered {delivered:>9,.0f}/s "
                    f"({count:,} in {args.seconds:.0f} s; last quote {lag * 1000:.1f} ms old when parsed)"
                    f"{'' if keeps_up else '  <- falls behind (dropped as a slow consumer if lag is inf)'}"
                )
            verdict = "meets" if sustained >= 0.98 * 20000 else "MISSES"
            print(f"  sustained: {sustained:,.0f} quotes/s ({verdict} the 20,000/s target)")
            print(f"\nREST round trip, httpx keep-alive, {args.rest} sequential requests each:")
            timings = asyncio.run(rest(root, args.rest))
            for name, values in timings.items():
                verdict = "meets" if pct(values, 50) < 2.0 else "MISSES"
                print(
                    f"  {name:<22} p50 {pct(values, 50):.2f} ms   p90 {pct(values, 90):.2f} ms   "
                    f"p99 {pct(values, 99):.2f} ms   mean {statistics.fmean(values) * 1000:.2f} ms  "
                    f"({verdict} p50 < 2 ms)"
                )
        finally:
            child.terminate()
            child.wait(timeout=10)


if __name__ == "__main__":
    main()
