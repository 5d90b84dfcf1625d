"""PnlHistory: the day's P&L curve of each account, bounded, with an explicit clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from risk_manager.daemon.dashboard.history import PnlHistory

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DAY = date(2026, 3, 2)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def d(text: str) -> Decimal:
    return Decimal(text)


def test_a_sample_is_kept_only_when_realized_or_net_moved() -> None:
    history = PnlHistory()
    assert history.add(7, DAY, at(0), d("0"), d("0"))
    assert not history.add(7, DAY, at(1), d("0"), d("0"))  # nothing moved
    assert history.add(7, DAY, at(2), d("0"), d("-12.50"))  # the open position's mark moved
    assert history.add(7, DAY, at(3), d("-12.50"), d("-14.20"))  # closed, with fees
    assert [(p.t, p.realized, p.net) for p in history.points(7)] == [
        (at(0), 0, 0), (at(2), 0, d("-12.50")), (at(3), d("-12.50"), d("-14.20"))
    ]


def test_accounts_have_separate_series() -> None:
    history = PnlHistory()
    history.add(7, DAY, at(0), d("1"), d("1"))
    history.add(8, DAY, at(0), d("2"), d("2"))
    history.add(8, DAY, at(1), d("3"), d("3"))
    assert history.accounts() == [7, 8]
    assert len(history.points(7)) == 1 and len(history.points(8)) == 2
    assert history.points(9) == []


def test_a_new_trading_day_starts_a_new_series() -> None:
    history = PnlHistory()
    history.add(7, DAY, at(0), d("-100"), d("-100"))
    history.add(7, DAY + timedelta(days=1), at(3600), d("0"), d("0"))
    assert [(p.realized, p.net) for p in history.points(7)] == [(0, 0)]
    assert history.day(7) == DAY + timedelta(days=1)


def test_a_full_series_halves_its_resolution_and_keeps_the_start_of_the_day_and_the_newest_point() -> None:
    history = PnlHistory(capacity=8)
    for n in range(100):
        history.add(7, DAY, at(n), d(n), d(n))
    points = history.points(7)
    assert len(points) <= 8
    assert points[0].t == at(0)  # the curve still starts at the day's first sample
    assert points[-1].t == at(99) and points[-1].net == 99
    assert [p.t for p in points] == sorted(p.t for p in points)


def test_a_sample_older_than_the_last_one_joins_it_instead_of_going_back_in_time() -> None:
    history = PnlHistory()
    history.add(7, DAY, at(10), d("0"), d("0"))
    history.add(7, DAY, at(5), d("-1"), d("-1"))
    assert [p.t for p in history.points(7)] == [at(10), at(10)]


def test_seed_rebuilds_the_realized_curve_from_the_days_trades_after_a_restart() -> None:
    history = PnlHistory()
    history.seed(7, DAY, [(at(0), d("0"), d("1.40")), (at(60), d("-50"), d("1.40")),
                          (at(120), d("25"), d("2.80"))])
    assert [(p.t, p.realized, p.net) for p in history.points(7)] == [
        (at(0), 0, d("-1.40")), (at(60), d("-50"), d("-52.80")), (at(120), d("-25"), d("-30.60"))
    ]
    history.seed(7, DAY, [(at(0), d("999"), d("0"))])  # the day has samples already: ignored
    assert history.points(7)[-1].realized == d("-25")


def test_to_json_gives_parallel_arrays_with_epoch_seconds_and_money_strings() -> None:
    history = PnlHistory()
    history.add(7, DAY, at(0), d("0"), d("0"))
    history.add(7, DAY, at(1.5), d("-12.5"), d("-13.9"))
    assert history.to_json(7) == {
        "account_id": 7,
        "trading_day": "2026-03-02",
        "t": [T0.timestamp(), T0.timestamp() + 1.5],
        "time": ["2026-03-02T15:00:00.000Z", "2026-03-02T15:00:01.500Z"],
        "realized": ["0.00", "-12.50"],
        "net": ["0.00", "-13.90"],
    }


def test_a_capacity_too_small_to_draw_a_curve_is_refused_with_the_minimum() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        PnlHistory(capacity=2)
