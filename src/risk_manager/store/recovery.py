"""The engine with a memory: journal every input, record every decision, come back after a crash.

:class:`PersistentEngine` wraps an :class:`~risk_manager.engine.engine.Engine` and a
:class:`~risk_manager.store.sqlite.Store`. Every call that changes engine state is journaled --
events (``apply``), clock advances (``advance``, as a ClockEvent), admin clears -- so that replaying
the journal through a fresh engine reaches the same state. Journal rows are batched; the batch is
committed before a call returns any action at all, and committed *durably* (fsync) when an action
starts or ends a lockout or a daily reset ran. So:

- a decision the caller has seen is always on disk, with the events that led to it;
- a crash loses at most the tail of quiet events (quotes that decided nothing) since the last
  commit; the feed re-sends or resyncs them, and the engine dedupes repeated executions by id.

:func:`recover` brings a store back to life: load the newest readable snapshot, replay the journal
rows after it through the engine (their actions were already decided and recorded, so they are
discarded), reconcile with the lockout table, then advance the clock to ``now`` once -- a lockout
whose end passed while the daemon was down ends now (an audit row says so), a missed daily reset is
applied once, whatever the number of resets missed -- and save a fresh snapshot.

Hot reloads and restarts with a changed config: :meth:`PersistentEngine.update_policy` saves a
snapshot right after the new rules take effect, so a restart never replays old events under new
rules; after a crash, the rows since the last snapshot are replayed with the config in force at
start-up, and any lockout the table holds that this replay did not reproduce is reinstated (a
trader never escapes a lockout by a restart, whatever was changed meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from risk_manager.domain.actions import RESET_RULE, Action, Alert, LockAccount, Unlock, format_time
from risk_manager.domain.events import ClockEvent, Event, TradeEvent
from risk_manager.domain.lockouts import Lockout
from risk_manager.engine.engine import _KIND_LOCKOUT, Engine
from risk_manager.engine.policy import Policy
from risk_manager.engine.snapshot import SnapshotError, restore, snapshot
from risk_manager.engine.state import AccountState, TradingDayStats
from risk_manager.store.codec import ClearLockout, iso
from risk_manager.store.errors import StoreCorruptError, StoreError
from risk_manager.store.sqlite import Batch, Store

__all__ = ["Decision", "PersistentEngine", "RecoveryReport", "open_for_replay", "recover"]

DEFAULT_BATCH_SIZE = 2000
DEFAULT_SNAPSHOT_EVERY = 50_000
DEFAULT_FLUSH_INTERVAL = timedelta(milliseconds=250)

NOTE_EXPIRED_WHILE_DOWN = "expired while the daemon was down"
NOTE_MISSED_RESET = "missed daily reset applied at start-up"
NOTE_REINSTATED = "reinstated at start-up from the lockout table (the recovered engine state did not hold it)"
NOTE_RECORDED = "recorded at start-up: the recovered engine state holds it but the lockout table did not"


@dataclass(frozen=True, slots=True)
class Decision:
    """An action as recorded: its audit row id (for ``record_outcome``) and decision time."""

    audit_id: int
    t: datetime
    action: Action


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


class PersistentEngine:
    """Engine + Store; a drop-in for the engine's apply/advance/next_deadline (replay runner too)."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        snapshot_every: int | None = DEFAULT_SNAPSHOT_EVERY,
        flush_interval: timedelta | None = DEFAULT_FLUSH_INTERVAL,
        durable: bool = True,
    ) -> None:
        if store.readonly:
            raise StoreError(f"{store.path} is open read-only: a PersistentEngine needs the writer")
        self.engine = engine
        self.store = store
        self.batch_size = batch_size
        self.snapshot_every = snapshot_every
        self._flush_us = None if flush_interval is None else flush_interval // _US
        # durable=False (replays into a file) skips the fsync of critical batches.
        self.durable = durable
        self._batch = Batch()
        self._first_us: int | None = None
        self._since_snapshot = 0
        # Day objects of the engine, per account: the engine swaps in a new one at each reset and
        # leaves the old one as it was, so the old one holds the closed day's final numbers.
        self._days: dict[int, TradingDayStats] = {}
        self._dirty_days: dict[int, TradingDayStats] = {}  # id(day) -> day
        self._day_owner: dict[int, int] = {}  # id(day) -> account
        self._recovering = False
        for account in engine.accounts.values():
            self._days[account.account_id] = account.day

    # ---- the engine's interface ------------------------------------------------------------------

    @property
    def accounts(self) -> Any:
        return self.engine.accounts

    @property
    def now(self) -> datetime | None:
        return self.engine.now

    def next_deadline(self) -> datetime | None:
        return self.engine.next_deadline()

    def apply(self, event: Event, now: datetime) -> list[Action]:
        return [d.action for d in self.decide(event, now)]

    def advance(self, now: datetime) -> list[Action]:
        return [d.action for d in self.tick(now)]

    # ---- recorded calls ----------------------------------------------------------------------------

    def decide(self, event: Event, now: datetime) -> list[Decision]:
        """Apply ``event`` at ``now``: journal it, record the decisions, commit before returning any."""
        engine = self.engine
        if type(event) is TradeEvent:
            account = engine.accounts.get(event.account_id)
            day_before = account.day if account is not None else None
            count_before = day_before.trade_count if day_before is not None else 0
            actions = engine.apply(event, now)
            self._note_trade(event, day_before, count_before)
        else:
            actions = engine.apply(event, now)
        return self._after(event, actions)

    def tick(self, now: datetime) -> list[Decision]:
        """``engine.advance(now)``, journaled as a clock entry when it moves the clock."""
        engine = self.engine
        if engine.now is not None and now <= engine.now:
            due = engine.next_deadline()
            if due is None or due > engine.now:
                return []  # nothing can change: not worth a journal row
        actions = engine.advance(now)
        return self._after(_CLOCK, actions)

    def clear_lockout(
        self, account_id: int, now: datetime, by: str, why: str, rule: str | None = None
    ) -> list[Decision]:
        """The audited admin clear: journaled, and committed durably before returning."""
        if not by.strip() or not why.strip():
            raise ValueError("clearing a lockout needs who (by) and why: both are kept in the audit trail")
        actions = self.engine.clear_lockout(account_id, now, by, why, rule)
        decisions = self._after(ClearLockout(account_id, by, why, rule), actions, cleared_by=f"admin:{by}")
        self.flush(durable=True)
        return decisions

    def update_policy(self, policy: Policy, now: datetime) -> list[Decision]:
        """Hot reload: new rules from now on, and a snapshot, so a restart never replays old events
        under the new rules."""
        actions = self.engine.update_policy(policy, now)
        decisions = self._record(self.engine.now or now, actions, None, cleared_by="config reload")
        self.save_snapshot()
        return decisions

    def record_outcome(
        self, audit_id: int, outcome: str, latency_ms: float | None, at: datetime | None = None
    ) -> None:
        self.flush()  # the row must be on file before it can be updated
        self.store.record_outcome(audit_id, outcome, latency_ms, at)

    # ---- persistence -------------------------------------------------------------------------------

    def flush(self, *, durable: bool = False) -> None:
        """Commit what is staged (durably if asked or if it holds critical state)."""
        batch = self._batch
        self._stage_days()
        if not batch:
            return
        if durable:
            batch.durable = True
        if not self.durable:
            batch.durable = False
        self.store.write(batch)
        self._batch = Batch()
        self._first_us = None

    def save_snapshot(self) -> None:
        """Snapshot the engine (covering every journal row so far) in the same commit as the rows."""
        if self.engine.now is None:
            self.flush()
            return
        self._stage_days()
        self.store.stage_snapshot(self._batch, snapshot(self.engine), self.store.last_seq, self.engine.now)
        self._since_snapshot = 0
        self.flush()

    def close(self) -> None:
        """Flush, snapshot (a clean restart then replays nothing) and close the store."""
        try:
            self.save_snapshot()
        finally:
            self.store.close()

    # ---- internals ---------------------------------------------------------------------------------

    def _after(
        self, entry: Event | ClearLockout, actions: list[Action], cleared_by: str | None = None
    ) -> list[Decision]:
        engine = self.engine
        t = engine.now
        assert t is not None
        batch = self._batch
        seq = self.store.stage_entry(batch, t, entry)
        account_id = getattr(entry, "account_id", None)
        if account_id is not None and account_id not in self._days:
            account = engine.accounts.get(account_id)
            if account is not None:
                self._days[account_id] = account.day
        t_us = batch.journal[-1][1]
        if self._first_us is None:
            self._first_us = t_us
        self._since_snapshot += 1
        if actions:
            decisions = self._record(t, actions, seq, cleared_by=cleared_by)
            if self.snapshot_every is not None and self._since_snapshot >= self.snapshot_every:
                self.save_snapshot()
            else:
                self.flush()
            return decisions
        if self.snapshot_every is not None and self._since_snapshot >= self.snapshot_every:
            self.save_snapshot()
        elif len(batch.journal) >= self.batch_size or (
            self._flush_us is not None and t_us - self._first_us >= self._flush_us
        ):
            self.flush()
        return []

    def _record(
        self,
        t: datetime,
        actions: Sequence[Action],
        seq: int | None,
        *,
        cleared_by: str | None = None,
        notes: Sequence[str | None] | None = None,
    ) -> list[Decision]:
        engine = self.engine
        if notes is None:
            notes = [None] * len(actions)
        for action in actions:
            if isinstance(action, Alert) and action.rule == RESET_RULE:
                self._note_reset(t, action.account_id)

        def lockout_of(action: LockAccount) -> Lockout | None:
            account = engine.accounts.get(action.account_id)
            if account is None:
                return None
            return account.lockouts.get((action.rule, action.scope, action.symbol))

        def who(action: Unlock) -> str:
            if cleared_by is not None:
                return cleared_by
            return "timer" if (action.reason or "").startswith("lockout time ended") else "condition"

        ids = self.store.stage_actions(
            self._batch, t, actions, journal_seq=seq, notes=notes, lockout_of=lockout_of, cleared_by=who
        )
        return [Decision(i, t, a) for i, a in zip(ids, actions, strict=True)]

    def _note_trade(self, event: TradeEvent, day_before: TradingDayStats | None, count_before: int) -> None:
        account = self.engine.accounts.get(event.account_id)
        if account is None:
            return  # an unmonitored account
        label = account.seen_trades.get(event.trade_id)
        if label is None:
            return
        day = account.day
        # A reset may have fired inside apply (timers run first): then the count starts from zero.
        counted = day.trade_count > (count_before if day is day_before else 0)
        if counted:
            self._mark_day(account, day)
        t = self.engine.now
        assert t is not None
        executed = event.created if event.created is not None and event.created <= t else t
        self.store.stage_trade(
            self._batch,
            event.account_id,
            event.trade_id,
            label,
            executed,
            event.contract_id,
            event.pnl,
            event.fees + event.commissions,  # the store's fees are all per-trade costs
            counted,
        )

    def _mark_day(self, account: AccountState, day: TradingDayStats) -> None:
        self._dirty_days[id(day)] = day
        self._day_owner[id(day)] = account.account_id

    def _note_reset(self, t: datetime, account_id: int) -> None:
        account = self.engine.accounts.get(account_id)
        if account is None:
            return
        old = self._days.get(account_id)
        new = account.day
        if old is not None and old is not new:
            self._mark_day(account, old)  # the closed day's final numbers
        self._mark_day(account, new)
        self._days[account_id] = new
        self.store.stage_reset(
            self._batch,
            t,
            account_id,
            new.label,
            None if old is None else old.label,
            None if old is None else old.realized,
            None if old is None else old.costs,
            self._recovering,
        )

    def _stage_days(self) -> None:
        if not self._dirty_days:
            return
        t = self.engine.now
        assert t is not None
        for key, day in self._dirty_days.items():
            self.store.stage_day(
                self._batch,
                self._day_owner[key],
                day.label,
                day.start,
                day.end,
                day.realized,
                day.costs,
                day.trade_count,
                t,
            )
        self._dirty_days.clear()
        self._day_owner.clear()


