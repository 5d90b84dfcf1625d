"""A bounded queue that never blocks the producer: when full, the oldest LOW-priority item goes.

The enforcement path hands notifications over with ``put``; it must never wait and never fail, so
the queue makes room instead of refusing: first by dropping the oldest LOW item, and only when it
holds nothing but HIGH items by dropping the oldest of those. Every drop is counted.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque

from risk_manager.notify.notification import Notification, Priority


class NotificationQueue:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a notification queue holds at least 1 item; got capacity {capacity}")
        self.capacity = capacity
        self.dropped = 0
        # Two deques keep every operation O(1); the sequence number restores arrival order.
        self._low: deque[tuple[int, Notification]] = deque()
        self._high: deque[tuple[int, Notification]] = deque()
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self._woken = False

    def __len__(self) -> int:
        return len(self._low) + len(self._high)

    def put(self, item: Notification) -> None:
        if len(self._low) + len(self._high) >= self.capacity:
            self.dropped += 1
            if self._low:
                self._low.popleft()
            elif item.priority is Priority.LOW:
                return  # only HIGH items queued: the new LOW one is the one to lose
            else:
                self._high.popleft()
        target = self._high if item.priority is Priority.HIGH else self._low
        target.append((next(self._seq), item))
        if not self._ready.is_set():
            self._ready.set()

    async def wait(self) -> None:
        """Return once the queue holds at least one item, or ``wake`` was called."""
        while not self and not self._woken:
            self._ready.clear()
            await self._ready.wait()

    def wake(self) -> None:
        """Release ``wait`` for good, even when empty (the consumer is shutting down)."""
        self._woken = True
        self._ready.set()

    def drain(self) -> list[Notification]:
        """Take every queued item, in arrival order."""
        merged = sorted(itertools.chain(self._low, self._high), key=lambda pair: pair[0])
        self._low.clear()
        self._high.clear()
        return [item for _, item in merged]
