"""SignalR JSON hub protocol over WebSockets (aiohttp), and the two gateway hubs: user and market.

What the protocol layer does (PROJECTX.md §3 and §7):
- optional ``POST /hubs/{hub}/negotiate`` (negotiateVersion 0 or 1) before the socket, with the
  ``id=`` of the answer required on the socket afterwards; or a direct socket (skipNegotiation);
- the bearer token from ``access_token`` or ``Authorization`` is checked before the upgrade (401);
- handshake ``{"protocol":"json","version":1}`` answered ``{}`` before anything else;
- records terminated by 0x1E, several per frame both ways; invocations with an ``invocationId`` get
  a completion; server pings when idle for the ping interval; close messages; client timeout.

Outgoing messages go through a per-connection queue drained by one writer task that packs the queued
records into frames, so a fast market does not cost one WebSocket frame (and one syscall) per quote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from .broker import UserEvent
from .faults import FaultBook
from .market import MarketSimulator, MarketUpdate
from .stats import Stats
from .tokens import TokenBook, TokenInfo
from .wire import ACTION_NEW, ACTION_UPDATE, hub_payload

log = logging.getLogger(__name__)

RS = b"\x1e"
RS_STR = "\x1e"
PING = b'{"type":6}' + RS
HANDSHAKE_OK = b"{}" + RS


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message) + RS


def event(target: str, arguments: list[Any]) -> bytes:
    return orjson.dumps({"type": 1, "target": target, "arguments": arguments}) + RS


def bearer_token(request: web.Request) -> str | None:
    """Token of a hub request: ``access_token`` query (JS client, pysignalr) or Authorization header."""
    token = request.query.get("access_token")
    if token:
        return token
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


@dataclass(slots=True)
class HubSettings:
    ping_interval: float = 15.0  # server ping when nothing was sent for this long (ASP.NET KeepAliveInterval)
    client_timeout: float = 30.0  # close when the client sent nothing for this long (ClientTimeoutInterval)
    handshake_timeout: float = 15.0
    max_frame_bytes: int = 64 * 1024  # records packed per outgoing frame, at most
    max_queue_bytes: int = 64 * 1024 * 1024  # a client this far behind is dropped (slow consumer)
    negotiate_ttl: float = 60.0  # seconds a negotiated connection token waits for its socket


class HubError(Exception):
    """A hub method failure reported to the caller as a completion error."""


class HubConnection:
    """One client connection: its subscriptions, outgoing queue and writer."""

    def __init__(
        self, hub: Hub, ws: web.WebSocketResponse, request: web.Request, token: TokenInfo, conn_id: str
    ):
        self.hub = hub
        self.ws = ws
        self.request = request
        self.token = token
        self.id = conn_id
        self.out: deque[bytes] = deque()
        self.queued = 0
        self.wake = asyncio.Event()
        self.handshaken = False
        self.frozen = False
        self.closed = False
        self.close_after_flush = False
        self.subs: set[tuple[str, Any]] = set()
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.opened = loop.time()
        self.last_sent = self.opened
        self.last_received = self.opened
        self.sent_messages = 0

    def send(self, data: bytes) -> None:
        """Queue one or more encoded records (each ending in 0x1E)."""
        if self.frozen or self.closed or self.close_after_flush or not self.handshaken:
            return
        self._enqueue(data)

    def _enqueue(self, data: bytes) -> None:
        self.out.append(data)
        self.queued += len(data)
        if self.queued > self.hub.settings.max_queue_bytes:
            log.warning(
                "%s hub: dropping slow consumer %s (%d bytes queued)", self.hub.name, self.id, self.queued
            )
            self.out.clear()
            self.queued = 0
            self.abort()
            return
        self.wake.set()

    async def writer(self) -> None:
        ws = self.ws
        limit = self.hub.settings.max_frame_bytes
        try:
            while not self.closed:
                await self.wake.wait()
                self.wake.clear()
                while self.out:
                    if self.frozen:
                        self.out.clear()
                        self.queued = 0
                        break
                    parts: list[bytes] = []
                    size = 0
                    while self.out and size < limit:
                        chunk = self.out.popleft()
                        parts.append(chunk)
                        size += len(chunk)
                    self.queued -= size
                    self.sent_messages += len(parts)
                    await ws.send_frame(parts[0] if len(parts) == 1 else b"".join(parts), WSMsgType.TEXT)
                    self.last_sent = self._loop.time()
                if self.close_after_flush:
                    await ws.close()
                    return
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return

    def close(self, error: str | None = None, allow_reconnect: bool | None = None) -> None:
        """Send a SignalR close message (type 7) and close the socket after it."""
        if self.closed or self.close_after_flush:
            return
        message: dict[str, Any] = {"type": 7}
        if error is not None:
            message["error"] = error
        if allow_reconnect is not None:
            message["allowReconnect"] = allow_reconnect
        self.frozen = False
        self._enqueue(encode(message))
        self.close_after_flush = True
        self.wake.set()

    def abort(self) -> None:
        """Drop the TCP connection without any close frame (the client sees 1006)."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self.wake.set()


