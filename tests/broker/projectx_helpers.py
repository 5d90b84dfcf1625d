"""A ProjectXClient wired to a SimGateway on loopback, with timings short enough for tests."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

from risk_manager.broker.port import BrokerEvent, ConnectionChange, HubMessage
from risk_manager.broker.projectx import HubSettings, ProjectXClient, ProjectXSettings, Recorder, Secret
from risk_manager.sim.app import SimGateway

USER = "trader"
API_KEY = "pk-TEST-0123456789abcdef"  # distinctive, so a leak is found by a plain substring search

FAST_HUB = HubSettings(
    open_timeout=2.0, keepalive_interval=0.1, server_timeout=0.5, subscribe_timeout=2.0,
    backoff_initial=0.02, backoff_max=0.2,
)


def settings(gw: SimGateway, hub: HubSettings = FAST_HUB, **overrides: Any) -> ProjectXSettings:
    values: dict[str, Any] = {"request_timeout": 2.0, **overrides}
    return ProjectXSettings(
        api_url=gw.base_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url,
        username=USER, api_key=Secret(API_KEY), hub=hub, **values,
    )


def client(gw: SimGateway, *, recorder: Recorder | None = None, clock: Callable[[], float] = time.time,
           hub: HubSettings = FAST_HUB, **kwargs: Any) -> ProjectXClient:
    return ProjectXClient(settings(gw, hub), recorder=recorder, clock=clock, rng=random.Random(1), **kwargs)


class Events:
    """Collects a client's event stream in the background; waits for a matching event."""

    def __init__(self, px: ProjectXClient) -> None:
        self.items: list[BrokerEvent] = []
        self._new = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._pump(px))

    async def _pump(self, px: ProjectXClient) -> None:
        async for item in px.events():
            self.items.append(item)
            self._new.set()

    async def wait_for(self, match: Callable[[BrokerEvent], bool], timeout: float = 5.0,
                       start: int = 0) -> BrokerEvent:
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            for item in self.items[seen:]:
                if match(item):
                    return item
            seen = len(self.items)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event; got {self.items[start:]!r}")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    def messages(self, target: str) -> list[HubMessage]:
        return [m for m in self.items if isinstance(m, HubMessage) and m.target == target]

    def changes(self) -> list[ConnectionChange]:
        return [c for c in self.items if isinstance(c, ConnectionChange)]

    def stop(self) -> None:
        self._task.cancel()


def target(name: str) -> Callable[[BrokerEvent], bool]:
    return lambda e: isinstance(e, HubMessage) and e.target == name


def restored(hub: str) -> Callable[[BrokerEvent], bool]:
    return lambda e: isinstance(e, ConnectionChange) and e.hub == hub and e.restored


def connected(hub: str) -> Callable[[BrokerEvent], bool]:
    return lambda e: isinstance(e, ConnectionChange) and e.hub == hub and e.state.value == "connected"