_US = timedelta(microseconds=1)
_CLOCK = ClockEvent()


# ---- replays into a store -------------------------------------------------------------------------


def open_for_replay(
    path: str | Path, engine: Engine, *, source: str, config: str | None = None
) -> PersistentEngine:
    """A PersistentEngine writing a replay's decisions into a new store file (``replay --db``).

    The file must be new (or a store with an empty journal): a replayed day must never mix with a
    live daemon's records. The store is marked ``origin = replay`` with the recording's name, so a
    reader (the trader CLI) can say it shows a replay. Critical batches are not fsynced: a replay can
    be run again.
    """
    store = Store.open(path)
    try:
        held = store.last_seq
        if held:
            meta = store.meta()
            origin = meta.get("origin", "another program")
            raise StoreError(
                f"{store.path} already holds {held} journal entries (written by {origin}"
                f"{' of ' + meta['source'] if 'source' in meta else ''}); replay into a new file"
            )
        store.set_meta("origin", "replay")
        store.set_meta("source", source)
        if config is not None:
            store.set_meta("config", config)
        return PersistentEngine(engine, store, durable=False)
    except BaseException:
        store.close()
        raise


# ---- recovery ------------------------------------------------------------------------------------


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
        _reconcile(persistent, engine.now or start, start, report)
        before = {(a.account_id, lo.key): lo for a in engine.accounts.values() for lo in a.lockouts}
        actions = engine.advance(start)
        t = engine.now
        assert t is not None
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
        seq = store.stage_entry(persistent._batch, t, _CLOCK)
        annotated = [
            replace(a, reason=f"{n}: {a.reason}") if n is not None and isinstance(a, Unlock) else a
            for a, n in zip(actions, notes, strict=True)
        ]
        report.decisions = persistent._record(t, annotated, seq, notes=notes, cleared_by="timer (while down)")
        persistent.save_snapshot()
    finally:
        persistent._recovering = False
    return persistent, report