class Hub:
    """Protocol handling shared by both hubs; subclasses define methods and routing."""

    name = "hub"

    def __init__(self, tokens: TokenBook, stats: Stats, settings: HubSettings) -> None:
        self.tokens = tokens
        self.stats = stats
        self.settings = settings
        self.connections: dict[str, HubConnection] = {}
        self.index: dict[tuple[str, Any], set[HubConnection]] = {}
        self.methods: dict[str, tuple[str, Callable[[HubConnection, list[Any]], None], tuple[type, ...]]] = {}
        self._negotiated: dict[str, float] = {}  # connection token -> time negotiated (loop time)

    # ---- method table -----------------------------------------------------------------------------

    def method(self, name: str, fn: Callable[[HubConnection, list[Any]], None], *arg_types: type) -> None:
        self.methods[name.lower()] = (name, fn, arg_types)  # hub method names are case-insensitive

    # ---- subscriptions ------------------------------------------------------------------------------

    def subscribe(self, conn: HubConnection, key: tuple[str, Any]) -> None:
        conn.subs.add(key)
        self.index.setdefault(key, set()).add(conn)

    def unsubscribe(self, conn: HubConnection, key: tuple[str, Any]) -> None:
        conn.subs.discard(key)
        conns = self.index.get(key)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.index[key]

    def subscribers(self, key: tuple[str, Any]) -> set[HubConnection] | None:
        return self.index.get(key)

    # ---- HTTP endpoints -----------------------------------------------------------------------------

    async def negotiate(self, request: web.Request) -> web.Response:
        self.stats.negotiations[self.name] += 1
        if self.tokens.valid(bearer_token(request)) is None:
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        version = request.query.get("negotiateVersion", "0")
        now = asyncio.get_running_loop().time()
        self._expire_negotiations(now)
        conn_id = secrets.token_urlsafe(16)
        body: dict[str, Any] = {"connectionId": conn_id}
        if version not in ("", "0"):
            token = secrets.token_urlsafe(16)
            body.update(connectionToken=token, negotiateVersion=1)
        else:
            token = conn_id
            body.update(negotiateVersion=0)
        body["availableTransports"] = [{"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}]
        self._negotiated[token] = now
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    def _expire_negotiations(self, now: float) -> None:
        ttl = self.settings.negotiate_ttl
        for token, at in list(self._negotiated.items()):
            if now - at > ttl:
                del self._negotiated[token]

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        info = self.tokens.valid(bearer_token(request))
        if info is None:
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        conn_id = request.query.get("id")
        if conn_id is not None:
            self._expire_negotiations(asyncio.get_running_loop().time())
            if self._negotiated.pop(conn_id, None) is None:
                return web.Response(status=404, text="No Connection with that ID")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1024 * 1024)
        if not ws.can_prepare(request).ok:
            return web.Response(
                status=400, text="Connection ID required" if conn_id is None else "Not a WebSocket request"
            )
        await ws.prepare(request)
        conn = HubConnection(self, ws, request, info, conn_id or secrets.token_urlsafe(16))
        self.connections[conn.id] = conn
        writer = asyncio.create_task(conn.writer(), name=f"{self.name}-writer-{conn.id}")
        keepalive = asyncio.create_task(self._keepalive(conn), name=f"{self.name}-keepalive-{conn.id}")
        try:
            await self._read(conn)
        finally:
            conn.closed = True
            conn.wake.set()
            keepalive.cancel()
            for key in list(conn.subs):
                self.unsubscribe(conn, key)
            self.connections.pop(conn.id, None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(writer, timeout=1.0)
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()
        return ws

    async def _read(self, conn: HubConnection) -> None:
        ws = conn.ws
        buffer = ""
        loop = asyncio.get_running_loop()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                data = msg.data
            elif msg.type == WSMsgType.BINARY:
                data = msg.data.decode("utf-8", "replace")
            else:
                break
            conn.last_received = loop.time()
            if conn.frozen or conn.closed:
                continue  # a frozen server neither answers nor acts
            buffer += data
            if RS_STR not in buffer:
                continue
            *records, buffer = buffer.split(RS_STR)
            for record in records:
                if not record:
                    continue
                if not conn.handshaken:
                    if not await self._handshake(conn, record):
                        return
                    continue
                try:
                    message = orjson.loads(record)
                except orjson.JSONDecodeError:
                    conn.close(
                        error="Connection closed with an error. InvalidDataException: invalid JSON message."
                    )
                    return
                if not isinstance(message, dict):
                    conn.close(
                        error="Connection closed with an error. InvalidDataException: not a JSON object."
                    )
                    return
                if not self._dispatch(conn, message):
                    return

    async def _handshake(self, conn: HubConnection, record: str) -> bool:
        try:
            request = orjson.loads(record)
        except orjson.JSONDecodeError:
            request = None
        error: str | None = None
        if not isinstance(request, dict) or "protocol" not in request:
            error = "Handshake request is not a valid JSON object with 'protocol' and 'version'."
        elif request.get("protocol") != "json":
            error = f"The protocol '{request.get('protocol')}' is not supported."
        elif request.get("version") != 1:
            error = f"The server does not support version {request.get('version')} of the 'json' protocol."
        if error is not None:
            conn._enqueue(encode({"error": error}))
            conn.close_after_flush = True
            conn.wake.set()
            return False
        # The reply goes out alone, in its own frame, before anything else can be queued: some clients
        # parse the first frame as the handshake only.
        await conn.ws.send_frame(HANDSHAKE_OK, WSMsgType.TEXT)
        conn.last_sent = asyncio.get_running_loop().time()
        conn.handshaken = True
        self.stats.hub_connections[self.name] += 1
        self.on_connected(conn)
        return True

    def _dispatch(self, conn: HubConnection, message: dict[str, Any]) -> bool:
        kind = message.get("type")
        if kind == 1 or kind == 4:
            self._invoke(conn, message, streaming=kind == 4)
        elif kind == 6:
            pass  # client ping: its arrival already refreshed last_received
        elif kind == 7:
            conn.close_after_flush = True
            conn.wake.set()
            return False
        elif kind in (2, 3, 5):
            pass  # stream items / completions / cancels: not used by the gateway, ignored
        else:
            conn.close(
                error=f"Connection closed with an error. InvalidDataException: Unknown message type '{kind}'."
            )
            return False
        return True

    def _invoke(self, conn: HubConnection, message: dict[str, Any], *, streaming: bool) -> None:
        target = message.get("target")
        args = message.get("arguments", [])
        invocation_id = message.get("invocationId")
        error: str | None = None
        failed = f"Failed to invoke '{target}' due to an error on the server."
        entry = self.methods.get(target.lower()) if isinstance(target, str) else None
        self.stats.hub_invocations[f"{self.name}:{entry[0] if entry else target}"] += 1
        if entry is None:
            error = f"{failed} HubException: Method does not exist."
        elif streaming:
            error = (
                f"{failed} HubException: The client attempted to invoke the non-streaming '{entry[0]}' "
                "method with a streaming invocation."
            )
        elif not isinstance(args, list) or len(args) != len(entry[2]):
            n = len(args) if isinstance(args, list) else 0
            error = (
                f"{failed} InvalidDataException: Invocation provides {n} argument(s) "
                f"but target expects {len(entry[2])}."
            )
        elif not all(
            isinstance(a, t) and not (isinstance(a, bool) and t is int)
            for a, t in zip(args, entry[2], strict=True)
        ):
            error = (
                f"{failed} InvalidDataException: Error binding arguments. Make sure that the types of the "
                "provided values match the types of the hub method being invoked."
            )
        else:
            try:
                entry[1](conn, args)
            except HubError as exc:
                error = f"Failed to invoke '{entry[0]}' due to an error on the server. HubException: {exc}"
        if invocation_id is not None:
            completion: dict[str, Any] = {"type": 3, "invocationId": invocation_id}
            if error is None:
                completion["result"] = None
            else:
                completion["error"] = error
            conn.send(encode(completion))

    async def _keepalive(self, conn: HubConnection) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        tick = max(0.005, min(s.ping_interval / 4, 1.0))
        try:
            while not conn.closed:
                await asyncio.sleep(tick)
                now = loop.time()
                if not conn.handshaken:
                    if now - conn.opened > s.handshake_timeout:
                        conn.abort()
                        return
                    continue
                if conn.frozen:
                    continue
                if now - conn.last_received > s.client_timeout:
                    conn.close(error="Server timeout elapsed without receiving a message from the client.")
                    return
                if now - conn.last_sent >= s.ping_interval and not conn.out:
                    conn.send(PING)
                    conn.last_sent = now  # do not queue another before the writer runs
        except asyncio.CancelledError:
            return

    # ---- fault actions --------------------------------------------------------------------------------

    def drop_all(self) -> int:
        conns = list(self.connections.values())
        for conn in conns:
            conn.abort()
        return len(conns)

    def freeze_all(self) -> int:
        conns = list(self.connections.values())
        for conn in conns:
            conn.frozen = True
        return len(conns)

    def thaw_all(self) -> int:
        conns = list(self.connections.values())
        for conn in conns:
            conn.frozen = False
        return len(conns)

    def close_all(self, error: str | None, allow_reconnect: bool | None) -> int:
        conns = list(self.connections.values())
        for conn in conns:
            conn.close(error, allow_reconnect)
        return len(conns)

    async def shutdown(self) -> None:
        for conn in list(self.connections.values()):
            conn.close(error="Server is shutting down.", allow_reconnect=True)
        await asyncio.sleep(0)

    def on_connected(self, conn: HubConnection) -> None:
        """Hook after a successful handshake."""

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "id": c.id,
                "user": c.token.user,
                "frozen": c.frozen,
                "subscriptions": sorted(f"{k}:{v}" if v is not None else k for k, v in c.subs),
                "sentMessages": c.sent_messages,
                "queuedBytes": c.queued,
            }
            for c in self.connections.values()
        ]


