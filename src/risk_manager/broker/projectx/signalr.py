"""One SignalR connection (JSON hub protocol over WebSockets), as the gateway speaks it.

PROJECTX.md §3 and §7: optional negotiate, the handshake ``{"protocol":"json","version":1}`` answered
``{}``, records terminated by 0x1E (several per frame), invocations (type 1), completions (3), pings
(6) both ways, close (7). This module knows nothing of reconnecting or subscriptions (hubs.py).

The bearer token goes in the ``Authorization`` header, not the ``access_token`` query: URLs end up in
logs and error messages, headers do not (and websockets' own debug log, which prints request
headers, is pinned to INFO below).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from .auth import Secret

log = logging.getLogger(__name__)
# websockets logs every request header (our bearer token) at DEBUG: never let that level through.
_WS_LOG = logging.getLogger("risk_manager.broker.projectx.websocket")
_WS_LOG.setLevel(logging.INFO)

RS = "\x1e"
HANDSHAKE = '{"protocol":"json","version":1}' + RS
PING = '{"type":6}' + RS
INVOCATION, COMPLETION, PING_TYPE, CLOSE = 1, 3, 6, 7


class HubError(Exception):
    """The connection failed or ended; the reconnect loop starts over."""


class HubRefused(HubError):
    """The gateway refused the token (HTTP 401 on negotiate or upgrade)."""


class HubClosed(HubError):
    """The gateway closed the connection (close message or socket closed)."""

    def __init__(self, reason: str, allow_reconnect: bool = True) -> None:
        super().__init__(reason)
        self.allow_reconnect = allow_reconnect


class HubSilent(HubError):
    """Nothing arrived (not even a ping) for the server timeout: the connection is dead."""


class InvocationFailed(HubError):
    """The gateway answered an invocation with an error completion."""


def split_records(buffer: str, frame: str) -> tuple[list[str], str]:
    """The complete records of ``buffer + frame`` and the incomplete tail to keep."""
    *records, rest = (buffer + frame).split(RS)
    return [r for r in records if r], rest


def ws_url(http_url: str) -> str:
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://"):]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://"):]
    return http_url


class HubSocket:
    """An open, handshaken connection. ``messages()`` yields server invocations until it ends."""

    def __init__(self, ws: ClientConnection, *, keepalive_interval: float, server_timeout: float) -> None:
        self.ws = ws
        self.keepalive_interval = keepalive_interval
        self.server_timeout = server_timeout
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        loop = asyncio.get_running_loop()
        self._last_sent = loop.time()
        self._keepalive = loop.create_task(self._send_pings(), name="signalr-keepalive")

    @classmethod
    async def open(
        cls,
        url: str,
        token: Secret,
        *,
        negotiate: bool = False,
        open_timeout: float = 10.0,
        keepalive_interval: float = 15.0,
        server_timeout: float = 30.0,
    ) -> HubSocket:
        auth = {"Authorization": f"Bearer {token.reveal()}"}
        target = ws_url(url)
        if negotiate:
            target += "?id=" + await _negotiate(url, auth, open_timeout)
        try:
            ws = await connect(
                target,
                additional_headers=auth,
                open_timeout=open_timeout,
                close_timeout=1.0,
                max_size=4 * 1024 * 1024,  # market depth snapshots exceed the 1 MiB default (PROJECTX §3)
                logger=_WS_LOG,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise HubRefused(f"{url}: the gateway refused the token (HTTP 401)") from None
            raise HubError(f"{url}: WebSocket upgrade answered HTTP {status}") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise HubError(f"{url}: cannot connect: {type(exc).__name__}") from None
        try:
            await ws.send(HANDSHAKE)
            reply = await asyncio.wait_for(ws.recv(), open_timeout)
        except (TimeoutError, ConnectionClosed) as exc:
            await ws.close()
            raise HubError(f"{url}: no handshake answer: {type(exc).__name__}") from None
        text = reply if isinstance(reply, str) else reply.decode()
        records, rest = split_records("", text)
        answer = orjson.loads(records[0]) if records else None
        if not isinstance(answer, dict) or answer.get("error"):
            await ws.close()
            detail = answer.get("error") if isinstance(answer, dict) else repr(text[:100])
            raise HubError(f"{url}: handshake refused: {detail}")
        socket = cls(ws, keepalive_interval=keepalive_interval, server_timeout=server_timeout)
        socket._leftover = (records[1:], rest)
        return socket

    _leftover: tuple[list[str], str] = ([], "")

    async def invoke(self, target: str, args: list[Any], *, timeout: float | None = None) -> None:
        """Call a hub method. With ``timeout``, wait for its completion (InvocationFailed on error)."""
        message: dict[str, Any] = {"type": INVOCATION, "target": target, "arguments": args}
        future: asyncio.Future[Any] | None = None
        if timeout is not None:
            invocation_id = str(next(self._ids))
            message["invocationId"] = invocation_id
            future = asyncio.get_running_loop().create_future()
            self._pending[invocation_id] = future
        await self._send(orjson.dumps(message).decode() + RS)
        if future is not None:
            try:
                await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise HubError(f"no completion for {target} within {timeout:g} s") from None
            finally:
                self._pending.pop(message["invocationId"], None)

    async def messages(self) -> AsyncIterator[tuple[datetime, list[dict[str, Any]]]]:
        """Batches of server invocations, one batch per frame, with the frame's receive time.

        Ends by raising HubClosed or HubSilent; completions and pings are handled here."""
        try:
            async for item in self._frames():
                yield item
        except HubError as exc:
            self._fail_pending(exc)
            raise

    async def _frames(self) -> AsyncIterator[tuple[datetime, list[dict[str, Any]]]]:
        records, buffer = self._leftover
        if records:
            batch = self._dispatch(records)
            if batch:
                yield datetime.now(UTC), batch
        while True:
            try:
                async with asyncio.timeout(self.server_timeout):
                    frame = await self.ws.recv()
            except TimeoutError:
                raise HubSilent(f"nothing received for {self.server_timeout:g} s") from None
            except ConnectionClosed as exc:
                raise HubClosed(f"socket closed (code {exc.rcvd.code if exc.rcvd else 1006})") from None
            received = datetime.now(UTC)
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            records, buffer = split_records(buffer, text)
            batch = self._dispatch(records)
            if batch:
                yield received, batch

    def _dispatch(self, records: list[str]) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        for record in records:
            try:
                message = orjson.loads(record)
            except orjson.JSONDecodeError:
                log.warning("hub sent a record that is not JSON (%d bytes); skipped", len(record))
                continue
            if not isinstance(message, dict):
                continue
            kind = message.get("type")
            if kind == INVOCATION:
                batch.append(message)
            elif kind == COMPLETION:
                self._complete(message)
            elif kind == CLOSE:
                error = message.get("error")
                raise HubClosed(
                    f"closed by the gateway: {error}" if error else "closed by the gateway",
                    message.get("allowReconnect") is not False,
                )
            # pings (6) only prove the connection is alive; streams (2, 4, 5) are not used by the gateway
        return batch

    def _complete(self, message: dict[str, Any]) -> None:
        future = self._pending.get(str(message.get("invocationId")))
        if future is None or future.done():
            return
        if message.get("error"):
            future.set_exception(InvocationFailed(str(message["error"])))
        else:
            future.set_result(message.get("result"))

    async def _send(self, text: str) -> None:
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            raise HubClosed("socket closed while sending") from None
        self._last_sent = asyncio.get_running_loop().time()

    async def _send_pings(self) -> None:
        # The gateway closes a client that is silent for its client timeout (30 s by default).
        loop = asyncio.get_running_loop()
        with contextlib.suppress(HubClosed, ConnectionClosed, asyncio.CancelledError):
            while True:
                await asyncio.sleep(max(0.0, self._last_sent + self.keepalive_interval - loop.time()))
                if loop.time() - self._last_sent >= self.keepalive_interval:
                    await self._send(PING)

    def _fail_pending(self, error: HubError) -> None:
        # An invocation waiting for its completion must learn the connection is gone now, not at
        # its timeout: the reconnect loop is waiting on it.
        for future in self._pending.values():
            if not future.done():
                future.set_exception(HubClosed(f"connection ended before the completion: {error}"))
                future.exception()

    async def close(self) -> None:
        self._keepalive.cancel()
        self._fail_pending(HubClosed("connection closed"))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2.0)


async def _negotiate(url: str, auth: dict[str, str], timeout: float) -> str:
    """POST {url}/negotiate; the connection token the socket must present as ``id``."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.post(f"{url}/negotiate?negotiateVersion=1", headers=auth)
    except httpx.HTTPError as exc:
        raise HubError(f"{url}/negotiate: {type(exc).__name__}") from None
    if response.status_code == 401:
        raise HubRefused(f"{url}/negotiate: the gateway refused the token (HTTP 401)")
    if response.status_code != 200:
        raise HubError(f"{url}/negotiate: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise HubError(f"{url}/negotiate: the answer is not JSON") from None
    token = body.get("connectionToken") or body.get("connectionId") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise HubError(f"{url}/negotiate: no connectionToken in the answer")
    return token
