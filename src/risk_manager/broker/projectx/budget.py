"""One request budget for the whole client, with priorities: a flatten never waits behind polling.

The gateway allows 200 requests per 60 s (``History/retrieveBars``: 50 per 30 s), counted per session
(PROJECTX.md §1); going over gives HTTP 429, which during a breach means a close that does not happen.
So every REST call asks this budget first, and the budget grants in priority order:

- ``CLOSE`` (close, partial close, cancel) may use the whole window;
- ``PROTECT`` (place or move a stop) may use all but ``reserve[PROTECT]`` requests of it;
- ``ROUTINE`` (searches: reconcile, polling) all but ``reserve[ROUTINE]``.

So however busy polling and trailing stops get, the last requests of each window stay free for
closing positions, and a waiting close is granted before any waiting stop move or search.

Stop moves are coalesced per order while they wait (``key``): 200 accounts trailing one contract move
200 stops per quote, but only the latest price of each order is worth sending. A request that joins a
waiting one with the same key replaces its payload and shares its result.

Requests are also capped in flight (``max_in_flight``, slotted tickets): a granted request leaves the
priority queue for the HTTP connection pool and the gateway, which both answer first come, first
served. Without a cap, a busy window of stop moves granted ahead of a flatten's re-read sits in front
of it there, and on a slow gateway (a starved simulator) the re-read times out behind them. With it,
requests wait here, where a close or an enforcement read passes everything and stop moves coalesce.
Logins (unslotted) never wait for a slot: the requests holding the slots may be waiting for them.

``RequestBudget`` is pure (time is an argument), so tests drive it with explicit times; ``BudgetGate``
is the asyncio side that wakes waiters when the budget says.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Priority(IntEnum):
    CLOSE = 0  # close / partial close / cancel: takes risk off
    PROTECT = 1  # place or modify a stop
    ROUTINE = 2  # searches: reconcile, polling, contracts, bars


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window: float  # seconds


DEFAULT = "default"
HISTORY = "history"
GATEWAY_LIMITS: Mapping[str, Limit] = {DEFAULT: Limit(200, 60.0), HISTORY: Limit(50, 30.0)}
# Requests sent and not yet answered at once (see the module docstring). Enough for a flatten's closes
# of several contracts to go together; the gateway's 200 requests / 60 s never need more.
MAX_IN_FLIGHT = 8
# Requests of a window kept back from lower priorities (see the module docstring).
DEFAULT_RESERVE: Mapping[Priority, int] = {Priority.CLOSE: 0, Priority.PROTECT: 10, Priority.ROUTINE: 40}


@dataclass(slots=True)
class Ticket:
    """One request waiting for (or granted) a slot. ``payload`` is the latest body when coalesced."""

    priority: Priority
    bucket: str
    seq: int
    key: Hashable | None = None
    payload: Any = None
    joined: int = 0  # how many later requests were coalesced into this one
    slotted: bool = False  # holds an in-flight slot once granted, until ``finished``
    granted_at: float | None = None
    waiter: Any = field(default=None, repr=False)  # the async side's future: granted
    result: Any = field(default=None, repr=False)  # the async side's future: the request's answer


class RequestBudget:
    """Sliding windows per bucket and a priority queue of tickets; ``grant(now)`` says who may go."""

    def __init__(
        self,
        limits: Mapping[str, Limit] = GATEWAY_LIMITS,
        reserve: Mapping[Priority, int] = DEFAULT_RESERVE,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        for name, limit in limits.items():
            if limit.count < 1 or limit.window <= 0:
                raise ValueError(f"rate limit {name!r} needs a positive count and window, got {limit}")
        self.limits = dict(limits)
        self.reserve = {p: reserve.get(p, 0) for p in Priority}
        self._sent: dict[str, deque[float]] = {name: deque() for name in limits}
        self._queue: dict[str, list[tuple[int, int, Ticket]]] = {name: [] for name in limits}
        self._waiting_keys: dict[Hashable, Ticket] = {}
        self._held_until = float("-inf")
        self._seq = itertools.count()
        self.max_in_flight = max_in_flight
        self.in_flight = 0  # slotted tickets granted and not yet finished

    def submit(
        self, priority: Priority, bucket: str = DEFAULT, *, key: Hashable | None = None, payload: Any = None,
        slotted: bool = False,
    ) -> tuple[Ticket, bool]:
        """Queue a request. Returns (ticket, fresh); fresh is False when it joined a waiting ticket
        with the same key, whose payload is now this one (latest wins). ``slotted``: it counts
        against ``max_in_flight`` from its grant until ``finished(ticket)``."""
        if bucket not in self.limits:
            raise ValueError(f"unknown rate-limit bucket {bucket!r}; known: {sorted(self.limits)}")
        if key is not None:
            waiting = self._waiting_keys.get(key)
            if waiting is not None:
                waiting.payload = payload
                waiting.joined += 1
                return waiting, False
        ticket = Ticket(priority, bucket, next(self._seq), key, payload, slotted=slotted)
        heapq.heappush(self._queue[bucket], (int(priority), ticket.seq, ticket))
        if key is not None:
            self._waiting_keys[key] = ticket
        return ticket, True

    def cancel(self, ticket: Ticket) -> None:
        """Withdraw a waiting ticket (its caller gave up)."""
        queue = self._queue[ticket.bucket]
        for i, (_, _, t) in enumerate(queue):
            if t is ticket:
                queue.pop(i)
                heapq.heapify(queue)
                break
        if ticket.key is not None and self._waiting_keys.get(ticket.key) is ticket:
            del self._waiting_keys[ticket.key]

    def finished(self, ticket: Ticket) -> None:
        """A slotted ticket's request was answered (or failed): its in-flight slot is free."""
        if ticket.slotted and ticket.granted_at is not None:
            ticket.slotted = False  # once
            self.in_flight -= 1

    def hold(self, until: float) -> None:
        """Grant nothing before ``until`` (the gateway answered 429 with Retry-After)."""
        self._held_until = max(self._held_until, until)

    def used(self, bucket: str, now: float) -> int:
        self._expire(bucket, now)
        return len(self._sent[bucket])

    def waiting(self, bucket: str = DEFAULT) -> int:
        return len(self._queue[bucket])

    def grant(self, now: float) -> tuple[list[Ticket], float | None]:
        """Tickets that may go now, in priority order; and when to ask again (None: nothing waits).

        Strict order per bucket: the head waits if it may not go yet, and nothing behind it passes
        it (otherwise a stream of cheap searches could keep a close waiting forever)."""
        granted: list[Ticket] = []
        wake: float | None = None
        for bucket, queue in self._queue.items():
            if not queue:
                continue
            if now < self._held_until:
                wake = _earliest(wake, self._held_until)
                continue
            sent = self._sent[bucket]
            limit = self.limits[bucket]
            self._expire(bucket, now)
            while queue:
                ticket = queue[0][2]
                if ticket.slotted and self.in_flight >= self.max_in_flight:
                    self._grant_unslotted(bucket, now, granted)  # woken by ``finished``
                    break
                # Reserves keep the shared window free for enforcement; bars have a window of their own.
                reserve = self.reserve[ticket.priority] if bucket == DEFAULT else 0
                allowed = max(1, limit.count - reserve)
                if len(sent) >= allowed:
                    # the oldest request that must leave the window before this one may go
                    wake = _earliest(wake, sent[len(sent) - allowed] + limit.window)
                    break
                heapq.heappop(queue)
                self._granted(ticket, now, granted)
        return granted, wake

    def _granted(self, ticket: Ticket, now: float, granted: list[Ticket]) -> None:
        self._sent[ticket.bucket].append(now)
        ticket.granted_at = now
        if ticket.slotted:
            self.in_flight += 1
        if ticket.key is not None and self._waiting_keys.get(ticket.key) is ticket:
            del self._waiting_keys[ticket.key]
        granted.append(ticket)

    def _grant_unslotted(self, bucket: str, now: float, granted: list[Ticket]) -> None:
        """Every slot is taken: logins waiting in ``bucket`` go anyway (in order, within the window),
        since the requests holding the slots may be waiting for their token."""
        queue, sent, limit = self._queue[bucket], self._sent[bucket], self.limits[bucket]
        passing = []
        for entry in sorted(queue):
            ticket = entry[2]
            reserve = self.reserve[ticket.priority] if bucket == DEFAULT else 0
            if not ticket.slotted and len(sent) < max(1, limit.count - reserve):
                passing.append(entry)
                self._granted(ticket, now, granted)
        if passing:
            queue[:] = [e for e in queue if e not in passing]
            heapq.heapify(queue)

    def _expire(self, bucket: str, now: float) -> None:
        sent = self._sent[bucket]
        horizon = now - self.limits[bucket].window
        while sent and sent[0] <= horizon:
            sent.popleft()