# ---- user hub -----------------------------------------------------------------------------------------

_USER_TARGET_KIND = {
    "GatewayUserAccount": "accounts",
    "GatewayUserOrder": "orders",
    "GatewayUserPosition": "positions",
    "GatewayUserTrade": "trades",
}


class UserHub(Hub):
    name = "user"

    def __init__(
        self, tokens: TokenBook, stats: Stats, settings: HubSettings, faults: FaultBook, live: bool = True
    ) -> None:
        super().__init__(tokens, stats, settings)
        self.faults = faults
        self.live = live
        self.method("SubscribeAccounts", lambda c, a: self.subscribe(c, ("accounts", None)))
        self.method("UnsubscribeAccounts", lambda c, a: self.unsubscribe(c, ("accounts", None)))
        for kind in ("Orders", "Positions", "Trades"):
            key = kind.lower()
            self.method(f"Subscribe{kind}", self._subscriber(key), int)
            self.method(f"Unsubscribe{kind}", self._unsubscriber(key), int)

    def _subscriber(self, kind: str) -> Callable[[HubConnection, list[Any]], None]:
        return lambda conn, args: self.subscribe(conn, (kind, args[0]))

    def _unsubscriber(self, kind: str) -> Callable[[HubConnection, list[Any]], None]:
        return lambda conn, args: self.unsubscribe(conn, (kind, args[0]))

    def publish(self, batch: list[UserEvent]) -> None:
        """Route one broker batch to the subscribed connections, after the event faults."""
        if not self.index:
            return
        batch = self.faults.transform(batch)
        for target, account_id, payload in batch:
            kind = _USER_TARGET_KIND[target]
            conns = self.index.get((kind, None if kind == "accounts" else account_id))
            if conns:
                data = event(target, [self._argument(target, payload)])
                for conn in conns:
                    conn.send(data)

    def _argument(self, target: str, payload: dict[str, object]) -> object:
        """Live, each argument is wrapped and carries only the fields that have a value (§2b)."""
        if not self.live:
            return payload
        action = ACTION_NEW if target == "GatewayUserTrade" else ACTION_UPDATE
        return {"action": action, "data": hub_payload(payload)}


