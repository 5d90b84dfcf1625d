"""``Position.best_price`` (most favourable last price since entry, RULE-012) kept exact without
touching every position on every quote.

The reference meaning: the entry price, raised (long) or lowered (short) by the contract's last
price at every quote of the contract since the position opened. Updating each position on each
quote would cost O(positions) per quote, which is what the band index exists to avoid. Instead each
contract cuts its quotes into *generations*: a new one starts when a position opens in the contract
(and the current one has seen a quote), so every generation lies wholly after or wholly before any
position's opening. A quote only raises its generation's highest and lowers its lowest last price:
two comparisons, whatever the number of positions. "The highest last since the position opened" is
the highest of the generations from its first one on, and a position is brought up to date
(``settle``) whenever something is about to read it — before rules see its account, and before a
snapshot — after which it starts from the current generation (folding a generation in twice changes
nothing: best_price only ever improves).

Closed generations pile up only while positions keep opening; past a bound the contract's positions
are all settled and the closed generations dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

# Closed generations kept per contract before its positions are all settled and they are dropped.
_MAX_KEPT = 4096
_INF = float("inf")


class Trailed(Protocol):
    """What is read and written of a position."""

    contract_id: str
    size: int
    best_price: Decimal | None


class LastPrices:
    """The last prices quoted for one contract, reduced to each generation's extremes."""

    __slots__ = ("exact_of", "exact_price", "first", "high", "highs", "low", "lows")

    def __init__(self) -> None:
        # The current generation's extremes (-inf/inf: no quote in it yet).
        self.high = -_INF
        self.low = _INF
        # The closed generations' extremes, oldest first; the first is generation number ``first``.
        self.highs: list[float] = []
        self.lows: list[float] = []
        self.first = 0
        # The last extreme settled and its exact Decimal: the positions of a contract settle to the
        # same price one after another (every copy of a copied trade on a breakout).
        self.exact_of = _INF
        self.exact_price = Decimal(0)

    def exact(self, price: float) -> Decimal:
        """``price`` as the exact Decimal of its shortest repr (converted once per price)."""
        if price is not self.exact_of:  # the same float object: record.high or .low itself
            self.exact_price = Decimal(repr(price))
            self.exact_of = price
        return self.exact_price

    def record(self, last: float) -> None:
        """A quote's last price."""
        if last > self.high:
            self.high = last
        if last < self.low:
            self.low = last

    @property
    def current(self) -> int:
        """The number of the current generation."""
        return self.first + len(self.highs)

    def start(self) -> int:
        """A position opens: quotes from now on belong to a generation that starts after it (a new
        one unless the current has seen no quote yet). Returns that generation's number."""
        if self.high != -_INF:
            self.highs.append(self.high)
            self.lows.append(self.low)
            self.high, self.low = -_INF, _INF
        return self.first + len(self.highs)

    def highest_since(self, generation: int) -> float:
        """The highest last price of generation ``generation`` and later (-inf: none)."""
        i = generation - self.first
        if i < len(self.highs):
            return max(self.high, max(self.highs[i:]))
        return self.high

    def lowest_since(self, generation: int) -> float:
        i = generation - self.first
        if i < len(self.lows):
            return min(self.low, min(self.lows[i:]))
        return self.low

    def drop_closed(self) -> None:
        """Forget the closed generations: only valid once every position has settled past them."""
        self.first += len(self.highs)
        self.highs.clear()
        self.lows.clear()


class _Watched:
    """A tracked position: its contract's record, the first generation not yet folded into its
    best_price (as a float, ``folded``), and what to call when best_price moves."""

    __slots__ = ("folded", "generation", "on_move", "position", "record")

    def __init__(
        self, position: Trailed, record: LastPrices, on_move: Callable[[], None] | None
    ) -> None:
        self.position = position
        self.record = record
        self.generation = record.start()
        self.on_move = on_move
        self.folded = -_INF if position.size > 0 else _INF  # the best last folded in so far


class BestPrices:
    """The last-price records of every quoted contract and how far each open position has seen them."""

    __slots__ = ("_records", "_watched")

    def __init__(self) -> None:
        self._records: dict[str, LastPrices] = {}
        self._watched: dict[int, _Watched] = {}  # by id(position)

    def record_of(self, contract_id: str) -> LastPrices:
        """The record of ``contract_id``'s last prices (made on first use)."""
        record = self._records.get(contract_id)
        if record is None:
            record = self._records[contract_id] = LastPrices()
        return record

    def watch(self, position: Trailed, on_move: Callable[[], None] | None = None) -> None:
        """Start tracking a position that opens now: quotes before this point do not count.
        ``on_move`` is called whenever settling moves its ``best_price``."""
        record = self.record_of(position.contract_id)
        self._watched[id(position)] = _Watched(position, record, on_move)
        if len(record.highs) > _MAX_KEPT:
            for watched in list(self._watched.values()):
                if watched.record is record:
                    self.settle(watched.position)
            record.drop_closed()

    def forget(self, position: Trailed) -> None:
        self._watched.pop(id(position), None)

    def record(self, contract_id: str, last: float) -> None:
        """A quote of ``contract_id`` whose (possibly carried over) last price is ``last`` (the
        engine, on every quote, records into the contract's ``record_of`` directly)."""
        self.record_of(contract_id).record(last)

    def settle(self, position: Trailed) -> None:
        """Bring ``position.best_price`` up to date with every quote recorded since it was last settled."""
        watched = self._watched.get(id(position))
        if watched is None:
            return
        record = watched.record
        current = record.first + len(record.highs)
        same = watched.generation == current  # the usual case: only the current generation to read
        if position.size > 0:
            price = record.high if same else record.highest_since(watched.generation)
            if price <= watched.folded:
                watched.generation = current
                return
        elif position.size < 0:
            price = record.low if same else record.lowest_since(watched.generation)
            if price >= watched.folded:
                watched.generation = current
                return
        else:
            return
        watched.generation = current
        watched.folded = price
        # record.exact inlined for the usual case: every copy of a copied trade settles to this price
        exact = record.exact_price if price is record.exact_of else record.exact(price)
        best = position.best_price
        if best is not None and (exact > best if position.size > 0 else exact < best):
            position.best_price = exact
            if watched.on_move is not None:
                watched.on_move()
