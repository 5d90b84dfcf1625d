"""Position.best_price is the most favourable last price since entry, exact whenever it is settled,
without the engine touching every position on every quote."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.engine.best_prices import BestPrices
from risk_manager.engine.state import Position

from engine_helpers import ES, MNQ, T0


def opened(size: int, entry: str, cid: str = MNQ) -> Position:
    return Position(cid, "MNQ", None, size, Decimal(entry), T0, best_price=Decimal(entry))


def test_a_long_keeps_the_highest_last_since_it_opened_and_earlier_quotes_do_not_count() -> None:
    best = BestPrices()
    best.record(MNQ, 21050.0)  # before the position: not its business
    long = opened(1, "21000")
    best.watch(long)
    for price in (21001.0, 21010.5, 21004.0):
        best.record(MNQ, price)
    best.settle(long)
    assert long.best_price == Decimal("21010.5")


def test_a_short_keeps_the_lowest_last_and_other_contracts_do_not_move_it() -> None:
    best = BestPrices()
    short = opened(-1, "21000")
    best.watch(short)
    best.record(MNQ, 20990.25)
    best.record(ES, 5000.0)
    best.record(MNQ, 20995.0)
    best.settle(short)
    assert short.best_price == Decimal("20990.25")


def test_a_price_worse_than_the_entry_leaves_the_entry_as_best() -> None:
    best = BestPrices()
    long = opened(2, "21000")
    best.watch(long)
    best.record(MNQ, 20980.0)
    best.settle(long)
    assert long.best_price == Decimal("21000")


def test_settling_twice_or_after_more_quotes_only_ever_improves_the_best_price() -> None:
    best = BestPrices()
    long = opened(1, "21000")
    best.watch(long)
    best.record(MNQ, 21020.0)
    best.settle(long)
    best.settle(long)
    best.record(MNQ, 21015.0)
    best.settle(long)
    assert long.best_price == Decimal("21020.0")


def test_a_market_falling_for_a_long_time_stays_exact_when_the_records_are_compacted() -> None:
    best = BestPrices()
    long, short = opened(1, "21000"), opened(-1, "21000")
    best.watch(long)
    best.watch(short)
    best.record(MNQ, 21003.0)
    for n in range(10_000):  # every last lower than the one before: all kept until compaction
        best.record(MNQ, 21000.0 - n * 0.25)
    best.settle(long)
    best.settle(short)
    assert long.best_price == Decimal("21003.0")
    assert short.best_price == Decimal(repr(21000.0 - 9999 * 0.25))


def test_positions_opening_all_day_stay_exact_when_the_closed_generations_are_dropped() -> None:
    best = BestPrices()
    first = opened(1, "21000")
    best.watch(first)
    best.record(MNQ, 21004.0)
    later = []
    for n in range(5_000):  # each opening closes a generation that has seen a quote
        p = opened(-1, "21000")
        best.watch(p)
        later.append(p)
        best.record(MNQ, 21000.0 - (n % 7) * 0.25)
    best.settle(first)
    best.settle(later[0])
    best.settle(later[-1])
    assert first.best_price == Decimal("21004.0")
    assert later[0].best_price == Decimal("20998.5")  # 21000 - 6 ticks, seen within the first seven
    assert later[-1].best_price == Decimal(repr(21000.0 - (4_999 % 7) * 0.25))


prices = st.integers(-40, 40).map(lambda n: 21000.0 + n * 0.25)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["quote", "open", "settle"]), prices), max_size=80))
def test_the_settled_best_price_equals_the_best_of_every_last_seen_since_opening(
    steps: list[tuple[str, float]],
) -> None:
    best = BestPrices()
    tracked: list[tuple[Position, list[float]]] = []
    for kind, price in steps:
        if kind == "quote":
            best.record(MNQ, price)
            for _, seen in tracked:
                seen.append(price)
        elif kind == "open":
            p = opened(1 if len(tracked) % 2 == 0 else -1, f"{price}")
            best.watch(p)
            tracked.append((p, []))
        else:
            for p, seen in tracked:
                best.settle(p)
                entry = p.average_price
                candidates = [entry, *(Decimal(repr(s)) for s in seen)]
                assert p.best_price == (max(candidates) if p.size > 0 else min(candidates))