# ---- market hub ---------------------------------------------------------------------------------------


class MarketHub(Hub):
    name = "market"

    def __init__(
        self,
        tokens: TokenBook,
        stats: Stats,
        settings: HubSettings,
        market: MarketSimulator,
        partial_quotes: bool,
    ) -> None:
        super().__init__(tokens, stats, settings)
        self.market = market
        self.partial_quotes = partial_quotes
        self._last_quote: dict[str, dict[str, Any]] = {}
        for kind, suffix in (("quotes", "Quotes"), ("trades", "Trades"), ("depth", "MarketDepth")):
            self.method(f"SubscribeContract{suffix}", self._subscriber(kind), str)
            self.method(f"UnsubscribeContract{suffix}", self._unsubscriber(kind), str)

    def _known(self, contract_id: str) -> None:
        if contract_id not in self.market.books:
            raise HubError(f"Contract {contract_id} not found.")

    def _subscriber(self, kind: str) -> Callable[[HubConnection, list[Any]], None]:
        def subscribe(conn: HubConnection, args: list[Any]) -> None:
            cid = args[0]
            self._known(cid)
            self.subscribe(conn, (kind, cid))
            book = self.market.books[cid]
            if kind == "quotes":
                full = book.quote_payload(self.market.stamp)
                # The new subscriber's baseline is this snapshot; existing subscribers already saw every
                # update up to it, so it is the right baseline for the next diff for everyone.
                self._last_quote[cid] = full
                conn.send(event("GatewayQuote", [cid, full]))
            elif kind == "depth":
                conn.send(
                    event("GatewayDepth", [cid, book.depth_snapshot(self.market.rng, self.market.stamp)])
                )

        return subscribe

    def _unsubscriber(self, kind: str) -> Callable[[HubConnection, list[Any]], None]:
        return lambda conn, args: self.unsubscribe(conn, (kind, args[0]))

    def publish(self, update: MarketUpdate) -> None:
        if not self.index:
            return
        cid = update.contract_id
        conns = self.index.get(("quotes", cid))
        if conns:
            payload = update.book.quote_payload(self.market.stamp)
            if self.partial_quotes:
                payload = self._diff(cid, payload)
            data = event("GatewayQuote", [cid, payload])
            for conn in conns:
                conn.send(data)
        if update.trade_price is not None:
            conns = self.index.get(("trades", cid))
            if conns:
                data = event("GatewayTrade", [cid, update.trade_payload(self.market.stamp)])
                for conn in conns:
                    conn.send(data)
        conns = self.index.get(("depth", cid))
        if conns:
            data = event("GatewayDepth", [cid, update.depth_payload(self.market.stamp)])
            for conn in conns:
                conn.send(data)

    def _diff(self, cid: str, full: dict[str, Any]) -> dict[str, Any]:
        """Only the fields that changed since the last quote of this contract (plus identity and time)."""
        last = self._last_quote.get(cid)
        self._last_quote[cid] = full
        if last is None:
            return full
        return {
            k: v
            for k, v in full.items()
            if k in ("symbol", "symbolName", "timestamp", "lastUpdated") or last.get(k) != v
        }


def all_connections(hubs: Iterable[Hub]) -> int:
    return sum(len(h.connections) for h in hubs)
