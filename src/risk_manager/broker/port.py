"""The broker port: what the daemon's enforcer and runtime need from a gateway, and nothing more.

The ProjectX adapter (``broker/projectx``) implements it; tests run it against the simulated
gateway, so the port is exercised over the real protocol. Rows come back typed (``broker/models``),
failures as ``broker/errors`` exceptions.

The event stream carries raw hub messages, untouched (``broker/normalize`` turns them into domain
events, and the recorder writes them as they came), interleaved with connection changes. A
``ConnectionChange`` whose ``restored`` is true is the signal to reconcile: the gateway does not replay
what was missed while the connection was down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, Protocol

from risk_manager.broker.models import Order, Position, Trade

HubName = Literal["user", "market"]


@dataclass(frozen=True, slots=True)
class HubMessage:
    """One invocation the gateway sent on a hub, exactly as received."""

    hub: HubName
    target: str
    arguments: list[Any]
    received_at: datetime  # UTC, when the frame holding it arrived


class ConnectionState(Enum):
    CONNECTING = "connecting"  # first connection attempt(s)
    CONNECTED = "connected"  # handshake done and every subscription confirmed
    RECONNECTING = "reconnecting"  # was connected, lost it, trying again
    STOPPED = "stopped"  # closed on purpose


@dataclass(frozen=True, slots=True)
class ConnectionChange:
    hub: HubName
    state: ConnectionState
    previous: ConnectionState
    at: datetime  # UTC
    reason: str = ""

    @property
    def lost(self) -> bool:
        """A working connection went away (events may be missed from now on). Stopping on purpose
        is not a loss: a recording must not end with a gap the replay would alert on."""
        return self.previous is ConnectionState.CONNECTED and self.state is ConnectionState.RECONNECTING

    @property
    def restored(self) -> bool:
        """Connected again after a loss, subscriptions renewed: time to reconcile over REST."""
        return self.state is ConnectionState.CONNECTED and self.previous is ConnectionState.RECONNECTING


BrokerEvent = HubMessage | ConnectionChange


class Broker(Protocol):
    """Reads and the enforcement calls. Mutating calls are sent once; on an error whose
    ``maybe_executed`` is true, search before acting again."""

    def events(self) -> AsyncIterator[BrokerEvent]: ...

    # ``urgent``: a read that enforcement waits on (a flatten's read-back); it goes before polling,
    # reconciling and stop moves, since a read stuck behind them would hold up the close.
    async def search_open_positions(self, account_id: int, *, urgent: bool = False) -> Sequence[Position]: ...

    async def search_open_orders(self, account_id: int, *, urgent: bool = False) -> Sequence[Order]: ...

    async def search_trades(self, account_id: int, since: datetime) -> Sequence[Trade]: ...

    async def close_position(self, account_id: int, contract_id: str) -> None: ...

    async def partial_close_position(self, account_id: int, contract_id: str, size: int) -> None: ...

    async def cancel_order(self, account_id: int, order_id: int) -> None: ...

    async def place_stop(
        self, account_id: int, contract_id: str, side: int, size: int, stop_price: Decimal,
        custom_tag: str | None = None,
    ) -> int: ...

    async def modify_stop(self, account_id: int, order_id: int, stop_price: Decimal) -> None: ...
