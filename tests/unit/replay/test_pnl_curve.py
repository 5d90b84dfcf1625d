"""The P&L curves of the replay report (replay/pnl_curve.py), with the real engine and an explicit
clock: recorded lines are built here, one per event, at the times given."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.engine_helpers import MNQ, T0, account_event, flat, pos, quote, trade

from risk_manager.config.loader import load_config
from risk_manager.domain.events import ConnectionEvent, Event
from risk_manager.engine.engine import Engine
from risk_manager.replay.pnl_curve import CurvePoint, DayLimits, PnlCurves, thin
from risk_manager.replay.reader import ReplayLine
from risk_manager.replay.runner import replay

CONFIG = load_config(Path(__file__).resolve().parents[2] / "data" / "replay" / "config")  # RULE-003 -500


def engine() -> Engine:
    return Engine(CONFIG.policy(), CONFIG.calendar(), CONFIG.contracts())


def lines(*timed: tuple[float, Event | None]) -> list[ReplayLine]:
    """One line per (seconds after T0, event); None makes a clock line."""
    out = []
    for n, (seconds, event) in enumerate(timed, start=1):
        t = T0 + timedelta(seconds=seconds)
        if event is None:
            out.append(ReplayLine(n, t, "clock", ()))
        else:
            kind = "connection" if isinstance(event, ConnectionEvent) else "message"
            out.append(ReplayLine(n, t, kind, (event,)))
    return out


def run(
    recorded: Iterable[ReplayLine], accounts: Iterable[int] = (), **kwargs: timedelta
) -> tuple[PnlCurves, list[tuple[datetime, int, str]]]:
    eng = engine()
    curves = PnlCurves(eng, accounts, **kwargs)
    decisions = []
    for t, action in replay(curves.lines(recorded), eng):
        curves.decision(t, action.account_id)
        decisions.append((t, action.account_id, action.kind))
    curves.finish()
    return curves, decisions


def figures(points: Iterable[CurvePoint]) -> list[tuple[float, str, str, bool]]:
    return [((p.t - T0).total_seconds(), str(p.realized), str(p.net), p.decision) for p in points]


# 2 MNQ long at 21000 ($2 a point each: $4 a point), then quotes, then a closing trade at a loss.
OPEN = [
    (0, account_event()),
    (1, trade(1, MNQ, "21000", fees="0.74", size=2)),
    (1.001, pos(MNQ, 2, "21000")),
]


def test_each_trade_and_quote_change_makes_a_point_with_realized_after_fees_and_the_total() -> None:
    curves, _ = run(lines(*OPEN, (5, quote(MNQ, 20990)), (10, quote(MNQ, 20995))))
    assert figures(curves.points(7)) == [
        (0, "0", "0", False),
        (1, "-0.74", "-0.74", False),  # the fees; the position (1.001 s) has no price yet: no change
        (5, "-0.74", "-40.74", False),  # 2 x -10 points x $2
        (10, "-0.74", "-20.74", False),
    ]


def test_with_a_position_at_its_average_price_the_status_is_read_at_most_once_per_interval() -> None:
    # Marked at 21000 = its average price, the position's P&L per point cannot be read off the
    # status yet: the quotes of 2.1-2.5 s wait for the interval (from the read at 2.0 s); the clock
    # line at 3.0 s reads the status as it then stands (the 2.5 s quote's); from then on each
    # quote moves the total at once.
    quotes = [(2 + i * 0.1, quote(MNQ, 21000 - i)) for i in range(6)]  # 2.0 s .. 2.5 s
    curves, _ = run(
        lines(*OPEN, *quotes, (3.0, None), (3.5, quote(MNQ, 21001))), quote_interval=timedelta(seconds=1)
    )
    assert figures(curves.points(7))[2:] == [
        (3.0, "-0.74", "-20.74", False),
        (3.5, "-0.74", "3.26", False),  # 2 x 1 point x $2
    ]


def test_every_point_of_the_curve_is_what_the_read_model_gave_at_its_time() -> None:
    recorded = lines(
        *OPEN,
        (2, quote(MNQ, 21003.25)),
        (3, account_event(account=8)),
        (3.5, trade(9, MNQ, "21003", fees="0.37", account=8)),
        (3.501, pos(MNQ, -1, "21003", 8)),
        *[(4 + i * 0.3, quote(MNQ, 21003 + (i % 5) - 2 + 0.25 * (i % 3))) for i in range(100)],
        (40, trade(2, MNQ, "21001", pnl="2", fees="0.37", side=1)),  # closes 1 of the 2
        (40.5, quote(MNQ, 20990)),  # before the position update: 1 still open, 1 closing
        (41, pos(MNQ, 1, "21000")),
        (42, quote(MNQ, 20980)),
    )
    eng = engine()
    curves = PnlCurves(eng)
    seen: dict[tuple[int, datetime], tuple[Decimal, Decimal]] = {}
    previous: ReplayLine | None = None
    for line in curves.lines(recorded):
        if previous is not None:  # applied by now
            for account_id in curves.account_ids:
                status = eng.status(account_id, previous.t)
                assert status is not None
                seen[account_id, previous.t] = (status.realized - status.costs, status.net)
        for _ in replay([line], eng):
            pass
        previous = line
    curves.finish(recorded[-1].t)
    for account_id in (7, 8):
        points = curves.points(account_id)
        assert len(points) > 10
        for p in points[:-1]:  # (the last line's figures are the finish point's)
            assert (p.realized, p.net) == seen[account_id, p.t], p


def test_a_point_that_changes_nothing_is_left_out_but_the_curve_reaches_the_last_time() -> None:
    curves, _ = run(lines(*OPEN, (5, quote(MNQ, 21000)), (6, quote(MNQ, 21000)), (60, None)))
    assert [p[0] for p in figures(curves.points(7))] == [0, 1, 60]


def test_every_decision_sits_on_a_point_of_its_account_at_its_time() -> None:
    # A -520 closing trade: RULE-003 (-500, fees included) flattens, cancels and locks at once.
    recorded = lines(
        *OPEN,
        (30, quote(MNQ, 20900)),
        (40, trade(2, MNQ, "20870", pnl="-520", fees="0.74", size=2, side=1)),
        (40.001, flat(MNQ)),
    )
    curves, decisions = run(recorded)
    assert {kind for _, _, kind in decisions} >= {"flatten", "lockout"}
    marked = {p.t: p for p in curves.points(7) if p.decision}
    assert set(marked) == {t for t, _, _ in decisions}
    at_decision = marked[T0 + timedelta(seconds=40)]
    assert (at_decision.realized, at_decision.net) == (Decimal("-521.48"), Decimal("-521.48"))


def test_the_loss_limit_and_profit_target_come_from_the_accounts_gauges() -> None:
    curves, _ = run(lines(*OPEN))
    assert curves.limits(7) == DayLimits(loss_limit=Decimal("-500"), profit_target=None)
    assert curves.limits(99) == DayLimits()


def test_only_the_accounts_asked_for_get_a_curve() -> None:
    other = [
        (2, account_event(account=8)),
        (3, trade(9, MNQ, "21000", account=8)),
        (3.001, pos(MNQ, 1, "21000", 8)),
    ]
    curves, _ = run(lines(*OPEN, *other, (5, quote(MNQ, 20990))), accounts=[8])
    assert curves.account_ids == [8]
    assert figures(curves.points(8))[-1] == (5, "0", "-20", False)


def point(seconds: float, net: int, decision: bool = False) -> CurvePoint:
    return CurvePoint(T0 + timedelta(seconds=seconds), Decimal(0), Decimal(net), decision)


def test_thinning_keeps_each_buckets_extremes_the_ends_and_every_decision() -> None:
    # 10,000 points of a zigzag with a dip to -900 at 5,001 s and decisions at 17 s and 9,998 s.
    points = [point(i, (i % 7) * 10, decision=i in (17, 9998)) for i in range(10_000)]
    points[5001] = point(5001, -900)
    thinned = thin(points, 500)
    assert len(thinned) <= 504
    kept = {(p.t - T0).total_seconds() for p in thinned}
    assert {0, 17, 5001, 9998, 9999} <= kept
    assert min(p.net for p in thinned) == -900 and max(p.net for p in thinned) == 60
    assert [p.t for p in thinned] == sorted(p.t for p in thinned)


def test_a_short_curve_is_not_thinned() -> None:
    points = [point(i, i) for i in range(50)]
    assert thin(points, 50) == points
