"""A hub that stays connected: reconnect forever, a fresh token each attempt, resubscribe, report.

One ``ReconnectingHub`` per hub (user, market). Its loop:

1. take the current token (``token()`` renews or logs in as needed), open the socket, handshake;
2. start reading, then re-invoke every subscription and wait for each completion (the gateway keeps
   no subscriptions across connections, PROJECTX.md §3);
3. report CONNECTED (after a loss: ``restored``, the runtime's cue to reconcile over REST);
4. pass every server invocation on, untouched, until the connection ends: socket closed, close
   message, ``GatewayLogout``, or silence (nothing, not even a ping, for ``server_timeout``);
5. report the loss, wait a capped, jittered exponential backoff, and start over.

A refused token (401 on the upgrade) is dropped so the next attempt logs in again. Nothing ends the
loop but ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from risk_manager.broker.port import ConnectionChange, ConnectionState, HubMessage, HubName

from .auth import Secret
from .signalr import HubError, HubRefused, HubSocket, InvocationFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HubSettings:
    negotiate: bool = False  # the official client skips negotiation; the SDK's does it
    open_timeout: float = 10.0
    keepalive_interval: float = 15.0  # our pings when we sent nothing for this long
    server_timeout: float = 30.0  # ~2x the gateway's ping interval: silence this long = dead
    subscribe_timeout: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 60.0  # api_config connection.reconnect_max_delay


def backoff_delay(attempt: int, settings: HubSettings, rng: random.Random) -> float:
    """Exponential from ``backoff_initial``, capped at ``backoff_max``, jittered to 50-100 %
    (many daemons must not hammer a gateway that comes back all at the same instant)."""
    ceiling = min(settings.backoff_max, settings.backoff_initial * (2 ** min(attempt, 30)))
    return float(ceiling * rng.uniform(0.5, 1.0))


class ReconnectingHub:
    def __init__(
        self,
        name: HubName,
        url: str,
        *,
        token: Callable[[], Awaitable[Secret]],
        refused: Callable[[Secret], Awaitable[None]],
        on_message: Callable[[HubMessage], None],
        on_change: Callable[[ConnectionChange], None],
        settings: HubSettings = HubSettings(),
        rng: random.Random | None = None,
    ) -> None:
        self.name: HubName = name
        self.url = url
        self._token = token
        self._refused = refused
        self._on_message = on_message
        self._on_change = on_change
        self.settings = settings
        self._rng = rng or random.Random()
        self._subscriptions: dict[tuple[str, tuple[Any, ...]], None] = {}  # ordered set
        self._socket: HubSocket | None = None
        self._task: asyncio.Task[None] | None = None
        self.state = ConnectionState.CONNECTING
        self.connections = 0  # successful connections so far

    def __repr__(self) -> str:
        return f"ReconnectingHub({self.name!r}, {self.url!r}, state={self.state.value})"

    # ---- subscriptions ------------------------------------------------------------------------------

    async def subscribe(self, method: str, *args: Any) -> None:
        """Keep ``method(*args)`` subscribed on every connection from now on."""
        key = (method, args)
        if key in self._subscriptions:
            return
        self._subscriptions[key] = None
        await self._invoke_now(method, list(args))

    async def unsubscribe(self, method: str, *args: Any) -> None:
        """Stop renewing ``method(*args)`` and call its ``Unsubscribe...`` counterpart now."""
        if self._subscriptions.pop((method, args), "absent") == "absent":
            return
        await self._invoke_now("Unsubscribe" + method.removeprefix("Subscribe"), list(args))

    @property
    def subscriptions(self) -> list[tuple[str, tuple[Any, ...]]]:
        return list(self._subscriptions)

    async def _invoke_now(self, method: str, args: list[Any]) -> None:
        socket = self._socket
        if socket is None or self.state is not ConnectionState.CONNECTED:
            return  # the next connection subscribes it
        try:
            await socket.invoke(method, args, timeout=self.settings.subscribe_timeout)
        except InvocationFailed as exc:
            log.error("%s hub: %s%s failed: %s", self.name, method, tuple(args), exc)
        except HubError as exc:
            log.warning("%s hub: %s%s not confirmed (%s); it is renewed on reconnect", self.name, method,
                        tuple(args), exc)

    # ---- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"hub-{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state(ConnectionState.STOPPED, "stopped")

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                reason = await self._connect_once()
            except Exception as exc:  # a bug must not end the loop that keeps the account guarded
                log.exception("%s hub: unexpected failure; reconnecting", self.name)
                self._set_state(
                    ConnectionState.RECONNECTING if self.connections else ConnectionState.CONNECTING,
                    f"unexpected failure: {type(exc).__name__}",
                )
                reason = "unexpected failure"
            attempt = 0 if reason is None else attempt + 1
            delay = backoff_delay(attempt, self.settings, self._rng)
            log.info("%s hub: reconnecting in %.2f s", self.name, delay)
            await asyncio.sleep(delay)

    async def _connect_once(self) -> str | None:
        """One connection, from opening to its end. Returns None if it was ever connected (the
        backoff starts over), else why it failed."""
        token = await self._current_token()
        if token is None:
            return "no token"
        s = self.settings
        try:
            socket = await HubSocket.open(
                self.url, token, negotiate=s.negotiate, open_timeout=s.open_timeout,
                keepalive_interval=s.keepalive_interval, server_timeout=s.server_timeout,
            )
        except HubRefused as exc:
            log.warning("%s hub: %s", self.name, exc)
            await self._refused(token)
            return str(exc)
        except HubError as exc:
            log.warning("%s hub: %s", self.name, exc)
            return str(exc)
        loop = asyncio.get_running_loop()
        reader = loop.create_task(self._read(socket, token), name=f"hub-{self.name}-read")
        connected = False
        try:
            self._socket = socket
            # Until every subscription is confirmed on this connection, including any added while
            # we were awaiting completions (subscribe() only invokes directly once CONNECTED).
            confirmed: set[tuple[str, tuple[Any, ...]]] = set()
            while pending := [key for key in self._subscriptions if key not in confirmed]:
                for method, args in pending:
                    await socket.invoke(method, list(args), timeout=s.subscribe_timeout)
                    confirmed.add((method, args))
            if reader.done():
                reader.result()  # raises why it ended
            connected = True
            self.connections += 1
            self._set_state(ConnectionState.CONNECTED, "subscribed")
            await reader
        except (TimeoutError, HubError) as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("%s hub: connection ended: %s", self.name, reason)
            self._set_state(
                ConnectionState.RECONNECTING if self.connections else ConnectionState.CONNECTING, reason
            )
            return None if connected else reason
        finally:
            self._socket = None
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, HubError):
                await reader
            await socket.close()
        return None

    async def _current_token(self) -> Secret | None:
        try:
            return await self._token()
        except Exception as exc:  # login refused or gateway unreachable: keep trying, loudly
            log.error("%s hub: cannot get a session token: %s", self.name, exc)
            return None

    async def _read(self, socket: HubSocket, token: Secret) -> None:
        hub = self.name
        deliver = self._on_message
        async for received, batch in socket.messages():
            for message in batch:
                target = message.get("target")
                arguments = message.get("arguments")
                if not isinstance(target, str):
                    continue
                deliver(HubMessage(hub, target, arguments if isinstance(arguments, list) else [], received))
                if target == "GatewayLogout":
                    # The session was ended elsewhere: this token is dead; reconnect with a new one.
                    await self._refused(token)
                    raise HubError("GatewayLogout received")

    def _set_state(self, state: ConnectionState, reason: str) -> None:
        previous = self.state
        if state is previous:
            return
        self.state = state
        self._on_change(ConnectionChange(self.name, state, previous, datetime.now(UTC), reason))
