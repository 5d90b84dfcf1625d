"""Market simulator: contracts, CME Globex hours, seeded random walk with bursts, tick grid, bars."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sim_helpers import CL, ES, MNQ, START

from risk_manager.domain.contracts import DEFAULT_SPECS, contract_id_for
from risk_manager.sim.clock import ManualClock
from risk_manager.sim.hours import MarketHours
from risk_manager.sim.market import MarketSimulator, MarketUpdate, PriceError, build_contracts, front_month


def sim(
    seed: int = 1, start: datetime = START, always_open: bool = False
) -> tuple[ManualClock, MarketSimulator]:
    clock = ManualClock(start)
    hours = MarketHours(always_open)
    return clock, MarketSimulator(build_contracts(hours.session_date(start)), clock, hours, seed)


def record(market: MarketSimulator) -> list[MarketUpdate]:
    seen: list[MarketUpdate] = []
    market.on_update = seen.append
    return seen


def test_every_root_of_the_table_is_listed_with_its_front_month_and_projectx_id() -> None:
    contracts = build_contracts(date(2026, 3, 2))
    assert {c.root for c in contracts.values()} == set(DEFAULT_SPECS)
    assert MNQ in contracts and ES in contracts and CL in contracts
    assert contracts["CON.F.US.ENQ.H26"].root == "NQ"
    assert contracts["CON.F.US.GCE.J26"].name == "GCJ26"
    for cid, c in contracts.items():
        assert cid == contract_id_for(c.root, c.month, c.year)
        assert (c.tick_size, c.tick_value) == (
            DEFAULT_SPECS[c.root].tick_size,
            DEFAULT_SPECS[c.root].tick_value,
        )


@pytest.mark.parametrize(
    ("root", "today", "expected"),
    [
        ("ES", date(2026, 3, 11), (3, 2026)),  # third Friday 20 March, roll 8 days before
        ("ES", date(2026, 3, 12), (6, 2026)),
        ("MNQ", date(2026, 12, 20), (3, 2027)),
        ("CL", date(2026, 3, 14), (4, 2026)),
        ("CL", date(2026, 3, 15), (5, 2026)),
        ("CL", date(2026, 12, 20), (2, 2027)),
        ("GC", date(2026, 3, 24), (4, 2026)),
        ("GC", date(2026, 3, 25), (6, 2026)),
    ],
)
def test_front_month_rolls(root: str, today: date, expected: tuple[int, int]) -> None:
    assert front_month(root, today) == expected


CT = "America/Chicago"


@pytest.mark.parametrize(
    ("utc", "is_open"),
    [
        (datetime(2026, 3, 1, 22, 59, tzinfo=UTC), False),  # Sunday 16:59 CST
        (datetime(2026, 3, 1, 23, 0, tzinfo=UTC), True),  # Sunday 17:00 CST: open
        (datetime(2026, 3, 2, 21, 59, tzinfo=UTC), True),  # Monday 15:59
        (datetime(2026, 3, 2, 22, 0, tzinfo=UTC), False),  # Monday 16:00: daily halt
        (datetime(2026, 3, 2, 22, 59, tzinfo=UTC), False),
        (datetime(2026, 3, 2, 23, 0, tzinfo=UTC), True),  # Monday 17:00: next session
        (datetime(2026, 3, 6, 21, 59, tzinfo=UTC), True),  # Friday 15:59
        (datetime(2026, 3, 6, 22, 0, tzinfo=UTC), False),  # Friday 16:00: weekend
        (datetime(2026, 3, 7, 18, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 7, 6, 21, 0, tzinfo=UTC), False),  # Monday 16:00 CDT (DST): halt
        (datetime(2026, 7, 6, 20, 59, tzinfo=UTC), True),
        (datetime(2026, 7, 5, 22, 0, tzinfo=UTC), True),  # Sunday 17:00 CDT
    ],
)
def test_cme_globex_hours_in_chicago(utc: datetime, is_open: bool) -> None:
    assert MarketHours().is_open(utc) is is_open
    assert MarketHours(always_open=True).is_open(utc) is True


def test_next_change_finds_the_halt_and_the_reopen() -> None:
    hours = MarketHours()
    assert hours.next_change(START) == datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    assert hours.next_change(datetime(2026, 3, 2, 22, 30, tzinfo=UTC)) == datetime(
        2026, 3, 2, 23, 0, tzinfo=UTC
    )
    assert hours.next_change(datetime(2026, 3, 7, 12, 0, tzinfo=UTC)) == datetime(
        2026, 3, 8, 22, 0, tzinfo=UTC
    )


def _grid_ok(value: float, tick: Decimal) -> bool:
    return (Decimal(repr(value)) / tick) % 1 == 0


def test_every_quote_of_a_long_random_walk_is_on_the_tick_grid() -> None:
    clock, market = sim(seed=7)
    seen = record(market)
    for _ in range(300):
        clock.advance(0.1)
        market.step()
    assert len(seen) > 1000
    for update in seen:
        tick = update.book.contract.tick_size
        q = update.book.quote_payload()
        for key in ("lastPrice", "bestBid", "bestAsk", "open", "high", "low", "change"):
            assert _grid_ok(q[key], tick), (update.contract_id, key, q[key])
        assert q["bestBid"] < q["bestAsk"]
        assert q["low"] <= q["lastPrice"] <= q["high"]


def test_same_seed_same_market_and_another_seed_another() -> None:
    def tape(seed: int) -> list[tuple[str, float, float, float]]:
        clock, market = sim(seed=seed)
        out: list[tuple[str, float, float, float]] = []
        market.on_update = lambda u: out.append(
            (u.contract_id, u.book.pf(u.book.bid), u.book.pf(u.book.ask), u.book.pf(u.book.last))
        )
        for _ in range(50):
            clock.advance(0.2)
            market.step()
        return out

    assert tape(11) == tape(11)
    assert tape(11) != tape(12)


def test_prices_start_near_realistic_levels() -> None:
    _, market = sim(seed=5)
    levels = {b.contract.root: float(b.contract.price(b.last)) for b in market.books.values()}
    assert 15000 < levels["MNQ"] < 30000 and 4000 < levels["ES"] < 8000 and 40 < levels["CL"] < 120


def test_calm_market_with_bursts_of_hundreds_of_quotes_per_second() -> None:
    clock, market = sim(seed=2)
    seen = record(market)
    for _ in range(20 * 180):  # three minutes of simulated time in 50 ms steps
        clock.advance(0.05)
        market.step()
    per_second = Counter(int(u.when.timestamp()) for u in seen if u.contract_id == "CON.F.US.ENQ.H26")
    counts = sorted(per_second.values())
    assert counts[len(counts) // 2] < 40  # mostly calm
    assert counts[-1] >= 150  # bursts reach hundreds per second


def test_no_quotes_while_the_market_is_closed_and_the_session_resets_at_17_ct() -> None:
    clock, market = sim(seed=3, start=datetime(2026, 3, 2, 21, 59, tzinfo=UTC))
    seen = record(market)
    clock.advance(30)
    market.step()
    book = market.book(MNQ)
    assert book.volume > 0
    clock.set(datetime(2026, 3, 2, 22, 30, tzinfo=UTC))  # in the halt
    market.step()
    n = len(seen)
    clock.advance(10)
    assert market.step() == 0 and len(seen) == n
    close, volume_before = book.last, book.volume
    clock.set(datetime(2026, 3, 2, 23, 0, 1, tzinfo=UTC))
    made = market.step()
    assert made > 0 and book.session == date(2026, 3, 3)
    assert book.settle == close and book.open == close  # change is measured from the last close
    new_volume = sum(u.trade_size for u in seen[n:] if u.contract_id == MNQ)
    assert book.volume == new_volume != volume_before  # counted from the new session only


def test_set_price_validates_the_grid_and_the_spread() -> None:
    _, market = sim()
    update = market.set_price(MNQ, Decimal("21000.25"))
    assert (update.book.pf(update.book.bid), update.book.pf(update.book.ask)) == (21000.25, 21000.5)
    with pytest.raises(PriceError, match=r"tick size 0\.25"):
        market.set_price(MNQ, Decimal("21000.1"))
    with pytest.raises(PriceError, match="positive"):
        market.set_price(MNQ, Decimal("0"))
    with pytest.raises(PriceError, match="below ask"):
        market.set_price(MNQ, Decimal("21000"), bid=Decimal("21001"), ask=Decimal("21000"))
    with pytest.raises(KeyError, match="unknown contract"):
        market.set_price("CON.F.US.MNQ.Z99", Decimal("1"))


def test_forced_rate_gives_that_many_quotes_per_second() -> None:
    clock, market = sim(always_open=True)
    market.set_rate(MNQ, 5000)
    seen = record(market)
    clock.advance(1.0)
    market.step()
    assert sum(1 for u in seen if u.contract_id == MNQ) == 5000
    with pytest.raises(ValueError, match="rate"):
        market.set_rate(MNQ, -1)


def test_hour_bars_skip_the_daily_halt_and_the_weekend() -> None:
    monday_morning = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # Monday 10:00 CDT (DST started 8 March)
    _, market = sim(start=monday_morning)
    bars = market.bars(MNQ, monday_morning - timedelta(days=3), monday_morning, 3, 1, 100, False)
    times = [datetime.fromisoformat(str(b["t"])) for b in bars]
    assert times == sorted(times, reverse=True)
    assert datetime(2026, 3, 8, 21, 0, tzinfo=UTC) not in times  # Sunday 16:00 CDT: closed
    assert datetime(2026, 3, 8, 22, 0, tzinfo=UTC) in times  # Sunday 17:00 CDT: open
    assert all(t.astimezone(ZoneInfo(CT)).weekday() != 5 for t in times)  # nothing on Saturday
    assert times[-1] == datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # stops at the start time
    assert datetime(2026, 3, 6, 21, 0, tzinfo=UTC) in times  # Friday 15:00 CST: last hour of the week
    assert datetime(2026, 3, 6, 22, 0, tzinfo=UTC) not in times  # Friday 16:00 CST: weekend


def test_day_week_month_bars_and_partial_bar() -> None:
    _, market = sim()
    days = market.bars(MNQ, START - timedelta(days=10), START, 4, 1, 5, False)
    assert [b["t"] for b in days][:2] == [
        "2026-03-01T00:00:00.000000+00:00",
        "2026-02-28T00:00:00.000000+00:00",
    ]
    with_partial = market.bars(MNQ, START - timedelta(days=10), START, 4, 1, 5, True)
    assert with_partial[0]["t"] == "2026-03-02T00:00:00.000000+00:00"
    weeks = market.bars(MNQ, START - timedelta(days=40), START, 5, 1, 3, True)
    assert weeks[0]["t"] == "2026-03-02T00:00:00.000000+00:00"  # a Monday
    months = market.bars(MNQ, START - timedelta(days=100), START, 6, 1, 3, True)
    assert [b["t"][:10] for b in months] == ["2026-03-01", "2026-02-01", "2026-01-01"]
    seconds = market.bars(MNQ, START - timedelta(seconds=30), START, 1, 10, 10, False)
    assert [b["t"][11:19] for b in seconds] == ["14:59:50", "14:59:40", "14:59:30"]
