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
- a quote that crosses k bands pops exactly those k entries: O(k log n) at most (one heap pop per
  distinct edge crossed), and only those k positions are re-evaluated.

Copies of a copied trade share their edges exactly (same entry, same stops, same rules), so the
heaps hold each distinct edge once, with the entries on it in a *bucket* (a dict by registration
order): a quote crossing an edge pops the whole bucket at once, and re-indexing an entry on an edge
already in the heap is two dict stores. Edges change often (every re-evaluation may move them), so
the heaps are updated lazily: an entry moving to another edge leaves its bucket (a bucket left empty
is dropped from the dict, not from the heap); heap items without a bucket are discarded once they
reach the top, and a heap holding more such items than buckets is rebuilt. The tops are kept live
(a stale item is discarded as soon as it comes to the top), so ``floor`` and ``ceiling`` are exact:
a price outside them crosses a band, and the engine goes from its quiet test straight to
``crossed``. An entry whose bucket was popped (because its band was crossed) is out of that side
until ``update`` puts it back, which the engine does after re-evaluating the position.
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

_INF = float("inf")

# Rebuild a heap once it holds this many more items than buckets (amortised O(1) per push).
_SLACK = 32


def last_band(position: Banded) -> tuple[float, float]:
    return position.band_lo, position.band_hi


def book_band(position: Banded) -> tuple[float, float]:
    return position.book_lo, position.book_hi


class BandEntry(Generic[A, P]):
    """One position in the index: its account, its band edges as indexed, and whether each side is
    in its bucket (False: popped as crossed, or not indexed yet)."""

    __slots__ = ("account", "hi", "hi_in", "lo", "lo_in", "order", "position")

    def __init__(self, account: A, position: P, order: int) -> None:
        self.account = account
        self.position = position
        self.order = order  # registration order: crossed positions are evaluated in this order
        self.lo = 0.0
        self.hi = 0.0
        self.lo_in = False
        self.hi_in = False


# The entries on one edge, by registration order.
Bucket = dict[int, BandEntry[A, P]]


