"""Wording of notifications: what the trader reads for each engine action and daemon fact."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import risk_manager
from risk_manager.config.loader import load_config
from risk_manager.domain.actions import (
    RESET_RULE,
    Alert,
    CancelOrders,
    ClosePosition,
    Flatten,
    LockAccount,
    ModifyStop,
    Unlock,
)
from risk_manager.engine.engine import Engine
from risk_manager.notify import NotificationBuilder, NotificationKind, Priority
from risk_manager.replay.reader import read_recording
from risk_manager.replay.runner import replay

# Monday 2 March 2026, 10:02 in Chicago (CST, UTC-6).
AT = datetime(2026, 3, 2, 16, 2, 5, tzinfo=UTC)
RESET = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
WHY = "day P&L -507.00 <= limit -500.00"
INPUTS = (("pnl", "-507.00"), ("limit", "-500.00"))
builder = NotificationBuilder("America/Chicago")


def daily_loss_breach() -> list[Flatten | CancelOrders | LockAccount]:
    common = {"account_id": 8, "rule": "RULE-003", "reason": WHY, "inputs": INPUTS}
    return [Flatten(**common), CancelOrders(**common), LockAccount(until=RESET, **common)]


def test_a_breach_that_flattens_cancels_and_locks_is_one_lockout_notification_with_reason_and_numbers():
    [note] = builder.from_actions(daily_loss_breach(), AT)

    assert note.kind is NotificationKind.LOCKOUT_STARTED
    assert note.priority is Priority.HIGH
    assert (note.account, note.rule) == (8, "RULE-003")
    assert note.title == (
        "Account locked until 2026-03-02 17:00:00 CST; flattened all positions, cancelled working orders"
    )
    assert note.body == f"{WHY}\npnl -507.00, limit -500.00"


def test_times_are_shown_in_the_configured_zone_and_kept_in_utc():
    [note] = builder.from_actions(daily_loss_breach(), AT)
    assert note.at == AT
    assert note.shown_at == "2026-03-02 10:02:05 CST"
    assert note.text().startswith("[2026-03-02 10:02:05 CST · account 8 · RULE-003] Account locked")


def test_shown_times_follow_daylight_saving_time():
    summer = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
    assert builder.daemon_started(summer).shown_at == "2026-07-01 10:00:00 CDT"
    assert NotificationBuilder("Europe/Berlin").daemon_started(summer).shown_at == "2026-07-01 17:00:00 CEST"


def test_actions_of_two_accounts_in_one_step_are_two_notifications():
    other = [Flatten(account_id=9, rule="RULE-003", reason=WHY)]
    notes = builder.from_actions([*daily_loss_breach(), *other], AT)
    assert [(n.account, n.kind) for n in notes] == [
        (8, NotificationKind.LOCKOUT_STARTED),
        (9, NotificationKind.ENFORCEMENT),
    ]


def test_a_position_close_is_an_enforcement_naming_contract_and_size():
    close = ClosePosition(
        account_id=7,
        rule="RULE-001",
        contract_id="CON.F.US.EP.H26",
        size=1,
        reason="open contracts (gross) 6 > limit 5: close 1 of CON.F.US.EP.H26",
    )
    [note] = builder.from_actions([close], AT)
    assert note.kind is NotificationKind.ENFORCEMENT
    assert note.priority is Priority.HIGH
    assert note.title == "Closed 1 contract(s) in CON.F.US.EP.H26"
    assert "6 > limit 5" in note.body


def test_a_moved_stop_is_an_enforcement_of_low_priority():
    move = ModifyStop(
        account_id=7,
        rule="RULE-012",
        contract_id="CON.F.US.MNQ.H26",
        order_id=5,
        stop_price=Decimal("21000.50"),
        reason="breakeven",
    )
    [note] = builder.from_actions([move], AT)
    assert note.kind is NotificationKind.ENFORCEMENT
    assert note.priority is Priority.LOW
    assert note.title == "Moved the stop to 21000.50 for CON.F.US.MNQ.H26"


def test_a_warning_alert_is_a_low_priority_warning_with_its_message():
    alert = Alert(
        account_id=8,
        rule="RULE-003",
        level="warning",
        message="day P&L -382.00 reached 75% of limit -500.00",
        inputs=(("value", "-382.00"), ("limit", "-500.00"), ("fraction", "0.75")),
    )
    [note] = builder.from_actions([alert], AT)
    assert note.kind is NotificationKind.WARNING
    assert note.priority is Priority.LOW
    assert note.title == "Warning: 75% of a limit reached"
    assert note.body.startswith("day P&L -382.00 reached 75% of limit -500.00\n")


def test_a_critical_alert_is_high_priority():
    alert = Alert(account_id=8, rule="ENGINE", level="critical", message="evaluation failed")
    [note] = builder.from_actions([alert], AT)
    assert (note.kind, note.priority, note.title) == (NotificationKind.WARNING, Priority.HIGH, "Critical")


def test_connection_alerts_of_the_engine_become_connection_notifications():
    lost = Alert(
        account_id=7,
        rule="RULE-010",
        message="connection lost (user hub)",
        inputs=(("hub", "user hub"), ("state", "lost")),
    )
    back = Alert(
        account_id=7,
        rule="RULE-010",
        level="info",
        message="connection restored (user hub) after 5 s",
        inputs=(("hub", "user hub"), ("state", "restored")),
    )
    kinds = [n.kind for n in builder.from_actions([lost, back], AT)]
    assert kinds == [NotificationKind.CONNECTION_LOST, NotificationKind.CONNECTION_RESTORED]


def test_the_daily_reset_is_not_announced():
    reset = Alert(account_id=7, rule=RESET_RULE, level="info", message="daily reset: trading day begins")
    assert builder.from_actions([reset], AT) == []


def test_an_ended_lockout_says_trading_is_allowed_again():
    unlock = Unlock(account_id=8, rule="RULE-007", reason="lockout time ended")
    [note] = builder.from_actions([unlock], AT)
    assert note.kind is NotificationKind.LOCKOUT_ENDED
    assert note.title == "Account unlocked: trading allowed again"
    assert note.body == "lockout time ended"


def test_a_symbol_lockout_until_a_condition_names_symbol_and_condition():
    lock = LockAccount(
        account_id=7,
        rule="RULE-011",
        scope="symbol",
        symbol="RTY",
        condition="symbol_blocked",
        reason="RTY is blocked",
    )
    [note] = builder.from_actions([lock], AT)
    assert note.title == "Symbol RTY locked until symbol blocked clears"


def test_a_failed_enforcement_is_urgent_and_says_what_failed_and_why():
    flatten = Flatten(account_id=8, rule="RULE-003", reason=WHY, inputs=INPUTS)
    note = builder.enforcement_failed(flatten, AT, "HTTP 503 from the gateway", attempts=4)
    assert note.kind is NotificationKind.ENFORCEMENT_FAILED
    assert note.priority is Priority.HIGH
    assert note.title == "ENFORCEMENT FAILED: flatten"
    assert "could not flatten all positions after 4 attempt(s): HTTP 503 from the gateway" in note.body
    assert WHY in note.body


def test_daemon_and_connection_facts():
    started = builder.daemon_started(AT, accounts=[7, 8])
    stopped = builder.daemon_stopped(AT, "stopped by the admin")
    lost = builder.connection_lost(AT, hub="market")
    back = builder.connection_restored(AT + timedelta(seconds=95), since=AT, hub="market")
    assert (started.kind, started.body) == (NotificationKind.DAEMON_STARTED, "watching 2 account(s): 7, 8")
    assert stopped.priority is Priority.HIGH and "NOT enforced" in stopped.body
    assert lost.body == "connection lost (market hub) at 2026-03-02 10:02:05 CST; reconnecting"
    assert back.body == "connection restored (market hub) after 1 min 35 s (lost at 2026-03-02 10:02:05 CST)"


def test_on_the_sample_day_every_lockout_unlock_warning_and_connection_change_is_announced_but_no_reset():
    examples = Path(risk_manager.__file__).parent / "examples"
    loaded = load_config(examples / "sample-config")
    engine = Engine(loaded.policy(), loaded.calendar(), loaded.contracts())
    decided = list(replay(read_recording(examples / "sample-day.jsonl.gz"), engine))

    notes = []
    for t, step in itertools.groupby(decided, key=lambda pair: pair[0]):
        notes += builder.from_actions([action for _, action in step], t)

    locks = {(t, a.account_id, a.rule) for t, a in decided if isinstance(a, LockAccount)}
    unlocks = [a for _, a in decided if isinstance(a, Unlock)]
    alerts = [a for _, a in decided if isinstance(a, Alert) and a.rule != RESET_RULE]
    connection = [a for a in alerts if dict(a.inputs).get("state") in ("lost", "restored")]
    assert locks and unlocks and alerts and connection
    started = {(n.at, n.account, n.rule) for n in notes if n.kind is NotificationKind.LOCKOUT_STARTED}
    assert started == locks
    assert sum(n.kind is NotificationKind.LOCKOUT_ENDED for n in notes) == len(unlocks)
    assert sum(n.kind is NotificationKind.WARNING for n in notes) == len(alerts) - len(connection)
    assert sum(n.kind.value.startswith("connection_") for n in notes) == len(connection)
    assert all(n.rule != RESET_RULE for n in notes)
