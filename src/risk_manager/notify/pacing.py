"""Pacing of sends: a sliding-window rate limit and capped exponential backoff between retries."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass


class SlidingWindowLimit:
    """At most ``max_requests`` in any ``per_seconds`` window; ``acquire`` waits for a free slot."""

    def __init__(self, max_requests: int, per_seconds: float) -> None:
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._sent: deque[float] = deque()

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self._sent and now - self._sent[0] >= self.per_seconds:
                self._sent.popleft()
            if len(self._sent) < self.max_requests:
                self._sent.append(now)
                return
            await asyncio.sleep(self.per_seconds - (now - self._sent[0]))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` sends in all; waits of first_delay, 2x, 4x ... capped at max_delay in between.

    A server's Retry-After replaces the computed wait, up to ``max_retry_after`` (a misbehaving
    server must not park a channel for hours).
    """

    attempts: int = 5
    first_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def wait_before(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the first retry)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return min(self.max_delay, self.first_delay * 2.0 ** (retry - 1))