def _restore_latest(
    store: Store, engine_factory: Callable[[], Engine], report: RecoveryReport
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
            restore(engine, row.load())
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
    persistent: PersistentEngine, engine_now: datetime, restart: datetime, report: RecoveryReport
) -> None:
    """Make the engine's lockouts and the table's active rows agree, never by dropping a lockout.

    They agree after any crash (they are committed together). They can differ when the config
    changed while the daemon was down (a replayed event no longer trips a rule) or the table was
    edited by hand. Then a lockout only the table holds is put back into the engine -- or, if its
    end passed while the daemon was down, closed as expired -- and a lockout only the engine holds
    is recorded. Each case leaves an audit row saying so.
    """
    engine = persistent.engine
    store = persistent.store
    batch = persistent._batch
    table = {(row.account, row.key): row for row in store.active_lockouts()}
    held = {(a.account_id, lo.key): lo for a in engine.accounts.values() for lo in a.lockouts}
    for key, row in table.items():
        if key in held:
            continue
        lockout = row.to_lockout()
        if lockout.until is not None and lockout.until <= restart:
            note = _expired_note(lockout.until, restart)
            unlock = Unlock(
                account_id=row.account,
                rule=row.rule,
                scope=row.scope,
                symbol=row.symbol,
                reason=f"{note}: lockout since {format_time(row.since)} ({row.reason})",
            )
            store.stage_actions(
                batch, restart, [unlock], notes=[note], cleared_by=lambda _a: "timer (while down)"
            )
            report.expired.append(lockout)
            continue
        _reinstate(engine, lockout, engine_now)
        report.reinstated.append(lockout)
        alert = Alert(
            account_id=row.account,
            rule=row.rule,
            level="warning",
            message=NOTE_REINSTATED,
            reason=f"{NOTE_REINSTATED}: {row.reason}",
        )
        store.stage_actions(batch, restart, [alert], notes=[NOTE_REINSTATED])
        batch.durable = True
    missing = [lo for key, lo in held.items() if key not in table]
    if missing:
        actions = [
            LockAccount(
                account_id=lo.account_id,
                rule=lo.rule,
                scope=lo.scope,
                symbol=lo.symbol,
                until=lo.until,
                condition=lo.condition,
                reason=lo.reason,
            )
            for lo in missing
        ]
        by_key = {(lo.account_id, lo.key): lo for lo in missing}
        store.stage_actions(
            batch,
            restart,
            actions,
            notes=[NOTE_RECORDED] * len(actions),
            lockout_of=lambda a: by_key.get((a.account_id, (a.rule, a.scope, a.symbol))),
        )


def _expired_note(until: datetime, back: datetime) -> str:
    return f"{NOTE_EXPIRED_WHILE_DOWN} (until {format_time(until)}, back at {format_time(back)})"


def _reinstate(engine: Engine, lockout: Lockout, now: datetime) -> None:
    """Put a lockout from the table back into the engine's book (with its timer), as restore does."""
    account = engine.accounts.get(lockout.account_id)
    if account is None:
        account = engine._account(lockout.account_id, now)
        if account is None:
            return  # the account is no longer monitored by the current config
    if account.lockouts.add(lockout) is lockout and lockout.until is not None:
        engine._push(lockout.until, _KIND_LOCKOUT, account.account_id, lockout.key)


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
