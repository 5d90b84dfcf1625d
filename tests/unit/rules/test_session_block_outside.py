"""RULE-009 session_block_outside, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from risk_manager.domain.actions import Action, ClosePosition, LockAccount
from risk_manager.domain.calendar import Holidays, SessionWindow, TradingCalendar
from risk_manager.rules.session_block_outside import SessionBlockOutside, SessionBlockOutsideConfig

from engine_helpers import ES, MNQ, EngineHarness, flat, kinds, pos, quote

CHICAGO = ZoneInfo("America/Chicago")
RTH = SessionWindow(time(8, 30), time(15, 0), CHICAGO, frozenset({0, 1, 2, 3, 4}))
GLOBEX = SessionWindow(time(17, 0), time(16, 0), CHICAGO, frozenset({6, 0, 1, 2, 3}))

LOCK_SET = [("RULE-009", "cancel_orders"), ("RULE-009", "lockout")]
CLOSE_AND_LOCK = [("RULE-009", "close_position"), *LOCK_SET]
FLATTEN_AND_LOCK = [("RULE-009", "flatten"), *LOCK_SET]


def ct(text: str) -> datetime:
    """A Chicago wall time, e.g. "2026-03-02 08:30" (a Monday), as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=CHICAGO).astimezone(UTC)


def harness(
    start: str = "2026-03-02 07:00", calendar: TradingCalendar | None = None, **cfg: Any
) -> EngineHarness:
    rule = SessionBlockOutside(SessionBlockOutsideConfig(enabled=True, **cfg))
    return EngineHarness(rule, calendar=calendar or TradingCalendar(session=RTH), start=ct(start))


def lock_until(actions: list[Action]) -> datetime | None:
    locks = [a for a in actions if isinstance(a, LockAccount)]
    assert len(locks) == 1, actions
    return locks[0].until


def mine(actions: list[Action]) -> list[tuple[str, str]]:
    """This rule's actions (the daily reset's own alert is not the rule's business)."""
    return [k for k in kinds(actions) if k[0] == "RULE-009"]


def logged(h: EngineHarness) -> list[tuple[datetime, str, str]]:
    return [(t, a.rule, a.kind) for t, a in h.log if a.rule == "RULE-009"]


# ---- a position opening outside the session --------------------------------------------------------


def test_position_opened_before_the_session_is_closed_and_the_account_locked_until_the_start() -> None:
    h = harness()
    actions = h.apply(pos(MNQ, 1, "21000"))
    assert kinds(actions) == CLOSE_AND_LOCK
    close = actions[0]
    assert isinstance(close, ClosePosition)
    assert (close.contract_id, close.size, close.subject) == (MNQ, None, f"pos:{MNQ}")
    assert lock_until(actions) == ct("2026-03-02 08:30")
    assert all(a.subject == f"pos:{MNQ}" for a in actions)
    assert close.reason is not None and "outside the MNQ session" in close.reason
    assert "2026-03-02 08:30:00 CST" in close.reason


def test_one_second_before_the_start_is_outside_the_start_itself_is_inside() -> None:
    h = harness(start="2026-03-02 08:29:59")
    assert kinds(h.apply(pos(MNQ, 1, "21000"))) == CLOSE_AND_LOCK
    h2 = harness(start="2026-03-02 08:30")
    assert h2.apply(pos(MNQ, 1, "21000")) == []


def test_at_the_end_instant_the_session_is_already_over() -> None:
    h = harness(start="2026-03-02 15:00")
    actions = h.apply(pos(MNQ, 1, "21000"))
    assert kinds(actions) == CLOSE_AND_LOCK
    assert lock_until(actions) == ct("2026-03-03 08:30")


def test_after_friday_close_the_lock_lasts_until_monday() -> None:
    h = harness(start="2026-03-06 18:00")
    assert lock_until(h.apply(pos(MNQ, 1, "21000"))) == ct("2026-03-09 08:30")  # CDT by then


def test_growing_or_reversing_outside_the_session_is_a_breach_reducing_is_not() -> None:
    h = harness(start="2026-03-02 14:00", close_at_session_end=False)
    assert h.apply(pos(MNQ, 2, "21000")) == []
    h.tick(to=ct("2026-03-02 15:30"))
    assert h.apply(pos(MNQ, 1, "21000")) == []  # reduced
    assert kinds(h.apply(pos(MNQ, 3, "21000"))) == CLOSE_AND_LOCK  # grew

    h2 = harness(start="2026-03-02 14:00", close_at_session_end=False)
    h2.apply(pos(ES, 1, "5000"))
    h2.tick(to=ct("2026-03-02 16:00"))
    assert kinds(h2.apply(pos(ES, -1, "5001"))) == CLOSE_AND_LOCK  # reversed


