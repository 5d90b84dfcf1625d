"""Per-contract index of the quiet-band edges of open positions (the quote fast path's lookup).

Every open position carries two quiet bands in price terms (see ``Engine._compute_bands``): one for
the last price (``band_lo``, ``band_hi``: the rules whose marks are last prices) and one for the book
(``book_lo``, ``book_hi``: the rules marking at mid or at the exit side; bid and ask must both stay
inside). While the quote stays strictly inside both, no quote-sensitive rule can change its decision
for that position's account; account-level limits such as the day P&L of RULE-003/013 are already
split across the account's positions in price terms. The index keeps, per contract and per band,
the lower edges in a max-heap and the upper edges in a min-heap, so that

- a quote that crosses no band is answered by two comparisons with the heap tops: O(1) however many
  positions are open in the contract;
- a quote that crosses k bands pops exactly those k entries: O(k log n), and only those k positions
  are re-evaluated.

Edges change often (every re-evaluation may move them), so heaps are updated lazily: a new edge is
pushed with a fresh stamp and the entry remembers the stamp of its live heap item; items whose stamp
is no longer the entry's are discarded when they reach the top, and a heap holding more stale items
than live ones is rebuilt. An entry whose item was popped (because its band was crossed) is out of
that heap until ``update`` puts it back, which the engine does after re-evaluating the position.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar


class Banded(Protocol):
    """What the index reads of a position: its quiet bands as floats."""

    band_lo: float
    band_hi: float
    book_lo: float
    book_hi: float


A = TypeVar("A")  # what the engine files with a position (its account)
P = TypeVar("P", bound=Banded)
Edges = Callable[[P], tuple[float, float]]

_ABSENT = 0  # stamp of a side whose item is not in its heap (stamps count from 1: true when in it)
# Rebuild a heap once it holds this many more items than live entries (amortised O(1) per push).
_SLACK = 32


def last_band(position: Banded) -> tuple[float, float]:
    return position.band_lo, position.band_hi


def book_band(position: Banded) -> tuple[float, float]:
    return position.book_lo, position.book_hi


class BandEntry(Generic[A, P]):
    """One position in the index: its account, its band edges as indexed, and its heap stamps."""

    __slots__ = ("account", "hi", "hi_stamp", "lo", "lo_stamp", "order", "position")

    def __init__(self, account: A, position: P, order: int) -> None:
        self.account = account
        self.position = position
        self.order = order  # registration order: crossed positions are evaluated in this order
        self.lo = 0.0
        self.hi = 0.0
        self.lo_stamp = _ABSENT
        self.hi_stamp = _ABSENT


class ContractBands(Generic[A, P]):
    """One band (``edges`` of each position) of the open positions in one contract."""

    __slots__ = ("_edges", "_entries", "_highs", "_lows", "_stamp")

    def __init__(self, edges: Edges[P]) -> None:
        self._edges = edges
        self._entries: dict[int, BandEntry[A, P]] = {}  # id(position) -> entry, in registration order
        # (-lo, stamp, entry): the top is the highest lower edge
        self._lows: list[tuple[float, int, BandEntry[A, P]]] = []
        # (hi, stamp, entry): the top is the lowest upper edge
        self._highs: list[tuple[float, int, BandEntry[A, P]]] = []
        self._stamp = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[BandEntry[A, P]]:
        """Every entry, in registration order (the full-evaluation path)."""
        return iter(list(self._entries.values()))

    def add(self, entry: BandEntry[A, P]) -> None:
        self._entries[id(entry.position)] = entry
        self.update(entry)

    def remove(self, position: P) -> BandEntry[A, P] | None:
        entry = self._entries.pop(id(position), None)
        if entry is not None:
            entry.lo_stamp = entry.hi_stamp = _ABSENT  # its heap items are stale from now on
        return entry

    def get(self, position: P) -> BandEntry[A, P] | None:
        return self._entries.get(id(position))

    def update(self, entry: BandEntry[A, P]) -> None:
        """Index the position's current band: O(1) when unchanged, O(log n) per edge that moved."""
        lo, hi = self._edges(entry.position)
        self.index(entry, lo, hi)

    def index(self, entry: BandEntry[A, P], lo: float, hi: float) -> None:
        """``update`` with the position's band edges given (read by the caller)."""
        if lo != entry.lo or entry.lo_stamp == _ABSENT:
            self._stamp += 1
            entry.lo, entry.lo_stamp = lo, self._stamp
            heapq.heappush(self._lows, (-lo, self._stamp, entry))
            if len(self._lows) > 2 * len(self._entries) + _SLACK:
                self._lows = self._rebuilt(self._lows, low=True)
        if hi != entry.hi or entry.hi_stamp == _ABSENT:
            self._stamp += 1
            entry.hi, entry.hi_stamp = hi, self._stamp
            heapq.heappush(self._highs, (hi, self._stamp, entry))
            if len(self._highs) > 2 * len(self._entries) + _SLACK:
                self._highs = self._rebuilt(self._highs, low=False)

    def _rebuilt(
        self, heap: list[tuple[float, int, BandEntry[A, P]]], *, low: bool
    ) -> list[tuple[float, int, BandEntry[A, P]]]:
        live = [item for item in heap if item[1] == (item[2].lo_stamp if low else item[2].hi_stamp)]
        heapq.heapify(live)
        return live

    def quiet(self, low: float, high: float) -> bool:
        """True when prices in [low, high] lie strictly inside every band (no position to evaluate).

        A stale item on top that would answer "crossed" is dropped first (each stale item is dropped
        once: amortised O(1))."""
        lows, highs = self._lows, self._highs
        while lows and -lows[0][0] >= low:
            if lows[0][1] == lows[0][2].lo_stamp:
                return False
            heapq.heappop(lows)
        while highs and highs[0][0] <= high:
            if highs[0][1] == highs[0][2].hi_stamp:
                return False
            heapq.heappop(highs)
        return True

    def crossed(self, low: float, high: float, found: dict[int, BandEntry[A, P]]) -> None:
        """Pop the entries whose band does not strictly contain [low, high] into ``found`` (by
        registration order). Their popped sides stay out of the heaps until ``update``: the caller
        re-evaluates each position and then updates its entry."""
        lows = self._lows
        while lows and -lows[0][0] >= low:
            _, stamp, entry = heapq.heappop(lows)
            if stamp == entry.lo_stamp:
                entry.lo_stamp = _ABSENT
                found[entry.order] = entry
        highs = self._highs
        while highs and highs[0][0] <= high:
            _, stamp, entry = heapq.heappop(highs)
            if stamp == entry.hi_stamp:
                entry.hi_stamp = _ABSENT
                found[entry.order] = entry

    def heap_sizes(self) -> tuple[int, int]:
        """(items in the low heap, items in the high heap), stale ones included (for tests)."""
        return len(self._lows), len(self._highs)


