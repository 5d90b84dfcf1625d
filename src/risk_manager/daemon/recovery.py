"""Bring a store back to life after a stop or a crash.

:func:`recover`: load the newest readable snapshot into a fresh engine (``Engine.restore``), replay
the journal rows after it through the engine (their actions were already decided and recorded, so
they are discarded), reconcile with the lockout table, then advance the clock to ``now`` once -- a
lockout whose end passed while the daemon was down ends now (an audit row says so), a missed daily
reset is applied once, whatever the number of resets missed -- and save a fresh snapshot.

Hot reloads and restarts with a changed config: :meth:`PersistentEngine.update_policy` saves a
snapshot right after the new rules take effect, so a restart never replays old events under new
rules; after a crash, the rows since the last snapshot are replayed with the config in force at
start-up, and any lockout the table holds that this replay did not reproduce is reinstated
(``Engine.reinstate_lockout``): a trader never escapes a lockout by a restart, whatever was changed
meanwhile.

Everything start-up records hangs off one journal clock entry (staged first), so its audit rows
have action ids ``"<seq>.<index>"`` like any other decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from risk_manager.daemon.persistent import Decision, PersistentEngine
from risk_manager.domain.actions import RESET_RULE, Action, Alert, LockAccount, Unlock, format_time
from risk_manager.domain.events import ClockEvent
from risk_manager.domain.lockouts import Lockout
from risk_manager.engine.engine import Engine
from risk_manager.engine.snapshot import SnapshotError
from risk_manager.store.codec import ClearLockout, iso
from risk_manager.store.errors import StoreCorruptError, StoreError
from risk_manager.store.sqlite import Store, StoreReader

__all__ = ["RecoveryReport", "describe", "rebuild", "recover"]

NOTE_EXPIRED_WHILE_DOWN = "expired while the daemon was down"
NOTE_MISSED_RESET = "missed daily reset applied at start-up"
NOTE_REINSTATED = "reinstated at start-up from the lockout table (the recovered engine state did not hold it)"
NOTE_RECORDED = "recorded at start-up: the recovered engine state holds it but the lockout table did not"

_CLOCK = ClockEvent()


@dataclass(slots=True)
class RecoveryReport:
    snapshot_seq: int | None = None  # journal seq the snapshot covered (None: started from empty)
    replayed: int = 0  # journal rows replayed after the snapshot
    skipped_snapshots: list[str] = field(default_factory=list)  # unreadable ones, and why
    expired: list[Lockout] = field(default_factory=list)  # lockouts whose end passed while down
    missed_reset: bool = False
    reinstated: list[Lockout] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)  # what start-up decided (unlocks, reset)
    down_since: datetime | None = None  # engine time of the last journaled entry


def recover(
    store: Store,
    engine_factory: Callable[[], Engine],
    now: datetime,
    **options: Any,
) -> tuple[PersistentEngine, RecoveryReport]:
    """Rebuild the engine from ``store`` and bring it to ``now``; see the module docstring.

    ``engine_factory`` builds a fresh engine with the current policy, calendar and contracts.
    ``options`` go to :class:`PersistentEngine` (batch_size, snapshot_every, flush_interval, durable).
    """
    if now.tzinfo is None:
        raise ValueError(f"recover needs a timezone-aware UTC time, got naive {now!r}")
    report = RecoveryReport()
    engine, after = _restore_latest(store, engine_factory, report)
    last_t: datetime | None = None
    for _seq, at, entry in store.iter_journal(after):
        if type(entry) is ClearLockout:
            engine.clear_lockout(entry.account_id, at, entry.by, entry.why, entry.rule)
        else:
            engine.apply(entry, at)  # type: ignore[arg-type]
        report.replayed += 1
        last_t = at
    report.down_since = last_t or engine.now

    persistent = PersistentEngine(engine, store, **options)
    persistent._recovering = True
    try:
        start = max(now, engine.now) if engine.now is not None else now
        seq = store.stage_entry(persistent._batch, start, _CLOCK)
        done = _reconcile(persistent, engine.now or start, start, seq, report)
        before = {(a.account_id, lo.key): lo for a in engine.accounts.values() for lo in a.lockouts}
        actions = engine.advance(start)
        changes = engine.last_changes
        t = engine.now
        assert t == start
        notes: list[str | None] = []
        for action in actions:
            note: str | None = None
            if isinstance(action, Unlock):
                ended = before.get((action.account_id, (action.rule, action.scope, action.symbol)))
                if ended is not None and ended.until is not None:
                    note = _expired_note(ended.until, t)
                    report.expired.append(ended)
            elif isinstance(action, Alert) and action.rule == RESET_RULE:
                note = NOTE_MISSED_RESET
                report.missed_reset = True
            notes.append(note)
        annotated = [
            replace(a, reason=f"{n}: {a.reason}") if n is not None and isinstance(a, Unlock) else a
            for a, n in zip(actions, notes, strict=True)
        ]
        report.decisions = persistent._record(
            t, annotated, seq, changes, first_index=done, notes=notes, ended_by="timer (while down)"
        )
        persistent.save_snapshot()
    finally:
        persistent._recovering = False
    return persistent, report


def rebuild(reader: StoreReader, engine_factory: Callable[[], Engine]) -> Engine:
    """The engine as the store last left it (newest usable snapshot + the journal after it), in
    memory only: nothing is written, so a read-only store will do (the trader view, daemon down)."""
    engine, after = _restore_latest(reader, engine_factory, RecoveryReport())
    for _seq, at, entry in reader.iter_journal(after):
        if type(entry) is ClearLockout:
            engine.clear_lockout(entry.account_id, at, entry.by, entry.why, entry.rule)
        else:
            engine.apply(entry, at)  # type: ignore[arg-type]
    return engine


def _restore_latest(
    store: StoreReader, engine_factory: Callable[[], Engine], report: RecoveryReport
) -> tuple[Engine, int]:
    """A fresh engine with the newest readable snapshot loaded, and the journal seq it covers."""
    bounds = store.journal_bounds()
    first_seq = bounds[0][0] if bounds is not None else None
    for row in store.snapshots():
        # Replaying from this snapshot needs every row after it.
        if first_seq is not None and first_seq > row.journal_seq + 1:
            report.skipped_snapshots.append(
                f"snapshot {row.id} (seq {row.journal_seq}): the journal rows after it were pruned"
            )
            continue
        engine = engine_factory()
        try:
            engine.restore(row.load())
        except (SnapshotError, StoreCorruptError) as exc:
            report.skipped_snapshots.append(f"snapshot {row.id} (seq {row.journal_seq}): {exc}")
            continue
        report.snapshot_seq = row.journal_seq
        return engine, row.journal_seq
    if first_seq is not None and first_seq > 1:
        why = "; ".join(report.skipped_snapshots) or "there is no snapshot"
        raise StoreError(
            f"{store.path}: cannot rebuild the engine state: the journal starts at seq {first_seq} "
            f"and no usable snapshot covers the rows before it ({why}). The lockout table is intact; "
            "inspect it with `risk-manager db check`"
        )
    return engine_factory(), 0


def _reconcile(
    persistent: PersistentEngine, engine_now: datetime, restart: datetime, seq: int, report: RecoveryReport
) -> int:
    """Make the engine's lockouts and the table's active rows agree, never by dropping a lockout.

    They agree after any crash (they are committed together). They can differ when the config
    changed while the daemon was down (a replayed event no longer trips a rule) or the table was
    edited by hand. Then a lockout only the table holds is put back into the engine -- or, if its
    end passed while the daemon was down, closed as expired -- and a lockout only the engine holds
    is recorded. Each case leaves an audit row saying so (action ids ``seq.0``, ``seq.1``, ...);
    returns how many.
    """
    engine = persistent.engine
    store = persistent.store
    batch = persistent._batch
    table = {(row.account, row.key): row for row in store.active_lockouts()}
    held = {(a.account_id, lo.key): lo for a in engine.accounts.values() for lo in a.lockouts}
    index = 0

    def audit(action: Action, note: str) -> int:
        nonlocal index
        [audit_id] = store.stage_actions(
            batch, restart, [action], journal_seq=seq, first_index=index, notes=[note]
        )
        index += 1
        return audit_id

    for key, row in table.items():
        if key in held:
            continue
        lockout = row.to_lockout()
        batch.durable = True
        if lockout.until is not None and lockout.until <= restart:
            note = _expired_note(lockout.until, restart)
            reason = f"{note}: lockout since {format_time(row.since)} ({row.reason})"
            unlock = Unlock(
                account_id=row.account, rule=row.rule, scope=row.scope, symbol=row.symbol, reason=reason
            )
            audit(unlock, note)
            store.stage_lockout_end(batch, row.account, row.key, restart, "timer (while down)", reason)
            report.expired.append(lockout)
            continue
        engine.reinstate_lockout(lockout, engine_now)
        report.reinstated.append(lockout)
        alert = Alert(
            account_id=row.account,
            rule=row.rule,
            level="warning",
            message=NOTE_REINSTATED,
            reason=f"{NOTE_REINSTATED}: {row.reason}",
        )
        audit(alert, NOTE_REINSTATED)
    for key, lo in held.items():
        if key in table:
            continue
        batch.durable = True
        action = LockAccount(
            account_id=lo.account_id,
            rule=lo.rule,
            scope=lo.scope,
            symbol=lo.symbol,
            until=lo.until,
            condition=lo.condition,
            reason=lo.reason,
        )
        store.stage_lockout_start(batch, lo, audit(action, NOTE_RECORDED))
    return index


def _expired_note(until: datetime, back: datetime) -> str:
    return f"{NOTE_EXPIRED_WHILE_DOWN} (until {format_time(until)}, back at {format_time(back)})"


def describe(report: RecoveryReport) -> str:
    """One line for the start-up log."""
    parts = [
        "recovered from "
        + (
            f"snapshot at journal seq {report.snapshot_seq}"
            if report.snapshot_seq is not None
            else "an empty state"
        )
        + f" + {report.replayed} journal rows"
    ]
    if report.down_since is not None:
        parts.append(f"last entry at {iso(report.down_since)}")
    if report.expired:
        parts.append(f"{len(report.expired)} lockout(s) {NOTE_EXPIRED_WHILE_DOWN}")
    if report.missed_reset:
        parts.append("missed daily reset applied")
    if report.reinstated:
        parts.append(f"{len(report.reinstated)} lockout(s) reinstated from the table")
    if report.skipped_snapshots:
        parts.append(f"skipped {len(report.skipped_snapshots)} unreadable snapshot(s)")
    return "; ".join(parts)