def test_a_position_opening_while_the_session_lock_holds_is_closed_once_by_the_gate() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    h.apply(flat(MNQ), at=ct("2026-03-02 07:05"))
    actions = h.apply(pos(MNQ, 2, "21001"), at=ct("2026-03-02 07:10"))
    assert kinds(actions) == [("LOCKOUT", "close_position")]


def test_the_lock_ends_at_the_session_start_and_trading_is_allowed_again() -> None:
    h = harness()
    h.apply(pos(MNQ, 1, "21000"))
    h.apply(flat(MNQ), at=ct("2026-03-02 07:05"))
    unlocked = h.tick(to=ct("2026-03-02 08:30"))
    assert kinds(unlocked) == [("RULE-009", "unlock")]
    assert h.apply(pos(MNQ, 1, "21000")) == []


def test_a_position_left_open_outside_the_session_is_closed_once() -> None:
    h = harness(close_at_session_end=False)
    assert kinds(h.apply(pos(MNQ, 1, "21000"))) == CLOSE_AND_LOCK
    assert h.apply(pos(MNQ, 1, "21000"), quote(MNQ, 21001.0)) == []  # close not done yet: no repeat
    assert h.tick(minutes=10) == []


# ---- the session ending with positions open -------------------------------------------------------


def test_session_end_with_a_position_open_flattens_and_locks_until_the_next_start() -> None:
    h = harness(start="2026-03-02 10:00")
    h.apply(pos(MNQ, 1, "21000"))
    assert h.tick(to=ct("2026-03-02 14:59:59")) == []
    actions = h.tick(to=ct("2026-03-02 15:00:01"))
    assert kinds(actions) == FLATTEN_AND_LOCK
    assert logged(h)[0][0] == ct("2026-03-02 15:00")  # at the end itself, by the rule's timer
    assert lock_until(actions) == ct("2026-03-03 08:30")
    assert actions[0].subject == "session_end:2026-03-02T21:00:00.000Z"


def test_session_end_flattens_once() -> None:
    h = harness(start="2026-03-02 10:00")
    h.apply(pos(MNQ, 1, "21000"))
    h.tick(to=ct("2026-03-02 15:00"))
    assert h.apply(pos(MNQ, 1, "21000"), at=ct("2026-03-02 15:01")) == []
    assert h.tick(to=ct("2026-03-02 16:00")) == []


def test_session_end_without_positions_does_nothing() -> None:
    h = harness(start="2026-03-02 10:00")
    h.apply(pos(MNQ, 1, "21000"))
    h.apply(flat(MNQ), at=ct("2026-03-02 14:59"))
    assert h.tick(to=ct("2026-03-02 16:00")) == []


def test_close_at_session_end_false_leaves_positions_open_at_the_end() -> None:
    h = harness(start="2026-03-02 10:00", close_at_session_end=False)
    h.apply(pos(MNQ, 1, "21000"))
    assert mine(h.tick(to=ct("2026-03-02 18:00"))) == []
    assert h.state.positions[MNQ].size == 1


def test_an_early_close_ends_the_session_early() -> None:
    early = Holidays(early_close={date(2026, 11, 27): time(12, 15)})
    h = harness(start="2026-11-27 09:00", calendar=TradingCalendar(session=RTH, holidays=early))
    h.apply(pos(MNQ, 1, "21000"))
    assert h.tick(to=ct("2026-11-27 12:14:59")) == []
    assert kinds(h.tick(to=ct("2026-11-27 12:15"))) == FLATTEN_AND_LOCK
    assert logged(h)[0][0] == ct("2026-11-27 12:15")


def test_a_holiday_is_outside_the_session() -> None:
    closed = Holidays(closed=frozenset({date(2026, 12, 25)}))
    h = harness(start="2026-12-25 10:00", calendar=TradingCalendar(session=RTH, holidays=closed))
    actions = h.apply(pos(MNQ, 1, "21000"))
    assert kinds(actions) == CLOSE_AND_LOCK
    assert lock_until(actions) == ct("2026-12-28 08:30")


