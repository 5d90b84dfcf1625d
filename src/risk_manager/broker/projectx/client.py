"""The ProjectX Gateway client the daemon uses: REST calls and both hubs behind the broker port.

- ``start()`` logs in (so a wrong key is reported at once), then connects both hubs in the background.
- ``events()`` yields every hub message, untouched, and every connection change, in arrival order.
  A change with ``restored`` true means: reconcile now (``on_reconnected`` callbacks fire too).
- ``subscribe_account`` / ``subscribe_contract`` are remembered and renewed after every reconnect.
- The calls below are the ones the daemon needs, each with its budget priority (budget.py) and
  mutating calls sent once (rest.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from risk_manager.broker.models import Account, Bar, Contract, Order, Position, Trade, rows
from risk_manager.broker.port import (
    Broker,
    BrokerEvent,
    ConnectionChange,
    ConnectionState,
    HubMessage,
    HubName,
)

from .budget import HISTORY, BudgetGate, Priority, RequestBudget
from .hubs import ReconnectingHub
from .recorder import Recorder, iso_utc
from .rest import GatewayRest
from .settings import ProjectXSettings

log = logging.getLogger(__name__)

ORDER_TYPE_STOP = 4  # OrderType (PROJECTX.md §2): 4 = Stop


class ProjectXClient:
    def __init__(
        self,
        settings: ProjectXSettings,
        *,
        budget: RequestBudget | None = None,
        recorder: Recorder | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.recorder = recorder
        self.rest = GatewayRest(
            settings.api_url, settings.username, settings.api_key,
            request_timeout=settings.request_timeout, gate=BudgetGate(budget), clock=clock,
        )
        self._queue: asyncio.Queue[BrokerEvent] = asyncio.Queue()
        self._reconnected: list[Callable[[ConnectionChange], None]] = []
        self._accounts_subscribed = False
        self.user_hub = self._hub("user", settings.user_hub_url, rng)
        self.market_hub = self._hub("market", settings.market_hub_url, rng)

    def _hub(self, name: HubName, url: str, rng: random.Random | None) -> ReconnectingHub:
        tokens = self.rest.tokens
        return ReconnectingHub(name, url, token=tokens.token, refused=tokens.refused,
                               on_message=self._on_message, on_change=self._on_change,
                               settings=self.settings.hub, rng=rng)

    def __repr__(self) -> str:
        s = self.settings
        return f"ProjectXClient({s.api_url!r}, user={s.username!r}, state={self.state.value})"

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in (raises LoginFailed / GatewayError at once), then start both hubs."""
        await self.rest.tokens.token()
        self.user_hub.start()
        self.market_hub.start()

    async def close(self) -> None:
        await self.user_hub.stop()
        await self.market_hub.stop()
        await self.rest.aclose()
        if self.recorder is not None:
            self.recorder.close()

    async def __aenter__(self) -> ProjectXClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- events and connection state ------------------------------------------------------------------

    async def events(self) -> AsyncIterator[BrokerEvent]:
        while True:
            yield await self._queue.get()

    def on_reconnected(self, callback: Callable[[ConnectionChange], None]) -> None:
        """Call ``callback`` each time a hub is connected again after a loss (reconcile there)."""
        self._reconnected.append(callback)

    @property
    def state(self) -> ConnectionState:
        """CONNECTED when both hubs are; else the worst of the two."""
        states = {self.user_hub.state, self.market_hub.state}
        for state in (ConnectionState.STOPPED, ConnectionState.RECONNECTING, ConnectionState.CONNECTING):
            if state in states:
                return state
        return ConnectionState.CONNECTED

    def _on_message(self, message: HubMessage) -> None:
        if self.recorder is not None:
            self._record(self.recorder.message, message)
        self._queue.put_nowait(message)

    def _on_change(self, change: ConnectionChange) -> None:
        log.log(logging.WARNING if change.lost else logging.INFO, "%s hub: %s -> %s (%s) at %s", change.hub,
                change.previous.value, change.state.value, change.reason, iso_utc(change.at))
        if self.recorder is not None:
            self._record(self.recorder.connection, change)
        self._queue.put_nowait(change)
        if change.restored:
            for callback in self._reconnected:
                callback(change)

    def _record(self, write: Callable[[Any], None], item: HubMessage | ConnectionChange) -> None:
        # A full disk must not stop the feed that enforcement depends on: stop recording, loudly.
        try:
            write(item)
        except OSError as exc:
            log.error("recording stopped: cannot write %s: %s", self.recorder, exc)
            self.recorder = None

    # ---- subscriptions ------------------------------------------------------------------------------

    async def subscribe_account(self, account_id: int) -> None:
        """Account, order, position and trade events of ``account_id``, on every connection."""
        if not self._accounts_subscribed:
            self._accounts_subscribed = True
            await self.user_hub.subscribe("SubscribeAccounts")
        for method in ("SubscribeOrders", "SubscribePositions", "SubscribeTrades"):
            await self.user_hub.subscribe(method, account_id)

    async def unsubscribe_account(self, account_id: int) -> None:
        for method in ("SubscribeOrders", "SubscribePositions", "SubscribeTrades"):
            await self.user_hub.unsubscribe(method, account_id)

    async def subscribe_contract(self, contract_id: str) -> None:
        """Quotes of ``contract_id`` (subscribe while any monitored position holds it)."""
        await self.market_hub.subscribe("SubscribeContractQuotes", contract_id)

    async def unsubscribe_contract(self, contract_id: str) -> None:
        await self.market_hub.unsubscribe("SubscribeContractQuotes", contract_id)

    # ---- reads (ROUTINE: they wait behind enforcement, unless enforcement waits on them) -------------

    async def _read(
        self, endpoint: str, body: dict[str, Any], bucket: str = "default", *, urgent: bool = False
    ) -> dict[str, Any]:
        priority = Priority.CLOSE if urgent else Priority.ROUTINE  # urgent: enforcement waits on it
        return await self.rest.call(endpoint, body, priority=priority, mutating=False, bucket=bucket)

    async def search_accounts(self, only_active: bool = True) -> list[Account]:
        e = "Account/search"
        answer = await self._read(e, {"onlyActiveAccounts": only_active})
        return [Account.parse(e, row) for row in rows(e, answer, "accounts")]

    async def search_open_positions(self, account_id: int, *, urgent: bool = False) -> list[Position]:
        e = "Position/searchOpen"
        answer = await self._read(e, {"accountId": account_id}, urgent=urgent)
        return [Position.parse(e, row) for row in rows(e, answer, "positions")]

    async def search_open_orders(self, account_id: int, *, urgent: bool = False) -> list[Order]:
        e = "Order/searchOpen"
        answer = await self._read(e, {"accountId": account_id}, urgent=urgent)
        return [Order.parse(e, row) for row in rows(e, answer, "orders")]

    async def search_trades(
        self, account_id: int, since: datetime, until: datetime | None = None
    ) -> list[Trade]:
        e = "Trade/search"
        answer = await self._read(e, {"accountId": account_id, "startTimestamp": _iso(since),
                                      "endTimestamp": None if until is None else _iso(until)})
        return [Trade.parse(e, row) for row in rows(e, answer, "trades")]

    async def search_contracts(self, text: str, live: bool = False) -> list[Contract]:
        e = "Contract/search"
        answer = await self._read(e, {"searchText": text, "live": live})
        return [Contract.parse(e, row) for row in rows(e, answer, "contracts")]

    async def retrieve_bars(
        self, contract_id: str, start: datetime, end: datetime, *, unit: int = 2, unit_number: int = 1,
        limit: int = 100, live: bool = False,
    ) -> list[Bar]:
        """Bars, newest first (``unit``: 1 s, 2 min, 3 h, 4 day); 50 requests / 30 s of their own."""
        e = "History/retrieveBars"
        body = {"contractId": contract_id, "live": live, "startTime": _iso(start), "endTime": _iso(end),
                "unit": unit, "unitNumber": unit_number, "limit": limit, "includePartialBar": True}
        answer = await self._read(e, body, HISTORY)
        return [Bar.parse(e, row) for row in rows(e, answer, "bars")]

    # ---- enforcement (sent once each; see rest.py) ----------------------------------------------------

    async def close_position(self, account_id: int, contract_id: str) -> None:
        await self.rest.call("Position/closeContract", {"accountId": account_id, "contractId": contract_id},
                             priority=Priority.CLOSE, mutating=True)

    async def partial_close_position(self, account_id: int, contract_id: str, size: int) -> None:
        await self.rest.call("Position/partialCloseContract",
                             {"accountId": account_id, "contractId": contract_id, "size": size},
                             priority=Priority.CLOSE, mutating=True)

    async def cancel_order(self, account_id: int, order_id: int) -> None:
        await self.rest.call("Order/cancel", {"accountId": account_id, "orderId": order_id},
                             priority=Priority.CLOSE, mutating=True)

    async def place_stop(
        self, account_id: int, contract_id: str, side: int, size: int, stop_price: Decimal,
        custom_tag: str | None = None,
    ) -> int:
        """A stop order; ``side`` is the order's (0 buy, 1 sell: a long is protected by a sell stop)."""
        e = "Order/place"
        body: dict[str, Any] = {"accountId": account_id, "contractId": contract_id, "type": ORDER_TYPE_STOP,
                                "side": side, "size": size, "stopPrice": float(stop_price)}
        if custom_tag is not None:
            body["customTag"] = custom_tag
        answer = await self.rest.call(e, body, priority=Priority.PROTECT, mutating=True)
        order_id = answer.get("orderId")
        if isinstance(order_id, bool) or not isinstance(order_id, int):
            from risk_manager.broker.errors import ProtocolError

            raise ProtocolError(e, f"no orderId in the answer, got {order_id!r}")
        return order_id

    async def modify_stop(self, account_id: int, order_id: int, stop_price: Decimal) -> None:
        """Move a stop. While a move of the same order waits for the budget, a newer one replaces it
        (latest wins) and both calls return when that one request is answered."""
        await self.rest.call("Order/modify",
                             {"accountId": account_id, "orderId": order_id, "stopPrice": float(stop_price)},
                             priority=Priority.PROTECT, mutating=True, coalesce=("Order/modify", order_id))


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError(f"a gateway timestamp must be timezone-aware (UTC), got {at!r}")
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_broker(client: ProjectXClient) -> Broker:
    """The client seen through the port (and the place where mypy checks that it implements it)."""
    return client
