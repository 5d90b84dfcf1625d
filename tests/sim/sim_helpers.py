"""Test helpers for the simulated gateway: a REST client, a raw SignalR-over-WebSocket client, a clock.

The hub client is deliberately written on the bare ``websockets`` library (no SignalR package), so the
tests see exactly the bytes the gateway sends: frames, 0x1E separators, handshake, pings.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from risk_manager.sim.app import SimGateway
from risk_manager.sim.clock import ManualClock

RS = "\x1e"
# Monday 2 March 2026, 09:00 in Chicago (CST): the market is open; front months H26 / J26.
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MNQ = "CON.F.US.MNQ.H26"
ES = "CON.F.US.EP.H26"
CL = "CON.F.US.CLE.J26"

T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]], timeout: float = 20.0) -> T:
    """Run one async test body with a hard timeout (no pytest-asyncio in this project)."""

    async def main() -> T:
        return await asyncio.wait_for(factory(), timeout)

    return asyncio.run(main())


def gateway(**kwargs: Any) -> SimGateway:
    """A gateway on a free loopback port with a manual clock at START and fast pings."""
    kwargs.setdefault("clock", ManualClock(START))
    kwargs.setdefault("ping_interval", 0.05)
    kwargs.setdefault("seed", 1)
    return SimGateway(**kwargs)


class Api:
    """Minimal ProjectX REST client over httpx (keep-alive)."""

    def __init__(self, gw: SimGateway) -> None:
        self.gw = gw
        self.http = httpx.AsyncClient(base_url=gw.base_url + "/", timeout=5.0)
        self.token: str | None = None

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def login(self, user: str = "trader", key: str = "secret") -> str:
        data = await self.call("Auth/loginKey", {"userName": user, "apiKey": key}, auth=False)
        assert data["success"] is True, data
        self.token = data["token"]
        return data["token"]

    async def post(
        self, endpoint: str, body: Any = None, *, token: str | None = None, auth: bool = True
    ) -> httpx.Response:
        headers = {}
        tok = token if token is not None else self.token
        if auth and tok:
            headers["Authorization"] = f"Bearer {tok}"
        content = b"" if body is None else orjson.dumps(body)
        headers["Content-Type"] = "application/json"
        return await self.http.post(endpoint, content=content, headers=headers)

    async def call(
        self, endpoint: str, body: Any = None, *, auth: bool = True, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(endpoint, body, token=token, auth=auth)
        assert response.status_code == 200, (endpoint, response.status_code, response.text)
        data = response.json()
        assert set(data) >= {"success", "errorCode", "errorMessage"}, data
        return data

    async def place(
        self,
        account: int = 7,
        contract: str = MNQ,
        type_: int = 2,
        side: int = 0,
        size: int = 1,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "accountId": account,
            "contractId": contract,
            "type": type_,
            "side": side,
            "size": size,
            **extra,
        }
        return await self.call("Order/place", body)


def ws_url(http_url: str) -> str:
    return "ws" + http_url[len("http") :]


class Hub:
    """A raw SignalR JSON-protocol client on websockets: records frames and parsed messages."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[str] = []
        self.pending: deque[dict[str, Any]] = deque()

    @classmethod
    async def open(
        cls, url: str, token: str, *, negotiate: bool = False, handshake: bool = True, query: str = ""
    ) -> Hub:
        target = f"{ws_url(url)}?access_token={token}{query}"
        if negotiate:
            async with httpx.AsyncClient() as http:
                r = await http.post(f"{url}/negotiate?negotiateVersion=1&access_token={token}")
                assert r.status_code == 200, r.text
                target += f"&id={r.json()['connectionToken']}"
        hub = cls(await connect(target, max_size=4 * 1024 * 1024))
        if handshake:
            await hub.ws.send('{"protocol":"json","version":1}' + RS)
            first = await hub.recv_frame(2.0)
            assert first == "{}" + RS, first
        return hub

    async def close(self) -> None:
        await self.ws.close()

    async def send(self, *messages: dict[str, Any]) -> None:
        """Send messages in ONE frame (several records per frame)."""
        await self.ws.send("".join(orjson.dumps(m).decode() + RS for m in messages))

    async def invoke(self, target: str, *args: Any, invocation_id: str | None = None) -> None:
        message: dict[str, Any] = {"type": 1, "target": target, "arguments": list(args)}
        if invocation_id is not None:
            message["invocationId"] = invocation_id
        await self.send(message)

    async def recv_frame(self, timeout: float = 2.0) -> str:
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        text = frame if isinstance(frame, str) else frame.decode()
        self.frames.append(text)
        return text

    async def next(self, timeout: float = 2.0, *, pings: bool = False) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                message = self.pending.popleft()
                if pings or message.get("type") != 6:
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message")
            frame = await self.recv_frame(remaining)
            assert frame.endswith(RS), f"frame does not end with 0x1E: {frame!r}"
            for record in frame.split(RS)[:-1]:
                self.pending.append(orjson.loads(record))

    async def until(self, target: str, timeout: float = 2.0) -> dict[str, Any]:
        """The next invocation of ``target``, skipping anything else."""
        deadline = time.monotonic() + timeout
        while True:
            message = await self.next(max(0.0, deadline - time.monotonic()))
            if message.get("type") == 1 and message.get("target") == target:
                return message

    async def drain(self, quiet: float = 0.15) -> list[dict[str, Any]]:
        """Everything (but pings) that arrives until ``quiet`` seconds pass without a message."""
        out: list[dict[str, Any]] = []
        while True:
            try:
                out.append(await self.next(quiet))
            except TimeoutError:
                return out


async def user_hub(gw: SimGateway, token: str, account: int = 7) -> Hub:
    hub = await Hub.open(gw.user_hub_url, token)
    await hub.send(
        {"type": 1, "target": "SubscribeAccounts", "arguments": []},
        {"type": 1, "target": "SubscribeOrders", "arguments": [account]},
        {"type": 1, "target": "SubscribePositions", "arguments": [account]},
        {"type": 1, "target": "SubscribeTrades", "arguments": [account], "invocationId": "sync"},
    )
    completion = await hub.next()
    assert completion == {"type": 3, "invocationId": "sync", "result": None}, completion
    return hub


def targets(messages: list[dict[str, Any]]) -> list[str]:
    return [m["target"] for m in messages if m.get("type") == 1]
