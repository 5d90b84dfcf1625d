"""The engine's public persistence interface: export_state/restore, reinstate_lockout, typed timers,
and the change report a persistence layer keeps instead of diffing state (engine.last_changes)."""

from __future__ import annotations

from datetime import timedelta

import orjson
from stream import build_engine, stream
from test_recovery import LOSS_RULES

from risk_manager.domain.actions import LockAccount, Unlock
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.lockouts import Lockout
from risk_manager.engine.changes import NO_CHANGES, EndCause
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.engine.timers import Timer, TimerKind

from engine_helpers import MNQ, T0, flat, pos, trade


def test_an_engine_restored_from_an_export_decides_the_rest_of_the_stream_exactly_as_the_original() -> None:
    events = stream(1500)
    original = build_engine()
    for t, event in events[:700]:
        original.apply(event, t)
    # through JSON, as the store keeps it
    restored = build_engine()
    restored.restore(orjson.loads(orjson.dumps(original.export_state())))
    assert restored.export_state() == original.export_state()
    # the same deadlines (push order, the tie-breaker, is renumbered: ties fire in account order)
    assert pending(restored) == pending(original)
    decided = 0
    for t, event in events[700:]:
        expected = original.apply(event, t)
        assert restored.apply(event, t) == expected, f"at {t} on {event!r}"
        decided += len(expected)
    assert decided > 20  # the second half locks, unlocks and resets: the comparison means something
    assert restored.export_state() == original.export_state()


def pending(engine: Engine) -> list[tuple[object, ...]]:
    return sorted((t.when, t.kind, t.account_id, repr(t.key)) for t in engine.timers())


def test_timers_are_typed_entries_that_fire_wake_ups_then_lockout_ends_then_the_reset() -> None:
    engine = LOSS_RULES()
    engine.advance(T0)
    reset = engine.calendar.next_reset(T0)
    # a lockout ending exactly at the reset instant, reinstated from outside
    lockout = Lockout(7, "RULE-007", "loss", T0, until=reset)
    assert engine.reinstate_lockout(lockout, T0)
    timers = engine.timers()
    assert all(isinstance(timer, Timer) for timer in timers)
    assert [(t.when, t.kind) for t in timers] == [(reset, TimerKind.LOCKOUT_END), (reset, TimerKind.RESET)]
    assert TimerKind.WAKE < TimerKind.LOCKOUT_END < TimerKind.RESET
    actions = engine.advance(reset)
    assert [type(a).__name__ for a in actions] == ["Unlock", "Alert"]  # the lockout ends in the old day


def test_a_reinstated_lockout_is_held_and_ends_at_its_time() -> None:
    engine = LOSS_RULES()
    lockout = Lockout(7, "RULE-007", "loss", T0, until=T0 + timedelta(minutes=15))
    assert engine.reinstate_lockout(lockout, T0)
    assert engine.accounts[7].lockouts.get(lockout.key) == lockout
    assert engine.next_deadline() == lockout.until
    [unlock] = engine.advance(T0 + timedelta(minutes=20))
    assert isinstance(unlock, Unlock) and unlock.rule == "RULE-007"


def test_reinstating_a_lockout_of_an_account_the_policy_does_not_monitor_says_so() -> None:
    engine = Engine(Policy(lambda _account: None), TradingCalendar())
    assert not engine.reinstate_lockout(Lockout(7, "RULE-007", "loss", T0, until=T0 + timedelta(hours=1)), T0)
    assert engine.accounts == {}


def recording() -> Engine:
    engine = LOSS_RULES()
    engine.record_changes = True
    return engine


def test_the_change_report_says_which_execution_was_counted_and_the_days_figures_after_it() -> None:
    engine = recording()
    engine.apply(pos(MNQ, 1, 21000), T0)
    assert engine.last_changes is NO_CHANGES
    engine.apply(trade(1, MNQ, 21000, order_id=11), T0)
    changes = engine.last_changes
    assert changes.counted == ((7, 1),) and changes.was_counted(7, 1)
    [day] = changes.days
    assert (day.account_id, day.trade_count, day.realized) == (7, 1, 0)
    assert not changes.critical
    engine.apply(trade(1, MNQ, 21000, order_id=11), T0 + timedelta(seconds=1))  # re-delivered
    assert engine.last_changes.counted == () and engine.last_changes.days == ()


def test_the_change_report_names_a_voided_execution() -> None:
    engine = recording()
    engine.apply(trade(1, MNQ, 21000, pnl="-50", side=1, order_id=11), T0)
    engine.apply(trade(1, MNQ, 21000, pnl="-50", side=1, order_id=11, voided=True), T0 + timedelta(seconds=1))
    changes = engine.last_changes
    assert changes.voided == ((7, 1),)
    assert [(d.trade_count, d.realized) for d in changes.days] == [(0, 0)]


def test_the_change_report_names_lockouts_taken_and_ended_and_why() -> None:
    engine = recording()
    engine.apply(pos(MNQ, 1, 21000), T0)
    engine.apply(trade(1, MNQ, 21000, order_id=11), T0)
    actions = engine.apply(trade(2, MNQ, 20900, pnl="-200", side=1, order_id=12), T0 + timedelta(seconds=5))
    changes = engine.last_changes
    locks = [a for a in actions if isinstance(a, LockAccount)]
    assert [lo.rule for lo in changes.locked] == [a.rule for a in locks] and changes.critical
    assert all(step.taken for step in changes.lockout_steps) and len(changes.lockout_steps) == len(locks)
    engine.apply(flat(MNQ), T0 + timedelta(seconds=6))
    engine.advance(T0 + timedelta(hours=1))
    ended = engine.last_changes.ended
    assert [(e.lockout.rule, e.cause) for e in ended] == [("RULE-007", EndCause.TIMER)]
    assert [step.cause for step in engine.last_changes.lockout_steps] == [EndCause.TIMER]
    engine.clear_lockout(7, T0 + timedelta(hours=1), by="alice", why="test")
    assert engine.last_changes is NO_CHANGES  # nothing left to clear


def test_the_change_report_of_a_daily_reset_holds_the_closed_days_final_figures() -> None:
    engine = recording()
    engine.apply(trade(1, MNQ, 21000, pnl="-30", side=1, order_id=11), T0)
    reset = engine.calendar.next_reset(T0)
    engine.advance(reset)
    [roll] = engine.last_changes.rolled
    assert roll.closed is not None and (roll.closed.realized, roll.closed.trade_count) == (-30, 1)
    assert roll.opened.label > roll.closed.label and roll.opened.trade_count == 0
    assert engine.last_changes.critical