def _earliest(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


class BudgetGate:
    """The asyncio side of a RequestBudget: ``await gate.acquire(...)`` returns when granted."""

    def __init__(self, budget: RequestBudget | None = None) -> None:
        self.budget = budget or RequestBudget()
        self._timer: asyncio.TimerHandle | None = None

    def submit(
        self, priority: Priority, bucket: str = DEFAULT, *, key: Hashable | None = None, payload: Any = None,
        slotted: bool = False,
    ) -> tuple[Ticket, bool]:
        ticket, fresh = self.budget.submit(priority, bucket, key=key, payload=payload, slotted=slotted)
        if fresh:
            ticket.waiter = asyncio.get_running_loop().create_future()
            self._pump()
        return ticket, fresh

    async def wait(self, ticket: Ticket) -> None:
        """Until ``ticket`` is granted (withdraws it if the caller is cancelled first)."""
        try:
            await asyncio.shield(ticket.waiter)
        except asyncio.CancelledError:
            if ticket.granted_at is None:
                self.budget.cancel(ticket)
            raise

    def finished(self, ticket: Ticket) -> None:
        """The request of a slotted ticket is over: let the next one go."""
        if ticket.slotted and ticket.granted_at is not None:
            self.budget.finished(ticket)
            self._pump()

    async def acquire(self, priority: Priority, bucket: str = DEFAULT) -> None:
        ticket, _ = self.submit(priority, bucket)
        await self.wait(ticket)

    def hold(self, seconds: float) -> None:
        self.budget.hold(asyncio.get_running_loop().time() + seconds)
        self._pump()

    def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        granted, wake = self.budget.grant(loop.time())
        for ticket in granted:
            if not ticket.waiter.done():
                ticket.waiter.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if wake is not None:
            self._timer = loop.call_at(wake, self._pump)
