"""Restart recovery: lockouts keep their end, expired ones end (with an audit row), a missed reset
runs once, admin clears and dedupe survive, and what was committed is what was reported."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from risk_manager.daemon.recovery import (
    NOTE_EXPIRED_WHILE_DOWN,
    NOTE_MISSED_RESET,
    NOTE_REINSTATED,
    PersistentEngine,
    recover,
)
from risk_manager.domain.actions import LockAccount, Unlock
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractTable
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.engine.snapshot import snapshot
from risk_manager.rules.registry import rule_class
from risk_manager.store.errors import StoreError
from risk_manager.store.sqlite import Store

from engine_helpers import MNQ, T0, account_event, flat, kinds, pos, quote, trade

RESET = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 17:00 Chicago


def engine_with(**rules: dict[str, Any]) -> Callable[[], Engine]:
    def build() -> Engine:
        built = []
        for key, cfg in rules.items():
            cls = rule_class(key)
            built.append(cls(cls.config_model.model_validate({"enabled": True, **cfg})))
        return Engine(Policy.uniform(built), TradingCalendar(), ContractTable())

    return build


LOSS_RULES = engine_with(
    daily_realized_loss={"limit": -500},
    cooldown_after_loss={"close_positions": False, "tiers": [{"loss": -100, "cooldown": "15m"}]},
    auth_loss_guard={},
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for store in opened:
        store.close()


def crash(persistent: PersistentEngine) -> None:
    """Lose what is not committed and drop the file handles, as SIGKILL would."""
    persistent._batch = type(persistent._batch)()
    persistent.store.close()


def start(db: Path, factory: Callable[[], Engine], stores: list[Store], **options: Any) -> PersistentEngine:
    store = Store.open(db)
    stores.append(store)
    return PersistentEngine(factory(), store, **options)


def restart(
    db: Path, factory: Callable[[], Engine], now: datetime, stores: list[Store], **options: Any
) -> tuple[PersistentEngine, Any]:
    store = Store.open(db)
    stores.append(store)
    return recover(store, factory, now, **options)


def lose_day(persistent: PersistentEngine, at: datetime, pnl: str = "-520") -> None:
    persistent.apply(pos(MNQ, 1, 21000), at)
    persistent.apply(trade(1, MNQ, 21000, order_id=11), at)
    persistent.apply(trade(2, MNQ, 20740, pnl=pnl, side=1, order_id=12), at + timedelta(seconds=5))
    persistent.apply(flat(MNQ), at + timedelta(seconds=5))


def test_restart_during_a_lockout_keeps_it_with_the_same_end_time(db: Path, stores: list[Store]) -> None:
    first = start(db, LOSS_RULES, stores)
    lose_day(first, T0)
    locked = {lo.rule: lo for lo in first.accounts[7].lockouts}
    assert set(locked) == {"RULE-003", "RULE-007"}
    crash(first)

    second, report = restart(db, LOSS_RULES, T0 + timedelta(minutes=5), stores)
    again = {lo.rule: lo for lo in second.accounts[7].lockouts}
    assert again == locked  # same since, until, reason
    assert report.expired == [] and not report.missed_reset
    rows = {r.rule: r for r in second.store.active_lockouts(7)}
    assert rows["RULE-007"].until == locked["RULE-007"].until == T0 + timedelta(seconds=5, minutes=15)
    # The lock holds after the restart: a position opened meanwhile is closed by the gate.
    assert ("LOCKOUT", "close_position") in kinds(second.apply(pos(MNQ, 2, 21000), T0 + timedelta(minutes=6)))
    # And ends on time.
    ended = second.advance(T0 + timedelta(minutes=15, seconds=5))
    assert [(a.rule, a.kind) for a in ended] == [("RULE-007", "unlock")]


def test_a_lockout_whose_end_passed_while_down_is_not_restored_and_an_audit_row_says_it_expired(
    db: Path, stores: list[Store]
) -> None:
    first = start(db, LOSS_RULES, stores)
    lose_day(first, T0, pnl="-150")  # cooldown only (15 min), no daily lock
    crash(first)

    back = T0 + timedelta(hours=1)
    second, report = restart(db, LOSS_RULES, back, stores)
    assert not second.accounts[7].lockouts
    assert [lo.rule for lo in report.expired] == ["RULE-007"]
    [unlock] = [d for d in report.decisions if isinstance(d.action, Unlock)]
    assert unlock.t == back
    [row] = second.store.audit(rule="RULE-007", since=back)
    assert row.kind == "unlock" and row.note is not None and row.note.startswith(NOTE_EXPIRED_WHILE_DOWN)
    assert NOTE_EXPIRED_WHILE_DOWN in (row.reason or "")
    [lockout] = second.store.lockouts(7)
    assert lockout.cleared_at == back and lockout.cleared_by == "timer (while down)"
    assert second.store.active_lockouts() == []


def test_a_missed_daily_reset_is_applied_once_at_start_up_even_after_a_weekend(
    db: Path, stores: list[Store]
) -> None:
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    first = start(db, LOSS_RULES, stores)
    lose_day(first, friday)  # locked until Friday's reset
    assert first.accounts[7].day.realized == Decimal(-520)
    crash(first)

    monday = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # three resets passed while down
    second, report = restart(db, LOSS_RULES, monday, stores)
    assert report.missed_reset
    resets = [d for d in report.decisions if d.action.rule == "RESET"]
    assert len(resets) == 1
    account = second.accounts[7]
    assert account.day.realized == 0 and account.day.trade_count == 0
    assert str(account.day.label) == "2026-03-09"
    assert not account.lockouts  # the daily lock ended at the reset
    [reset_row] = second.store.resets(7)
    assert (
        reset_row.missed
        and str(reset_row.day) == "2026-03-09"
        and str(reset_row.previous_day) == "2026-03-06"
    )
    assert reset_row.previous_realized == Decimal(-520)
    assert [r.note for r in second.store.audit(rule="RESET")] == [NOTE_MISSED_RESET]
    closed = second.store.day_pnl(7)
    assert [(str(d.day), d.realized, d.trade_count) for d in closed] == [
        ("2026-03-06", Decimal(-520), 2),
        ("2026-03-09", Decimal(0), 0),
    ]
    crash(second)

    # A second restart the same day resets nothing again.
    third, report = restart(db, LOSS_RULES, monday + timedelta(hours=1), stores)
    assert not report.missed_reset
    assert [d.action.rule for d in report.decisions] == []
    assert len(third.store.resets(7)) == 1


def test_a_reset_that_fell_while_down_but_after_a_clean_shutdown_is_also_applied_once(
    db: Path, stores: list[Store]
) -> None:
    first = start(db, LOSS_RULES, stores)
    lose_day(first, T0)
    first.close()
    second, report = restart(db, LOSS_RULES, RESET + timedelta(minutes=1), stores)
    assert report.replayed == 0  # the shutdown snapshot covers everything
    assert report.missed_reset and len([d for d in report.decisions if d.action.rule == "RESET"]) == 1
    assert second.accounts[7].day.realized == 0


def test_a_condition_lockout_survives_restarts_until_its_condition_clears(
    db: Path, stores: list[Store]
) -> None:
    first = start(db, LOSS_RULES, stores)
    first.apply(account_event(can_trade=False), T0)
    assert [lo.condition for lo in first.accounts[7].lockouts] == ["can_trade"]
    crash(first)
    second, _ = restart(db, LOSS_RULES, T0 + timedelta(days=3), stores)
    assert [lo.condition for lo in second.accounts[7].lockouts] == ["can_trade"]
    assert ("RULE-010", "unlock") in kinds(
        second.apply(account_event(can_trade=True), T0 + timedelta(days=3))
    )
    [row] = second.store.lockouts(7)
    assert row.cleared_by == "condition"


def test_an_admin_clear_is_journaled_so_a_crash_does_not_bring_the_lockout_back(
    db: Path, stores: list[Store]
) -> None:
    first = start(db, LOSS_RULES, stores)
    lose_day(first, T0)
    decisions = first.clear_lockout(7, T0 + timedelta(minutes=1), "alice", "broker error, verified flat")
    assert {d.action.rule for d in decisions} == {"RULE-003", "RULE-007"}
    crash(first)
    second, _ = restart(db, LOSS_RULES, T0 + timedelta(minutes=2), stores)
    assert not second.accounts[7].lockouts
    rows = second.store.lockouts(7)
    assert {r.cleared_by for r in rows} == {"admin:alice"}
    assert all("broker error" in (r.cleared_why or "") for r in rows)


def test_an_execution_re_delivered_after_a_restart_is_not_counted_twice(
    db: Path, stores: list[Store]
) -> None:
    first = start(db, LOSS_RULES, stores)
    first.apply(trade(1, MNQ, 21000, pnl="-40", side=1, order_id=5), T0)
    first.flush()
    crash(first)
    second, _ = restart(db, LOSS_RULES, T0 + timedelta(seconds=1), stores)
    second.apply(trade(1, MNQ, 21000, pnl="-40", side=1, order_id=5), T0 + timedelta(seconds=1))
    second.flush()
    assert second.accounts[7].day.realized == Decimal(-40)
    assert second.accounts[7].day.trade_count == 1
    assert [(r.trade_id, r.counted) for r in second.store.trades(7)] == [(1, True)]
    assert [(r.realized, r.trade_count) for r in second.store.day_pnl(7)] == [(Decimal(-40), 1)]


def test_a_lockout_is_on_disk_before_apply_returns_it(db: Path, stores: list[Store]) -> None:
    first = start(db, LOSS_RULES, stores, batch_size=10_000, flush_interval=None)
    first.apply(pos(MNQ, 1, 21000), T0)
    actions = first.apply(trade(1, MNQ, 21000, pnl="-600", side=1, order_id=5), T0)
    assert any(isinstance(a, LockAccount) for a in actions)
    with Store.open(db, readonly=True) as reader:  # another connection sees it committed
        assert {r.rule for r in reader.active_lockouts(7)} == {"RULE-003", "RULE-007"}
        assert reader.last_seq == 2  # with the events that led to it


def test_quiet_events_are_batched_and_a_crash_loses_only_uncommitted_ones(
    db: Path, stores: list[Store]
) -> None:
    first = start(db, LOSS_RULES, stores, batch_size=100, flush_interval=None)
    for i in range(250):
        first.apply(quote(MNQ, 21000 + i * 0.25), T0 + timedelta(milliseconds=i))
    crash(first)
    with Store.open(db, readonly=True) as reader:
        assert reader.last_seq == 200


def test_the_journal_is_flushed_by_engine_time_as_well(db: Path, stores: list[Store]) -> None:
    first = start(db, LOSS_RULES, stores, batch_size=10_000, flush_interval=timedelta(milliseconds=250))
    for i in range(10):
        first.apply(quote(MNQ, 21000 + i * 0.25), T0 + timedelta(milliseconds=100 * i))
    with Store.open(db, readonly=True) as reader:
        # Committed each time 0.25 s of engine time had gathered (at 0.3 s and 0.7 s); not the tail.
        assert reader.last_seq == 8


def test_a_restart_between_a_closing_execution_and_its_position_update_decides_the_same(
    db: Path, stores: list[Store]
) -> None:
    # Long 2 MNQ at 21000; the closing execution realizes -400 before the flat position arrives.
    # Counting the closed contracts' unrealized P&L again would make -840 on the next quote and
    # lock the account for a loss it has not made.
    first = start(db, LOSS_RULES, stores)
    reference = LOSS_RULES()
    steps: list[tuple[datetime, Any]] = [
        (T0, quote(MNQ, 21000)),
        (T0, pos(MNQ, 2, 21000)),
        (T0, trade(1, MNQ, 21000, size=2, order_id=1)),
        (T0 + timedelta(seconds=9), quote(MNQ, 20900)),
        (T0 + timedelta(seconds=10), trade(2, MNQ, 20900, pnl="-400", side=1, size=2, order_id=2)),
    ]
    for t, event in steps:
        first.apply(event, t)
        reference.apply(event, t)
    first.save_snapshot()
    crash(first)
    second, _ = restart(db, LOSS_RULES, T0 + timedelta(seconds=11), stores)
    reference.advance(T0 + timedelta(seconds=11))
    later = T0 + timedelta(seconds=12)
    assert kinds(second.apply(quote(MNQ, 20890), later)) == kinds(reference.apply(quote(MNQ, 20890), later))
    assert snapshot(second.engine) == snapshot(reference)


def test_a_lockout_the_table_holds_is_reinstated_even_if_the_config_changed_while_down(
    db: Path, stores: list[Store]
) -> None:
    first = start(db, LOSS_RULES, stores, snapshot_every=None)
    lose_day(first, T0)
    crash(first)
    # The daily loss limit was loosened while the daemon was down: replaying the journal no longer
    # trips RULE-003, but the trader was told "locked until the reset" and stays locked.
    looser = engine_with(daily_realized_loss={"limit": -5000}, auth_loss_guard={})
    second, report = restart(db, looser, T0 + timedelta(minutes=30), stores)
    assert [lo.rule for lo in report.reinstated] == ["RULE-003"]
    assert [lo.rule for lo in report.expired] == ["RULE-007"]  # its 15 minutes passed while down
    [lockout] = second.accounts[7].lockouts
    assert lockout.rule == "RULE-003" and lockout.until == RESET
    assert [r.note for r in second.store.audit(rule="RULE-003", since=T0 + timedelta(minutes=30))] == [
        NOTE_REINSTATED
    ]
    assert second.advance(RESET)  # and it still ends at the reset
    assert not second.accounts[7].lockouts


def test_update_policy_snapshots_so_old_events_are_never_replayed_under_new_rules(
    db: Path, stores: list[Store]
) -> None:
    first = start(db, LOSS_RULES, stores, snapshot_every=None)
    lose_day(first, T0)
    first.update_policy(engine_with(auth_loss_guard={})().policy, T0 + timedelta(minutes=1))
    crash(first)
    with Store.open(db, readonly=True) as reader:
        assert reader.snapshots()[0].journal_seq == reader.last_seq


def test_a_damaged_latest_snapshot_falls_back_to_the_previous_one(db: Path, stores: list[Store]) -> None:
    first = start(db, LOSS_RULES, stores, snapshot_every=3)
    lose_day(first, T0)
    first.apply(quote(MNQ, 21000), T0 + timedelta(seconds=30))
    first.apply(quote(MNQ, 21001), T0 + timedelta(seconds=31))
    expected = snapshot(first.engine)
    crash(first)
    with Store.open(db) as store:
        newest = store.snapshots()[0]
        store.connection.execute("UPDATE snapshots SET data = ? WHERE id = ?", (b'{"version": 1}', newest.id))
    second, report = restart(db, LOSS_RULES, T0 + timedelta(seconds=31), stores)
    assert len(report.skipped_snapshots) == 1 and "damaged" in report.skipped_snapshots[0]
    assert report.snapshot_seq is not None and report.snapshot_seq < newest.journal_seq
    assert snapshot(second.engine) == expected


def test_outcomes_are_recorded_against_the_audit_row(db: Path, stores: list[Store]) -> None:
    first = start(db, LOSS_RULES, stores)
    first.apply(pos(MNQ, 1, 21000), T0)
    decisions = first.decide(trade(1, MNQ, 21000, pnl="-600", side=1, order_id=5), T0)
    flatten = next(d for d in decisions if d.action.kind == "flatten")
    first.record_outcome(flatten.audit_id, "done: account flat", 84.5, T0 + timedelta(milliseconds=85))
    [row] = first.store.audit(rule="RULE-003", limit=1)
    assert (row.kind, row.outcome, row.latency_ms) == ("flatten", "done: account flat", 84.5)
    assert row.inputs["limit"] == "-500.00" and row.record["action"] == "flatten"


def test_a_decision_that_could_not_be_made_durable_raises_and_is_kept_for_the_next_commit(
    db: Path, stores: list[Store]
) -> None:
    from test_store import FailingStore

    store = FailingStore.open(db)
    assert isinstance(store, FailingStore)
    stores.append(store)
    persistent = PersistentEngine(LOSS_RULES(), store)
    persistent.apply(pos(MNQ, 1, 21000), T0)
    store.fail = 1
    with pytest.raises(StoreError, match="disk is full"):
        persistent.apply(trade(1, MNQ, 21000, pnl="-600", side=1, order_id=5), T0)  # never reported
    persistent.apply(quote(MNQ, 20990), T0 + timedelta(seconds=1))
    persistent.flush()
    assert {r.rule for r in store.active_lockouts(7)} == {"RULE-003", "RULE-007"}
    assert [seq for seq, _, _ in store.iter_journal()] == [1, 2, 3]
    assert store.check().ok
    expected = snapshot(persistent.engine)
    crash(persistent)
    second, report = restart(db, LOSS_RULES, T0 + timedelta(seconds=1), stores)
    assert report.replayed == 3 and snapshot(second.engine) == expected


# Rebuilt on restore (engine/snapshot.py recomputes them), so a snapshot need not hold them.
DERIVED_POSITION_FIELDS = {"root", "spec", "band_lo", "band_hi", "book_lo", "book_hi", "rule_bands"}
DERIVED_ENGINE_ATTRIBUTES = {
    "policy", "calendar", "contracts", "fast_path", "_unmonitored", "_bands", "_best", "_dispatch", "_heap",
    "timers_pushed", "_wakeups",
    "close_retry_after",  # configuration, like fast_path
    "record_changes", "_log",  # the caller's choice, and the change report of the current call
    "_lock_texts",  # lockout descriptions, written again when asked
    "_watched", "_first_due",  # the quote path's lookups, refilled by restore's _watch and _push
}  # fmt: skip
SNAPSHOT_ENGINE_ATTRIBUTES = {"_accounts", "_quotes", "_reset_at", "_now", "connection_lost_since"}


def test_every_piece_of_engine_state_is_in_the_snapshot_or_rebuilt_on_restore(
    db: Path, stores: list[Store]
) -> None:
    """A state field added to the engine without snapshot support would make restarts lose it
    (as Position.closing once did); this names the field to add to engine/snapshot.py."""
    from dataclasses import fields

    from risk_manager.engine.state import AccountState, Position, TradingDayStats

    persistent = start(db, LOSS_RULES, stores)
    persistent.apply(quote(MNQ, 21000), T0)
    persistent.apply(pos(MNQ, 1, 21000), T0)
    data = snapshot(persistent.engine)
    [account] = data["accounts"]
    [position] = account["positions"]
    missing = {f.name for f in fields(Position)} - DERIVED_POSITION_FIELDS - set(position)
    assert not missing, f"Position fields not in the snapshot: {missing}"
    # position_views: the rules' frozen copies of the positions, rebuilt from them on the first view;
    # protective_stops: read again from working_orders when first asked
    derived = {"account_id", "position_views", "protective_stops"}
    missing = {f.name for f in fields(AccountState)} - derived - set(account)
    assert not missing, f"AccountState fields not in the snapshot: {missing}"
    missing = {f.name for f in fields(TradingDayStats)} - set(account["day"])
    assert not missing, f"TradingDayStats fields not in the snapshot: {missing}"
    unknown = set(vars(persistent.engine)) - DERIVED_ENGINE_ATTRIBUTES - SNAPSHOT_ENGINE_ATTRIBUTES
    assert not unknown, f"new Engine attributes {unknown}: snapshot them or list them as derived here"


def test_commissions_and_the_days_opening_balance_survive_a_crash(db: Path, stores: list[Store]) -> None:
    first = start(db, LOSS_RULES, stores)
    first.apply(account_event(balance="50000"), T0)
    first.apply(trade(1, MNQ, 21000, pnl="-40", fees="0.37", commissions="0.25", side=1, order_id=5), T0)
    first.flush()
    crash(first)
    second, _ = restart(db, LOSS_RULES, T0 + timedelta(seconds=1), stores)
    day = second.accounts[7].day
    assert (day.commissions, day.opening_balance) == (Decimal("0.25"), Decimal("50000"))
    actions = second.apply(account_event(balance="49959.38"), T0 + timedelta(seconds=1))
    assert [a for a in actions if a.rule == "BALANCE"] == []  # -40 - 0.37 - 0.25, still agreed
    second.flush()
    assert [r.fees for r in second.store.day_pnl(7)] == [Decimal("0.62")]  # fees and commissions
