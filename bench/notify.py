"""Notifier benchmark: the cost of ``submit`` on the enforcement path while every endpoint hangs.

    python bench/notify.py [--count 10000] [--rounds 5]

A Discord webhook, a Telegram bot and an SMTP server are pointed at one local TCP server on
127.0.0.1 that accepts connections and never answers, so every channel's worker is stuck in a
request; then ``count`` notifications are submitted in a row. Figures printed: total time of the
``count`` submits (best and median of ``rounds``; the issue's target is well under 100 ms for
10,000) and the cost per submit, plus the time to pack a 1,000-item burst (a full queue) into
Discord messages: that work runs on the event loop the enforcer shares.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from datetime import UTC, datetime, timedelta

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
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


if __name__ == "__main__":
    main()
