"""Notifier benchmark: the cost of ``submit`` on the enforcement path while every endpoint hangs.

    python bench/notify.py [--count 10000] [--rounds 5] [--closes 300]

A Discord webhook, a Telegram bot and an SMTP server are pointed at one local TCP server on
127.0.0.1 that accepts connections and never answers, so every channel's worker is stuck in a
request; then ``count`` notifications are submitted in a row. Figures printed: total time of the
``count`` submits (best and median of ``rounds``; the issue's target is well under 100 ms for
10,000) and the cost per submit, plus the time to pack a 1,000-item burst (a full queue) into
Discord messages: that work runs on the event loop the enforcer shares.

Then the close round trip an enforcer makes (``Position/closeContract`` against the simulated
gateway in a child process, httpx keep-alive), p50 and p99, twice: with no notifier, and on a loop
whose notifier has three hanging endpoints and is handed a burst of 100 notifications every 10 ms.
The two should be the same: a notifier never slows enforcement.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from risk_manager.notify import (
    DISCORD_LIMITS,
    DiscordWebhook,
    NotificationBuilder,
    Notifier,
    SmtpEmail,
    TelegramBot,
)
from risk_manager.notify.batch import render_batch

AT = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


async def silent_server() -> tuple[asyncio.Server, int, list[asyncio.StreamWriter]]:
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # keep the connection open, say nothing

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], held


async def submit_round(count: int) -> float:
    server, port, held = await silent_server()
    base = f"http://127.0.0.1:{port}"
    builder = NotificationBuilder("America/Chicago")
    notes = [builder.connection_restored(AT + timedelta(seconds=n), since=AT) for n in range(count)]
    notifier = Notifier(
        [
            DiscordWebhook(f"{base}/api/webhooks/1/bench-token", timeout=30.0),
            TelegramBot("1:bench-token", "1", api_base=base, timeout=30.0),
            SmtpEmail("127.0.0.1", port, "rm@example.com", ["me@example.com"], timeout=30.0),
        ]
    )
    await notifier.start()
    notifier.submit(notes[0])
    await asyncio.sleep(1.5)  # past Discord's and Telegram's batch window: their workers now hang
    started = time.perf_counter()
    for note in notes:
        notifier.submit(note)
    elapsed = time.perf_counter() - started
    await notifier.aclose(timeout=0.2)
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()
    return elapsed


async def hanging_notifier(port: int) -> Notifier:
    base = f"http://127.0.0.1:{port}"
    notifier = Notifier(
        [
            DiscordWebhook(f"{base}/api/webhooks/1/bench-token", timeout=30.0),
            TelegramBot("1:bench-token", "1", api_base=base, timeout=30.0),
            SmtpEmail("127.0.0.1", port, "rm@example.com", ["me@example.com"], timeout=30.0),
        ]
    )
    await notifier.start()
    return notifier


async def close_round_trips(root: str, n: int, busy: bool) -> list[float]:
    """``n`` timed Position/closeContract calls (each after an untimed market order opens a position)."""
    server, port, held = await silent_server()
    notifier = await hanging_notifier(port) if busy else None
    builder = NotificationBuilder("America/Chicago")

    burst = [builder.connection_lost(AT + timedelta(seconds=n)) for n in range(100)]

    async def flood() -> None:
        while notifier is not None:
            notifier.submit_all(burst)
            await asyncio.sleep(0.01)

    producer = asyncio.create_task(flood())
    timings: list[float] = []
    async with httpx.AsyncClient(base_url=root, timeout=5.0) as http:
        login = await http.post("/api/Auth/loginKey", json={"userName": "bench", "apiKey": "x"})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        search = {"searchText": "MNQ", "live": False}
        contract = (await http.post("/api/Contract/search", json=search, headers=headers)).json()
        contract_id = contract["contracts"][0]["id"]

        def call(path: str, body: dict[str, object]) -> Awaitable[httpx.Response]:
            return http.post(path, json=body, headers=headers)

        for i in range(n + 20):  # the first 20 warm up
            order = {"accountId": 7, "contractId": contract_id, "type": 2, "side": 0, "size": 1}
            assert (await call("/api/Order/place", order)).json()["success"]
            t0 = time.perf_counter()
            closed = await call("/api/Position/closeContract", {"accountId": 7, "contractId": contract_id})
            if i >= 20:
                timings.append(time.perf_counter() - t0)
            assert closed.json()["success"], closed.text
    producer.cancel()
    with suppress(asyncio.CancelledError):
        await producer
    if notifier is not None:
        await notifier.aclose(timeout=0.2)
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()
    return timings


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def close_latency(closes: int) -> None:
    sim_bench = Path(__file__).with_name("sim_gateway.py")
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        child = subprocess.Popen([sys.executable, str(sim_bench), "--serve", port_file])
        try:
            deadline = time.monotonic() + 20
            while not (os.path.exists(port_file) and os.path.getsize(port_file)):
                if time.monotonic() > deadline or child.poll() is not None:
                    raise SystemExit("sim gateway did not start")
                time.sleep(0.05)
            root = f"http://127.0.0.1:{Path(port_file).read_text().split()[0]}"
            for busy in (False, True):
                t = asyncio.run(close_round_trips(root, closes, busy))
                what = "notifier flooded, 3 endpoints hanging" if busy else "no notifier            "
                print(
                    f"close round trip (Position/closeContract, sim gateway), {what}: "
                    f"p50 {pct(t, 50):.2f} ms, p99 {pct(t, 99):.2f} ms ({len(t)} closes)"
                )
        finally:
            child.terminate()
            child.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--closes", type=int, default=300)
    args = parser.parse_args()
    logging.getLogger("risk_manager.notify").setLevel(logging.ERROR)  # the expected shutdown warnings

    times = [asyncio.run(submit_round(args.count)) for _ in range(args.rounds)]
    best, median = min(times), statistics.median(times)
    print(
        f"submit x {args.count:,} to 3 channels, endpoints hanging: best {best * 1000:.1f} ms, "
        f"median {median * 1000:.1f} ms ({median / args.count * 1e6:.2f} us per submit; target < 100 ms)"
    )

    builder = NotificationBuilder("America/Chicago")
    burst = [builder.connection_lost(AT + timedelta(milliseconds=n), hub="user") for n in range(1000)]
    packs = []
    for _ in range(20):
        started = time.perf_counter()
        messages = render_batch(burst, DISCORD_LIMITS.max_chars, DISCORD_LIMITS.max_messages_per_batch)
        packs.append(time.perf_counter() - started)
    print(
        f"pack a 1,000-item burst into {len(messages)} Discord messages (on the daemon's loop): "
        f"best {min(packs) * 1000:.2f} ms, median {statistics.median(packs) * 1000:.2f} ms"
    )

    close_latency(args.closes)


if __name__ == "__main__":
    main()
