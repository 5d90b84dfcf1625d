"""``Position.best_price`` (most favourable last price since entry, RULE-012) kept exact without
touching every position on every quote.

The reference meaning: the entry price, raised (long) or lowered (short) by the contract's last
price at every quote of the contract since the position opened. Updating each position on each
quote would cost O(positions) per quote, which is what the band index exists to avoid. Instead each
contract keeps its last prices as *suffix extremes*: the quotes whose last price is the highest
(lowest) of everything after them. "The highest last since quote n" is then the first kept high
after n — a binary search — and recording a quote costs O(1) amortised. A position remembers up to
which quote its ``best_price`` accounts for, and is brought up to date (``settle``) whenever
something is about to read it: before rules see its account, and before a snapshot.

The kept lists only grow in a market that keeps falling (highs) or rising (lows); past a bound the
contract's positions are all settled and the lists start afresh.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

# Kept extremes per side before every position of the contract is settled and the lists cleared.
_MAX_KEPT = 4096


class Trailed(Protocol):
    """What is read and written of a position."""

    contract_id: str
    size: int
    best_price: Decimal | None


class LastPrices:
    """The last prices quoted for one contract, reduced to what "highest/lowest since" needs."""

    __slots__ = ("count", "high_at", "high_prices", "low_at", "low_prices")

    def __init__(self) -> None:
        self.count = 0  # quotes recorded so far
        # Suffix maxima: quote numbers ascending, prices strictly descending.
        self.high_at: list[int] = []
        self.high_prices: list[float] = []
        # Suffix minima: quote numbers ascending, prices strictly ascending.
        self.low_at: list[int] = []
        self.low_prices: list[float] = []

    def record(self, last: float) -> bool:
        """Record a quote's last price; True when the kept lists have grown past their bound."""
        self.count = count = self.count + 1
        at, prices = self.high_at, self.high_prices
        while prices and prices[-1] <= last:
            prices.pop()
            at.pop()
        at.append(count)
        prices.append(last)
        grown = len(at) > _MAX_KEPT
        at, prices = self.low_at, self.low_prices
        while prices and prices[-1] >= last:
            prices.pop()
            at.pop()
        at.append(count)
        prices.append(last)
        return grown or len(at) > _MAX_KEPT

    def highest_since(self, count: int) -> float | None:
        """The highest last price among the quotes recorded after the first ``count``."""
        i = bisect_right(self.high_at, count)
        return self.high_prices[i] if i < len(self.high_prices) else None

    def lowest_since(self, count: int) -> float | None:
        i = bisect_right(self.low_at, count)
        return self.low_prices[i] if i < len(self.low_prices) else None

    def forget_before_now(self) -> None:
        """Drop everything recorded: only valid once no position still needs those quotes."""
        self.high_at.clear()
        self.high_prices.clear()
        self.low_at.clear()
        self.low_prices.clear()


class BestPrices:
    """The last-price records of every quoted contract and how far each open position has seen them."""

    __slots__ = ("_records", "_watched")

    def __init__(self) -> None:
        self._records: dict[str, LastPrices] = {}
        # id(position) -> (position, its contract's record, [quotes accounted for in its best_price])
        # (and what to call when its best_price moves: the engine republishes the rules' copy)
        self._watched: dict[int, tuple[Trailed, LastPrices, list[int], Callable[[], None] | None]] = {}

    def _record_of(self, contract_id: str) -> LastPrices:
        record = self._records.get(contract_id)
        if record is None:
            record = self._records[contract_id] = LastPrices()
        return record

    def watch(self, position: Trailed, on_move: Callable[[], None] | None = None) -> None:
        """Start tracking a position that opens now: quotes before this point do not count.
        ``on_move`` is called whenever settling moves its ``best_price``."""
        record = self._record_of(position.contract_id)
        self._watched[id(position)] = (position, record, [record.count], on_move)

    def forget(self, position: Trailed) -> None:
        self._watched.pop(id(position), None)

    def record(self, contract_id: str, last: float) -> None:
        """A quote of ``contract_id`` whose (possibly carried over) last price is ``last``."""
        record = self._records.get(contract_id)
        if record is None:
            record = self._record_of(contract_id)
        if record.record(last):
            for position, of, _, _ in list(self._watched.values()):
                if of is record:
                    self.settle(position)
            record.forget_before_now()

    def settle(self, position: Trailed) -> None:
        """Bring ``position.best_price`` up to date with every quote recorded since it was last settled."""
        found = self._watched.get(id(position))
        if found is None:
            return
        _, record, seen, on_move = found
        if seen[0] == record.count:
            return
        before = position.best_price
        if position.size > 0:
            price = record.highest_since(seen[0])
            if price is not None:
                exact = Decimal(repr(price))
                if position.best_price is not None and exact > position.best_price:
                    position.best_price = exact
        elif position.size < 0:
            price = record.lowest_since(seen[0])
            if price is not None:
                exact = Decimal(repr(price))
                if position.best_price is not None and exact < position.best_price:
                    position.best_price = exact
        seen[0] = record.count
        if on_move is not None and position.best_price is not before:
            on_move()
