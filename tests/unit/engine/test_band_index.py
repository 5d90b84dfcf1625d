"""The band index answers "which positions does this quote wake?" exactly, touching only those."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.engine.band_index import BandIndex
from risk_manager.engine.state import Position

from engine_helpers import ES, MNQ, T0

INF = float("inf")


def position(
    cid: str = MNQ, last: tuple[float, float] = (-INF, INF), book: tuple[float, float] = (-INF, INF)
) -> Position:
    p = Position(cid, "MNQ", None, 1, Decimal(21000), T0)
    p.band_lo, p.band_hi = last
    p.book_lo, p.book_hi = book
    return p


def woken(
    index: BandIndex[str, Position], cid: str, last: float | None, book: tuple[float, float] | None = None
) -> list[str]:
    contract = index.contract(cid)
    assert contract is not None
    found = contract.crossed(last, book)
    for entry in found:
        contract.update(entry.position)  # as the engine does after re-evaluating
    return [entry.account for entry in found]


def test_a_quote_inside_every_band_is_quiet_and_wakes_nobody() -> None:
    index: BandIndex[str, Position] = BandIndex()
    for n in range(100):
        index.add(MNQ, f"acc{n}", position(last=(20990.0 - n, 21010.0 + n)))
    contract = index.contract(MNQ)
    assert contract is not None
    assert contract.quiet(21000.0, (20999.75, 21000.25))
    assert woken(index, MNQ, 21000.0, (20999.75, 21000.25)) == []


def test_a_quote_wakes_exactly_the_positions_whose_band_it_leaves_in_the_order_they_opened() -> None:
    index: BandIndex[str, Position] = BandIndex()
    for n in range(10):
        index.add(MNQ, f"acc{n}", position(last=(20990.0 + n, 21100.0)))
    # 20995 is on or below the lower edge of acc5..acc9
    assert woken(index, MNQ, 20995.0) == ["acc5", "acc6", "acc7", "acc8", "acc9"]


def test_a_band_edge_is_exclusive_a_price_on_it_wakes_the_position() -> None:
    index: BandIndex[str, Position] = BandIndex()
    index.add(MNQ, "a", position(last=(20990.0, 21010.0)))
    assert woken(index, MNQ, 21010.0) == ["a"]
    assert woken(index, MNQ, 20990.0) == ["a"]
    assert woken(index, MNQ, 21009.75) == []


def test_a_woken_position_is_indexed_again_with_the_band_its_evaluation_left() -> None:
    index: BandIndex[str, Position] = BandIndex()
    p = position(last=(20990.0, 21010.0))
    index.add(MNQ, "a", p)
    contract = index.contract(MNQ)
    assert contract is not None
    assert len(contract.crossed(21010.0, None)) == 1
    p.band_lo, p.band_hi = 21000.0, 21020.0  # re-evaluated: the band moved up
    contract.update(p)
    assert woken(index, MNQ, 21015.0) == []
    assert woken(index, MNQ, 20995.0) == ["a"]  # the old lower edge is gone, the new one holds


def test_an_unchanged_band_is_found_again_after_it_was_woken() -> None:
    index: BandIndex[str, Position] = BandIndex()
    index.add(MNQ, "a", position(last=(20990.0, 21010.0)))
    assert woken(index, MNQ, 21010.0) == ["a"]
    assert woken(index, MNQ, 21010.0) == ["a"]


def test_a_position_without_bands_yet_is_woken_by_every_quote() -> None:
    index: BandIndex[str, Position] = BandIndex()
    index.add(MNQ, "new", position(last=(INF, -INF), book=(INF, -INF)))
    assert woken(index, MNQ, 21000.0) == ["new"]
    assert woken(index, MNQ, None, (21000.0, 21000.25)) == ["new"]


def test_the_book_band_is_tested_against_bid_and_ask_only_and_the_last_band_against_last_only() -> None:
    index: BandIndex[str, Position] = BandIndex()
    index.add(MNQ, "on_last", position(last=(20990.0, 21010.0)))
    index.add(MNQ, "on_book", position(book=(20990.0, 21010.0)))
    assert woken(index, MNQ, 21000.0, (20980.0, 21020.0)) == ["on_book"]
    assert woken(index, MNQ, 21020.0, (21000.0, 21000.25)) == ["on_last"]
    # bid below the lower edge or ask above the upper edge: either one wakes the book band
    assert woken(index, MNQ, None, (20990.0, 21000.0)) == ["on_book"]
    assert woken(index, MNQ, None, (21000.0, 21010.0)) == ["on_book"]


def test_copies_on_one_edge_hold_one_heap_item_and_wake_together_in_the_order_they_opened() -> None:
    index: BandIndex[str, Position] = BandIndex()
    copies = [position(last=(20990.0, 21010.0)) for _ in range(50)]
    for n, p in enumerate(copies):
        index.add(MNQ, f"acc{n}", p)
    contract = index.contract(MNQ)
    assert contract is not None
    assert contract.last.heap_sizes() == (1, 1)
    found = contract.crossed(21010.0, None)
    assert [entry.account for entry in found] == [f"acc{n}" for n in range(50)]
    for p in copies:  # re-evaluated one after another: the edge moved up for each
        p.band_hi = 21020.0
        contract.update(p)
    assert contract.last.heap_sizes() == (1, 1)
    assert woken(index, MNQ, 21015.0) == []
    # one copy moves off the shared edge: only it wakes at its new edge, the others at theirs
    copies[7].band_hi = 21012.0
    contract.update(copies[7])
    assert woken(index, MNQ, 21012.0) == ["acc7"]
    assert woken(index, MNQ, 21020.0) == [f"acc{n}" for n in range(50)]


def test_contracts_are_independent_and_a_closed_position_is_never_woken() -> None:
    index: BandIndex[str, Position] = BandIndex()
    mnq, es = position(MNQ, last=(20990.0, 21010.0)), position(ES, last=(5790.0, 5810.0))
    index.add(MNQ, "a", mnq)
    index.add(ES, "a", es)
    assert woken(index, ES, 21020.0) == ["a"]  # an ES price far outside the MNQ band is an ES matter
    assert woken(index, MNQ, 5800.0) == ["a"]
    index.remove(mnq)
    assert index.contract(MNQ) is None and len(index) == 1


def test_edges_that_move_on_every_evaluation_do_not_pile_up_in_the_heaps() -> None:
    index: BandIndex[str, Position] = BandIndex()
    positions = [position(last=(20000.0 - n, 22000.0 + n)) for n in range(10)]
    for n, p in enumerate(positions):
        index.add(MNQ, f"acc{n}", p)
    contract = index.contract(MNQ)
    assert contract is not None
    for step in range(10_000):
        p = positions[step % 10]
        p.band_lo -= 0.25
        p.band_hi += 0.25
        contract.update(p)
    low_heap, high_heap = contract.last.heap_sizes()
    assert low_heap <= 2 * 10 + 32 + 1 and high_heap <= 2 * 10 + 32 + 1


edges = st.integers(-20, 20).map(lambda n: n * 0.25)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(edges, edges, edges, edges), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), edges, edges, st.one_of(st.none(), edges)), max_size=40),
)
def test_the_positions_woken_are_exactly_those_a_scan_of_every_band_finds(
    bands: list[tuple[float, float, float, float]], steps: list[tuple[int, float, float, float | None]]
) -> None:
    """Random bands, random re-evaluations (band moves) and quotes: the index agrees with a scan."""
    index: BandIndex[str, Position] = BandIndex()
    positions = []
    for n, (a, b, c, d) in enumerate(bands):
        p = position(last=(min(a, b), max(a, b)), book=(min(c, d), max(c, d)))
        positions.append(p)
        index.add(MNQ, f"acc{n}", p)
    contract = index.contract(MNQ)
    assert contract is not None
    for which, lo, hi, last in steps:
        p = positions[which % len(positions)]
        p.band_lo, p.band_hi = min(lo, hi), max(lo, hi)
        contract.update(p)
        if last is None:
            continue
        book = (last - 0.25, last)
        expected = [
            f"acc{n}"
            for n, q in enumerate(positions)
            if not (q.band_lo < last < q.band_hi) or not (q.book_lo < book[0] and book[1] < q.book_hi)
        ]
        assert contract.quiet(last, book) == (not expected)
        assert woken(index, MNQ, last, book) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(edges, edges), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), edges, edges, edges, st.booleans()), max_size=40),
)
def test_floor_and_ceiling_are_the_nearest_edges_of_the_open_bands_after_any_change(
    bands: list[tuple[float, float]], steps: list[tuple[int, float, float, float, bool]]
) -> None:
    """The quiet test reads only ``floor`` and ``ceiling``: whatever moved, crossed or closed
    before, a price strictly between them is inside every open position's band, and a price on or
    beyond either crosses one (no edge left behind by a moved or closed band counts)."""
    index: BandIndex[str, Position] = BandIndex()
    open_positions = {}
    for n, (a, b) in enumerate(bands):
        open_positions[n] = p = position(last=(min(a, b), max(a, b)))
        index.add(MNQ, f"acc{n}", p)
    contract = index.contract(MNQ)
    assert contract is not None
    for which, lo, hi, price, close in steps:
        n = which % len(bands)
        p = open_positions.get(n)
        if p is not None and close and len(open_positions) > 1:
            index.remove(p)
            del open_positions[n]
        elif p is not None:
            p.band_lo, p.band_hi = min(lo, hi), max(lo, hi)
            contract.update(p)
        woken(index, MNQ, price)  # pops the crossed (and stale) edges
        bounds = contract.last
        if bounds.floor < price < bounds.ceiling:
            assert all(q.band_lo < price < q.band_hi for q in open_positions.values())
        assert bounds.floor == max(q.band_lo for q in open_positions.values())
        assert bounds.ceiling == min(q.band_hi for q in open_positions.values())
