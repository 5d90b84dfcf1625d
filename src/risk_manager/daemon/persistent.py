"""The engine with a memory: journal every input, record every decision, come back after a crash.

:class:`PersistentEngine` wraps an :class:`~risk_manager.engine.engine.Engine` and a
:class:`~risk_manager.store.sqlite.Store` (the repository). What to write besides the journal and
the audit rows -- lockout rows, day figures, resets, executions counted, and whether the commit
must be durable -- comes from the engine's own report of what each call changed
(``Engine.last_changes``), never from comparing state before and after.

Every call that changes engine state is journaled -- events (``apply``), clock advances
(``advance``, as a ClockEvent), admin clears -- so that replaying the journal through a fresh engine
reaches the same state. Journal rows are batched; the batch is committed before a call returns any
action at all, and committed *durably* (fsync) when the engine reports a lockout taken or ended or
a daily reset. Every decided action gets the id
``"<journal seq>.<index>"`` (:attr:`Decision.action_id`): the same after a crash and a recovery.
So:

- a decision the caller has seen is always on disk, with the events that led to it;
- a crash loses at most the tail of quiet events (quotes that decided nothing) since the last
  commit; the feed re-sends or resyncs them, and the engine dedupes repeated executions by id.

Recovery after a crash is in daemon/recovery.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from risk_manager.domain.actions import Action, LockAccount, Unlock
from risk_manager.domain.events import ClockEvent, Event, TradeEvent
from risk_manager.domain.lockouts import Lockout
from risk_manager.engine.changes import NO_CHANGES, Changes, EndCause
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.store.codec import ClearLockout, iso
from risk_manager.store.errors import StoreError
from risk_manager.store.sqlite import Batch, Store

__all__ = ["Decision", "PersistentEngine", "open_for_replay"]

DEFAULT_BATCH_SIZE = 2000
DEFAULT_SNAPSHOT_EVERY = 50_000
DEFAULT_FLUSH_INTERVAL = timedelta(milliseconds=250)


@dataclass(frozen=True, slots=True)
class Decision:
    """An action as recorded: its audit row id (for ``record_outcome``), decision time, and the
    journal entry that decided it with the action's place among that entry's decisions."""

    audit_id: int
    t: datetime
    action: Action
    seq: int
    index: int

    @property
    def action_id(self) -> str:
        """``"<journal seq>.<index>"``: deterministic (a recovery replays the same entries to the
        same decisions), so the enforcer is idempotent on it and the audit trail joins on it."""
        return f"{self.seq}.{self.index}"


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
        self._recovering = False
        engine.record_changes = True

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
        actions = self.engine.apply(event, now)
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
        decisions = self._after(ClearLockout(account_id, by, why, rule), actions, admin=by)
        self.flush(durable=True)
        return decisions

    def update_policy(self, policy: Policy, now: datetime) -> list[Decision]:
        """Hot reload: new rules from now on, and a snapshot, so a restart never replays old events
        under the new rules."""
        actions = self.engine.update_policy(policy, now)
        t = self.engine.now
        assert t is not None
        # A clock entry gives the decisions their journal seq (ids); the snapshot right after
        # covers it, so it is never replayed.
        seq = self.store.stage_entry(self._batch, t, _CLOCK)
        decisions = self._record(t, actions, seq, self.engine.last_changes)
        self.save_snapshot()
        return decisions

    def record_outcome(
        self, audit_id: int, outcome: str, latency_ms: float | None, at: datetime | None = None
    ) -> None:
        if self._batch.audit:
            self.flush()  # the row may be staged still: it must be on file before it can be updated
        self.store.record_outcome(audit_id, outcome, latency_ms, at)

    # ---- persistence -------------------------------------------------------------------------------

    def flush(self, *, durable: bool = False) -> None:
        """Commit what is staged (durably if asked or if it holds critical state)."""
        batch = self._batch
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
        self.store.stage_snapshot(
            self._batch, self.engine.export_state(), self.store.last_seq, self.engine.now
        )
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
        self, entry: Event | ClearLockout, actions: list[Action], admin: str | None = None
    ) -> list[Decision]:
        engine = self.engine
        changes = engine.last_changes
        t = engine.now
        assert t is not None
        batch = self._batch
        seq = self.store.stage_entry(batch, t, entry)
        if type(entry) is TradeEvent:
            self._stage_trade(entry, changes, t)
        t_us = batch.journal[-1][1]
        if self._first_us is None:
            self._first_us = t_us
        self._since_snapshot += 1
        if actions or changes is not NO_CHANGES:
            decisions = self._record(t, actions, seq, changes, admin=admin)
        else:
            decisions = []
        if self.snapshot_every is not None and self._since_snapshot >= self.snapshot_every:
            self.save_snapshot()
        elif (
            actions
            or len(batch.journal) >= self.batch_size
            or (self._flush_us is not None and t_us - self._first_us >= self._flush_us)
        ):
            self.flush()
        return decisions

    def _record(
        self,
        t: datetime,
        actions: Sequence[Action],
        seq: int,
        changes: Changes,
        *,
        first_index: int = 0,
        notes: Sequence[str | None] | None = None,
        admin: str | None = None,
        ended_by: str | None = None,
    ) -> list[Decision]:
        """Audit rows for ``actions`` (decided by journal entry ``seq``), and what ``changes`` says
        to keep: lockout rows, day figures, resets; a batch with critical changes commits durably."""
        store = self.store
        batch = self._batch
        ids = store.stage_actions(batch, t, actions, journal_seq=seq, first_index=first_index, notes=notes)
        audit_of: dict[tuple[int, str, str, str | None], int] = {}
        for audit_id, action in zip(ids, actions, strict=True):
            if isinstance(action, LockAccount | Unlock):
                audit_of.setdefault((action.account_id, action.rule, action.scope, action.symbol), audit_id)
        # in the order they happened: a key's row closes before another one opens
        for step in changes.lockout_steps:
            lo = step.lockout
            if step.cause is None:
                if step.replaced is not None:
                    why = f"replaced by a longer lockout (until {_until(lo)})"
                    store.stage_lockout_end(batch, lo.account_id, lo.key, t, "superseded", why)
                store.stage_lockout_start(batch, lo, audit_of.get(_key(lo)))
                continue
            if ended_by is not None:
                by = ended_by
            elif step.cause is EndCause.ADMIN and admin is not None:
                by = f"admin:{admin}"
            else:
                by = str(step.cause)
            why = next(
                (
                    a.reason or ""
                    for a in actions
                    if isinstance(a, Unlock) and (a.account_id, a.rule, a.scope, a.symbol) == _key(lo)
                ),
                "",
            )
            store.stage_lockout_end(batch, lo.account_id, lo.key, t, by, why)
        for roll in changes.rolled:
            closed = roll.closed
            store.stage_reset(
                batch,
                t,
                roll.account_id,
                roll.opened.label,
                None if closed is None else closed.label,
                None if closed is None else closed.realized,
                None if closed is None else closed.costs,
                self._recovering,
            )
        for day in changes.days:
            store.stage_day(
                batch,
                day.account_id,
                day.label,
                day.start,
                day.end,
                day.realized,
                day.costs,
                day.trade_count,
                t,
            )
        if changes.critical:
            batch.durable = True
        return [
            Decision(i, t, a, seq, first_index + n) for n, (i, a) in enumerate(zip(ids, actions, strict=True))
        ]

    def _stage_trade(self, event: TradeEvent, changes: Changes, t: datetime) -> None:
        account = self.engine.accounts.get(event.account_id)
        if account is None:
            return  # an unmonitored account
        label = account.seen_trades.get(event.trade_id)
        if label is None:
            return
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
            changes.was_counted(event.account_id, event.trade_id),
        )


def _key(lockout: Lockout) -> tuple[int, str, str, str | None]:
    return (lockout.account_id, lockout.rule, lockout.scope, lockout.symbol)


def _until(lockout: Lockout) -> str:
    return iso(lockout.until) if lockout.until is not None else f"{lockout.condition} clears"


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