class ContractBands(Generic[A, P]):
    """One band (``edges`` of each position) of the open positions in one contract."""

    __slots__ = ("_edges", "_entries", "_high_buckets", "_highs", "_low_buckets", "_lows", "ceiling", "floor")

    def __init__(self, edges: Edges[P]) -> None:
        self._edges = edges
        self._entries: dict[int, BandEntry[A, P]] = {}  # id(position) -> entry, in registration order
        # edge -> the entries on it; the heaps hold the edges (each live one at least once)
        self._low_buckets: dict[float, Bucket[A, P]] = {}
        self._high_buckets: dict[float, Bucket[A, P]] = {}
        self._lows: list[float] = []  # -lo: the top is the highest lower edge
        self._highs: list[float] = []  # hi: the top is the lowest upper edge
        # The heaps' live tops (stale items above them are discarded, see _retop_low), kept as
        # they change: a price strictly between them is inside every band, the answer to nearly
        # every quote, read without the heaps.
        self.floor = -_INF
        self.ceiling = _INF

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
            if entry.lo_in and _leave(self._low_buckets, entry.lo, entry.order) and entry.lo == self.floor:
                self._retop_low()
            if entry.hi_in and _leave(self._high_buckets, entry.hi, entry.order) and entry.hi == self.ceiling:
                self._retop_high()
            entry.lo_in = entry.hi_in = False
        return entry

    def get(self, position: P) -> BandEntry[A, P] | None:
        return self._entries.get(id(position))

    def update(self, entry: BandEntry[A, P]) -> None:
        """Index the position's current band: O(1) when unchanged or when its edges are already
        indexed for another position, O(log n) per edge new to the heap."""
        lo, hi = self._edges(entry.position)
        self.index(entry, lo, hi)

    def index(self, entry: BandEntry[A, P], lo: float, hi: float) -> None:
        """``update`` with the position's band edges given (read by the caller)."""
        order = entry.order
        if lo != entry.lo or not entry.lo_in:
            buckets = self._low_buckets
            # the top goes stale when the bucket left empty is the top's (an edge pushed is live)
            stale = entry.lo_in and _leave(buckets, entry.lo, order) and entry.lo == self.floor
            entry.lo, entry.lo_in = lo, True
            bucket = buckets.get(lo)
            if bucket is None:
                bucket = buckets[lo] = {}
                heapq.heappush(self._lows, -lo)
                if len(self._lows) > 2 * len(buckets) + _SLACK:
                    self._lows = _rebuilt([-edge for edge in buckets])
                self.floor = -self._lows[0]
            bucket[order] = entry
            if stale:
                self._retop_low()
        if hi != entry.hi or not entry.hi_in:
            buckets = self._high_buckets
            stale = entry.hi_in and _leave(buckets, entry.hi, order) and entry.hi == self.ceiling
            entry.hi, entry.hi_in = hi, True
            bucket = buckets.get(hi)
            if bucket is None:
                bucket = buckets[hi] = {}
                heapq.heappush(self._highs, hi)
                if len(self._highs) > 2 * len(buckets) + _SLACK:
                    self._highs = _rebuilt(list(buckets))
                self.ceiling = self._highs[0]
            bucket[order] = entry
            if stale:
                self._retop_high()

    def quiet(self, low: float, high: float) -> bool:
        """True when prices in [low, high] lie strictly inside every band (no position to evaluate):
        between the floor and the ceiling, the tops being live edges."""
        return self.floor < low and high < self.ceiling

    def crossed(self, low: float, high: float, found: dict[int, BandEntry[A, P]]) -> None:
        """Pop the entries whose band does not strictly contain [low, high] into ``found`` (by
        registration order), a bucket at a time. Their popped sides stay out of the heaps until
        ``update``: the caller re-evaluates each position and then updates its entry. (A side whose
        live top the prices do not reach has nothing to pop, and is left as it is.)"""
        if self.floor >= low:
            lows, buckets = self._lows, self._low_buckets
            while lows and -lows[0] >= low:
                bucket = buckets.pop(-heapq.heappop(lows), None)
                if bucket is not None:
                    for entry in bucket.values():
                        entry.lo_in = False
                    found.update(bucket)
            self._retop_low()
        if high >= self.ceiling:
            highs, buckets = self._highs, self._high_buckets
            while highs and highs[0] <= high:
                bucket = buckets.pop(heapq.heappop(highs), None)
                if bucket is not None:
                    for entry in bucket.values():
                        entry.hi_in = False
                    found.update(bucket)
            self._retop_high()

    def _retop_low(self) -> None:
        """``floor``: the highest live lower edge, once the stale items above it are discarded
        (each stale item is discarded once: amortised O(1))."""
        lows, buckets = self._lows, self._low_buckets
        while lows and -lows[0] not in buckets:
            heapq.heappop(lows)
        self.floor = -lows[0] if lows else -_INF

    def _retop_high(self) -> None:
        """``ceiling``: the lowest live upper edge (as ``_retop_low``)."""
        highs, buckets = self._highs, self._high_buckets
        while highs and highs[0] not in buckets:
            heapq.heappop(highs)
        self.ceiling = highs[0] if highs else _INF

    def heap_sizes(self) -> tuple[int, int]:
        """(items in the low heap, items in the high heap), stale ones included (for tests)."""
        return len(self._lows), len(self._highs)


def _leave(buckets: dict[float, Bucket[A, P]], edge: float, order: int) -> bool:
    """Take entry ``order`` out of the bucket of ``edge`` (dropping the bucket once empty; its heap
    item goes stale). True when the bucket was dropped."""
    bucket = buckets[edge]
    del bucket[order]
    if bucket:
        return False
    del buckets[edge]
    return True


def _rebuilt(edges: list[float]) -> list[float]:
    heapq.heapify(edges)
    return edges


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
        and the higher of bid and ask, if any) inside every book band: O(1), two comparisons per
        price with the live tops (the engine writes this test out on every quote)."""
        if last is not None and not self.last.quiet(last, last):
            return False
        return book is None or self.book.quiet(*book)

    def crossed(self, last: float | None, book: tuple[float, float] | None) -> list[BandEntry[A, P]]:
        """The positions whose last-price or book band the quote leaves, in registration order (as
        their entry in one of the bands): O(k log n). Call ``update`` for each once it is re-evaluated."""
        found: dict[int, BandEntry[A, P]] = {}
        if last is not None:
            bands = self.last
            if not bands.floor < last < bands.ceiling:  # (a band the prices stay inside: no call)
                bands.crossed(last, last, found)
        if book is not None:
            bands, (low, high) = self.book, book
            if not (bands.floor < low and high < bands.ceiling):
                bands.crossed(low, high, found)
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
            if not (lo == on_last.lo and hi == on_last.hi and on_last.lo_in and on_last.hi_in):
                index.last.index(on_last, lo, hi)
            lo, hi = position.book_lo, position.book_hi
            if not (lo == on_book.lo and hi == on_book.hi and on_book.lo_in and on_book.hi_in):
                index.book.index(on_book, lo, hi)

    def contract(self, contract_id: str) -> ContractIndex[A, P] | None:
        return self._by_contract.get(contract_id)

    def __len__(self) -> int:
        return len(self._entries)

