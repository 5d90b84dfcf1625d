"""The SignalR client the project-x-py SDK is built on (pysignalr) works against the live-like simulator.

project-x-py itself needs Python >= 3.12 and cannot be installed on the project's 3.11 (PROJECTX.md §5).
What can run here is its SignalR layer, used the way the SDK uses it: the token in the hub URL's
``access_token`` query, a negotiate round-trip (``POST .../negotiate``), then the socket with the
negotiated ``id``; subscriptions sent from the open callback; events received through ``on``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pysignalr.client import SignalRClient
from sim_helpers import MNQ, Api, gateway, run


async def _until(condition: Any, timeout: float = 5.0) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


def test_pysignalr_negotiates_subscribes_and_receives_wrapped_user_events_and_quotes() -> None:
    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            token = await api.login()
            user = SignalRClient(f"{gw.user_hub_url}?access_token={token}")
            market = SignalRClient(f"{gw.market_hub_url}?access_token={token}")
            received: dict[str, list[Any]] = {}
            subscribed: list[str] = []

            def record(target: str) -> Any:
                async def on_event(arguments: list[Any]) -> None:
                    received.setdefault(target, []).append(arguments)

                return on_event

            for target in (
                "GatewayUserAccount",
                "GatewayUserOrder",
                "GatewayUserPosition",
                "GatewayUserTrade",
            ):
                user.on(target, record(target))
            market.on("GatewayQuote", record("GatewayQuote"))

            async def done(message: Any) -> None:
                subscribed.append("user")

            async def user_open() -> None:
                await user.send("SubscribeAccounts", [])
                for method in ("SubscribeOrders", "SubscribePositions"):
                    await user.send(method, [7])  # ids are ints on the wire
                await user.send("SubscribeTrades", [7], on_invocation=done)

            async def market_open() -> None:
                await market.send("SubscribeContractQuotes", [MNQ])

            user.on_open(user_open)
            market.on_open(market_open)
            tasks = [asyncio.create_task(user.run()), asyncio.create_task(market.run())]
            try:
                await _until(lambda: subscribed and "GatewayQuote" in received)
                gw.set_price(MNQ, 21000)
                await api.place(size=1)
                await _until(lambda: "GatewayUserTrade" in received and "GatewayUserAccount" in received)
                await _until(lambda: len(received["GatewayQuote"]) >= 2)
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            (trade,) = received["GatewayUserTrade"][0]
            assert trade["action"] == 0 and trade["data"]["contractId"] == MNQ
            assert "commissions" in trade["data"] and "profitAndLoss" not in trade["data"]
            assert {args[0]["action"] for args in received["GatewayUserAccount"]} == {1}
            assert gw.stats.negotiations["user"] == 1 and gw.stats.negotiations["market"] == 1
            contract, quote = received["GatewayQuote"][-1]
            assert contract == MNQ and "timestamp" in quote

    run(body)
