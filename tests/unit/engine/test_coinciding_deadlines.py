"""Deadlines due at the same instant all fire, closing-day items first, then the daily reset.

RULES.md, settled points: a session end, a grace expiry or a lockout end that coincides with the
daily reset is applied as well as the reset; the usual CME set-up (session ending at the 17:00 CT
reset) must flatten and lock at the session end.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.domain.actions import LockAccount
from risk_manager.domain.calendar import SessionWindow, TradingCalendar
from risk_manager.domain.values import Duration
from risk_manager.rules.api import Rule
from risk_manager.rules.cooldown_after_loss import CooldownAfterLoss, CooldownAfterLossConfig, LossTier
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig
from risk_manager.rules.no_stop_loss_grace import NoStopLossGrace, NoStopLossGraceConfig
from risk_manager.rules.session_block_outside import SessionBlockOutside, SessionBlockOutsideConfig

from engine_helpers import ES, MNQ, EngineHarness, kinds, pos, trade

CHICAGO = ZoneInfo("America/Chicago")
# CME Globex: Sunday-Thursday 18:00 -> next day 17:00 CT; regular hours 08:30-17:00 Monday-Friday.
GLOBEX = SessionWindow(time(18, 0), time(17, 0), CHICAGO, frozenset({6, 0, 1, 2, 3}))
RTH = SessionWindow(time(8, 30), time(17, 0), CHICAGO)
RESET = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # Monday 17:00 CST: the session end and the reset
MORNING = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 09:00 CST

SESSION_END_AND_RESET = [
    ("RULE-009", "flatten"),
    ("RULE-009", "cancel_orders"),
    ("RULE-009", "lockout"),
    ("RESET", "alert"),
]


def session_rule() -> SessionBlockOutside:
    return SessionBlockOutside(SessionBlockOutsideConfig(enabled=True))


def test_a_position_held_at_the_globex_session_end_is_flattened_and_locked_before_the_reset() -> None:
    h = EngineHarness(session_rule(), calendar=TradingCalendar(session=GLOBEX), start=MORNING)
    h.apply(pos(MNQ, 2, 21000))
    actions = h.tick(to=RESET)
    assert kinds(actions) == SESSION_END_AND_RESET
    lock = next(a for a in actions if isinstance(a, LockAccount))
    assert lock.until == RESET + timedelta(hours=1)  # until the session starts again at 18:00 CT
    assert [t for t, _ in h.log] == [RESET] * 4


def test_a_position_held_at_the_rth_session_end_is_flattened_and_locked_until_the_next_morning() -> None:
    h = EngineHarness(session_rule(), calendar=TradingCalendar(session=RTH), start=MORNING)
    h.apply(pos(ES, -1, 5000))
    actions = h.tick(to=RESET)
    assert kinds(actions) == SESSION_END_AND_RESET
    lock = next(a for a in actions if isinstance(a, LockAccount))
    assert lock.until == datetime(2026, 3, 3, 14, 30, tzinfo=UTC)  # Tuesday 08:30 CST


def test_the_session_end_lockout_holds_across_the_reset() -> None:
    h = EngineHarness(session_rule(), calendar=TradingCalendar(session=GLOBEX), start=MORNING)
    h.apply(pos(MNQ, 1, 21000))
    h.tick(to=RESET)
    grown = kinds(h.apply(pos(MNQ, 2, 21000), at=RESET + timedelta(minutes=30)))
    assert ("LOCKOUT", "close_position") in grown
    assert ("RULE-009", "lockout") not in grown  # the lockout in force already lasts long enough
    assert kinds(h.tick(to=RESET + timedelta(hours=1))) == [("RULE-009", "unlock")]


def test_a_grace_expiry_at_the_reset_closes_the_position_before_the_reset() -> None:
    grace = NoStopLossGrace(NoStopLossGraceConfig(enabled=True, grace_period_seconds=30))
    h = EngineHarness(grace, start=RESET - timedelta(seconds=30))
    h.apply(pos(MNQ, 1, 21000))
    actions = h.tick(to=RESET)
    # the reset re-arms the breach (a trading day starts) and the position is still open: closed again
    assert kinds(actions) == [
        ("RULE-008", "close_position"),
        ("RESET", "alert"),
        ("RULE-008", "close_position"),
    ]


def test_a_lockout_ending_at_the_reset_ends_before_the_reset() -> None:
    cooldown = CooldownAfterLoss(
        CooldownAfterLossConfig(
            enabled=True,
            close_positions=False,
            tiers=(LossTier(loss=Decimal(-100), cooldown=Duration(seconds=600)),),
        )
    )
    h = EngineHarness(cooldown, start=RESET - timedelta(minutes=10))
    h.apply(trade(1, MNQ, 21000, pnl="-150", side=1))
    assert kinds(h.tick(to=RESET)) == [("RULE-007", "unlock"), ("RESET", "alert")]


# ---- property: coinciding deadlines act as if taken one microsecond apart -------------------------


@st.composite
def set_ups(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "session": draw(st.sampled_from(["globex", "rth", "none"])),
        "grace": draw(st.one_of(st.none(), st.integers(1, 600))),
        "cooldown": draw(st.one_of(st.none(), st.integers(1, 3600))),
        "daily_loss": draw(st.booleans()),
        "accounts": draw(
            st.lists(
                st.lists(
                    st.tuples(
                        st.sampled_from([MNQ, ES]),
                        st.integers(-3, 3).filter(bool),
                        st.booleans(),  # opened exactly one grace period before the reset
                    ),
                    max_size=2,
                    unique_by=lambda p: p[0],
                ),
                min_size=1,
                max_size=3,
            )
        ),
        "losing_trade": draw(st.booleans()),  # a losing fill exactly one cooldown before the reset
    }


def _rules(setup: dict[str, Any]) -> list[Rule[Any]]:
    rules: list[Rule[Any]] = []
    if setup["daily_loss"]:
        rules.append(
            DailyRealizedLoss(
                DailyRealizedLossConfig(enabled=True, limit=Decimal(-100), include_unrealized=False)
            )
        )
    if setup["cooldown"] is not None:
        tier = LossTier(loss=Decimal(-100), cooldown=Duration(seconds=setup["cooldown"]))
        rules.append(
            CooldownAfterLoss(CooldownAfterLossConfig(enabled=True, close_positions=False, tiers=(tier,)))
        )
    if setup["grace"] is not None:
        rules.append(
            NoStopLossGrace(NoStopLossGraceConfig(enabled=True, grace_period_seconds=setup["grace"]))
        )
    if setup["session"] != "none":
        rules.append(session_rule())
    return rules


def _run(setup: dict[str, Any], reset_time: time) -> Counter[tuple[Any, ...]]:
    """Every action from the set-up until just after the reset, order and times aside."""
    session = {"globex": GLOBEX, "rth": RTH, "none": None}[setup["session"]]
    calendar = TradingCalendar(reset_time=reset_time, session=session)
    start = RESET - timedelta(hours=2)
    h = EngineHarness(*_rules(setup), calendar=calendar, start=start)
    grace = timedelta(seconds=setup["grace"] or 60)
    cooldown = timedelta(seconds=setup["cooldown"] or 60)
    events: list[tuple[datetime, Any]] = []
    for n, positions in enumerate(setup["accounts"]):
        account = 100 + n
        for contract, size, at_grace in positions:
            opened = RESET - grace if at_grace else start + timedelta(minutes=1)
            events.append((opened, pos(contract, size, 100, account=account)))
        if setup["losing_trade"]:
            events.append((RESET - cooldown, trade(n + 1, MNQ, 100, pnl="-150", side=1, account=account)))
    for at, event in sorted(events, key=lambda e: e[0]):
        h.apply(event, at=at)
    h.tick(to=RESET + timedelta(seconds=2))
    return Counter((a.account_id, a.rule, a.kind, getattr(a, "contract_id", None)) for _, a in h.log)


@settings(max_examples=60, deadline=None)
@given(setup=set_ups())
def test_coinciding_deadlines_give_the_same_actions_as_deadlines_one_microsecond_apart(
    setup: dict[str, Any],
) -> None:
    together = _run(setup, time(17, 0))
    apart = _run(setup, time(17, 0, 0, 1))  # the reset one microsecond after everything else
    assert together == apart