def test_per_symbol_window_decides_for_that_symbol() -> None:
    cal = TradingCalendar(session=RTH, per_symbol={"ES": GLOBEX})
    h = harness(start="2026-03-02 19:00", calendar=cal, close_at_session_end=False)
    assert h.apply(pos(ES, 1, "5000")) == []  # ES trades overnight
    actions = h.apply(pos(MNQ, 1, "21000"))
    assert kinds(actions) == CLOSE_AND_LOCK
    assert lock_until(actions) == ct("2026-03-03 08:30")


def test_per_symbol_session_end_is_woken_at_that_symbols_end() -> None:
    cal = TradingCalendar(session=RTH, per_symbol={"ES": GLOBEX})
    h = harness(start="2026-03-02 19:00", calendar=cal)
    h.apply(pos(ES, 1, "5000"))
    assert h.tick(to=ct("2026-03-03 15:59:59")) == []
    actions = h.tick(to=ct("2026-03-03 16:00"))
    assert kinds(actions) == FLATTEN_AND_LOCK
    assert lock_until(actions) == ct("2026-03-03 17:00")


def test_no_session_configured_means_never_outside() -> None:
    h = harness(start="2026-03-07 03:00", calendar=TradingCalendar())
    assert h.apply(pos(MNQ, 1, "21000")) == []
    assert mine(h.tick(hours=48)) == []


# ---- daily reset ----------------------------------------------------------------------------------


def test_the_session_lock_outlasts_the_daily_reset() -> None:
    h = harness(start="2026-03-02 16:00")
    assert lock_until(h.apply(pos(MNQ, 1, "21000"))) == ct("2026-03-03 08:30")
    h.apply(flat(MNQ), at=ct("2026-03-02 16:01"))
    h.tick(to=ct("2026-03-02 17:00:01"))  # the daily reset passes
    assert kinds(h.apply(pos(MNQ, 1, "21000"))) == [("LOCKOUT", "close_position")]
    assert kinds(h.tick(to=ct("2026-03-03 08:30"))) == [("RULE-009", "unlock")]


def test_a_position_still_open_in_the_next_trading_day_is_flattened_again_without_a_second_lock() -> None:
    h = harness(start="2026-03-02 10:00")
    h.apply(pos(MNQ, 1, "21000"))
    assert kinds(h.tick(to=ct("2026-03-02 15:00"))) == FLATTEN_AND_LOCK
    assert h.apply(pos(MNQ, 1, "21000"), at=ct("2026-03-02 16:30")) == []  # same day: once per breach
    assert mine(h.tick(to=ct("2026-03-02 17:00:01"))) == []  # the reset alone decides nothing
    # The reset re-armed the breach: the flatten is decided again, the lock in force is kept as is.
    assert kinds(h.apply(pos(MNQ, 1, "21000"))) == [("RULE-009", "flatten")]


# ---- describe and config --------------------------------------------------------------------------


def test_describe_says_what_happens() -> None:
    on = SessionBlockOutside(SessionBlockOutsideConfig(enabled=True)).describe()
    off = SessionBlockOutside(SessionBlockOutsideConfig(enabled=True, close_at_session_end=False)).describe()
    assert "RULE-009" in on and "flatten at the session end" in on and "next session start" in on
    assert "flatten" not in off


def test_defaults_close_at_session_end_and_rule_off() -> None:
    config = SessionBlockOutsideConfig()
    assert config.close_at_session_end is True
    assert config.enabled is False


def test_config_rejects_session_hours_here_they_belong_in_timers_yaml() -> None:
    with pytest.raises(ValidationError, match="start"):
        SessionBlockOutsideConfig(enabled=True, start="08:30")  # type: ignore[call-arg]


def test_config_rejects_a_non_boolean_close_at_session_end() -> None:
    with pytest.raises(ValidationError, match="close_at_session_end"):
        SessionBlockOutsideConfig(enabled=True, close_at_session_end="sometimes")  # type: ignore[arg-type]


def test_every_action_carries_the_numbers() -> None:
    h = harness()
    actions = h.apply(pos(MNQ, 1, "21000"))
    for action in actions:
        assert ("next_session_start", "2026-03-02T14:30:00.000Z") in action.inputs
    assert lock_until(actions) == ct("2026-03-02 08:30") == ct("2026-03-02 07:00") + timedelta(minutes=90)