class ContractIndex(Generic[A, P]):
    """The open positions of one contract with both their bands indexed."""

    __slots__ = ("book", "last")

    def __init__(self) -> None:
        self.last: ContractBands[A, P] = ContractBands(last_band)
        self.book: ContractBands[A, P] = ContractBands(book_band)

    def __len__(self) -> int:
        return len(self.last)

    def __iter__(self) -> Iterator[BandEntry[A, P]]:
        """Every position (as its entry in the last-price band), in registration order."""
        return iter(self.last)

    def quiet(self, last: float | None, book: tuple[float, float] | None) -> bool:
        """True when the last price (if any) is inside every last-price band and the book (the lower
        and the higher of bid and ask, if any) inside every book band: O(1).

        Every quote of a contract with open positions asks this, so the usual answer (the heap tops
        hold both prices strictly inside) is given here without calling into the bands."""
        if last is not None:
            bands = self.last
            lows, highs = bands._lows, bands._highs
            top_crossed = (lows and -lows[0][0] >= last) or (highs and highs[0][0] <= last)
            if top_crossed and not bands.quiet(last, last):
                return False
        if book is not None:
            bands = self.book
            lows, highs = bands._lows, bands._highs
            if (lows and -lows[0][0] >= book[0]) or (highs and highs[0][0] <= book[1]):
                return bands.quiet(book[0], book[1])
        return True

    def crossed(self, last: float | None, book: tuple[float, float] | None) -> list[BandEntry[A, P]]:
        """The positions whose last-price or book band the quote leaves, in registration order (as
        their entry in one of the bands): O(k log n). Call ``update`` for each once it is re-evaluated."""
        found: dict[int, BandEntry[A, P]] = {}
        if last is not None:
            self.last.crossed(last, last, found)
        if book is not None:
            self.book.crossed(book[0], book[1], found)
        return [found[order] for order in sorted(found)]

    def update(self, position: P) -> None:
        entry = self.last.get(position)
        if entry is not None:
            self.last.update(entry)
        entry = self.book.get(position)
        if entry is not None:
            self.book.update(entry)


class BandIndex(Generic[A, P]):
    """The band edges of every open position, by contract."""

    __slots__ = ("_by_contract", "_entries", "_order")

    def __init__(self) -> None:
        self._by_contract: dict[str, ContractIndex[A, P]] = {}
        # id(position) -> (its contract id, its contract's index, its entry in the last-price band,
        # in the book band); a contract's index lives as long as it holds a position
        self._entries: dict[int, tuple[str, ContractIndex[A, P], BandEntry[A, P], BandEntry[A, P]]] = {}
        self._order = 0

    def add(self, contract_id: str, account: A, position: P) -> None:
        """Start watching ``position`` (its bands as they are now; (inf, -inf) means "always evaluate")."""
        self._order += 1
        index = self._by_contract.get(contract_id)
        if index is None:
            index = self._by_contract[contract_id] = ContractIndex()
        on_last = BandEntry(account, position, self._order)
        on_book = BandEntry(account, position, self._order)
        index.last.add(on_last)
        index.book.add(on_book)
        self._entries[id(position)] = (contract_id, index, on_last, on_book)

    def remove(self, position: P) -> None:
        found = self._entries.pop(id(position), None)
        if found is None:
            return
        index = found[1]
        index.last.remove(position)
        index.book.remove(position)
        if not index:
            del self._by_contract[found[0]]

    def update(self, position: P) -> None:
        """Re-index ``position`` after its bands changed (or after it was popped as crossed)."""
        found = self._entries.get(id(position))
        if found is not None:
            _, index, on_last, on_book = found
            # Most re-evaluations move one band at most (a trailing edge moves the last band only):
            # a band whose edges are indexed as they are, with both sides in their heaps, is skipped.
            lo, hi = position.band_lo, position.band_hi
            if not (lo == on_last.lo and hi == on_last.hi and on_last.lo_stamp and on_last.hi_stamp):
                index.last.index(on_last, lo, hi)
            lo, hi = position.book_lo, position.book_hi
            if not (lo == on_book.lo and hi == on_book.hi and on_book.lo_stamp and on_book.hi_stamp):
                index.book.index(on_book, lo, hi)

    def contract(self, contract_id: str) -> ContractIndex[A, P] | None:
        return self._by_contract.get(contract_id)

    def __len__(self) -> int:
        return len(self._entries)

