"""Crash-test driver: stream a deterministic trading day into a PersistentEngine, dying on demand.

    python crash_driver.py DB [--events N] [--seed S] [--kill PHASE:N] [--redeliver R] [--pace S] ...

On start it opens DB; if the journal holds entries it recovers (snapshot + journal replay, then the
clock advanced to the next event's time) and resumes the stream after the last event the journal
holds -- as the daemon resumes a feed -- re-delivering the last ``R`` executions first (a gateway
replaying after a reconnect: they must not count twice). Otherwise it starts from empty.

After every decision that starts a lockout it prints ``ACK <seq> <lockout json>`` and flushes: the
PersistentEngine returned it, so it must be on disk. At the end it prints ``DONE <last seq>`` and
closes the store cleanly.

``--kill PHASE:N`` sends SIGKILL to itself:

- ``event:N``         just before applying the N-th event of this run (1-based);
- ``before_commit:N`` inside this run's N-th store commit, rows written but COMMIT not run;
- ``after_commit:N``  right after this run's N-th COMMIT, before the caller sees the result.

Recovery itself commits (its clock entry, audit rows and a snapshot), so ``before_commit:1`` and
``after_commit:1`` kill a run in the middle of recovering.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from stream import build_engine, stream

from risk_manager.daemon import PersistentEngine, recover
from risk_manager.domain.actions import LockAccount
from risk_manager.domain.events import TradeEvent
from risk_manager.store.codec import iso
from risk_manager.store.sqlite import Store


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class CrashingStore(Store):
    """A real Store whose commits can be cut short by SIGKILL at a chosen point (fault injection)."""

    kill_phase: str | None = None
    kill_at = 0
    commits = 0

    def _commit(self) -> None:
        self.commits += 1
        if self.kill_phase == "before_commit" and self.commits == self.kill_at:
            _die()
        super()._commit()
        if self.kill_phase == "after_commit" and self.commits == self.kill_at:
            _die()


def resume_index(store: Store, events: list[tuple[Any, Any]]) -> int:
    """Index of the first stream event the journal does not hold (0 for an empty journal)."""
    by_time = {t: i for i, (t, _) in enumerate(events)}
    for _seq, t, entry in reversed(store.journal_tail(500)):
        i = by_time.get(t)
        if i is not None and events[i][1] == entry:
            return i + 1
    return 0


def lockout_json(persistent: PersistentEngine, action: LockAccount) -> dict[str, Any]:
    account = persistent.engine.accounts[action.account_id]
    lockout = account.lockouts.get((action.rule, action.scope, action.symbol))
    assert lockout is not None, f"engine returned {action} but holds no such lockout"
    return {
        "account": lockout.account_id,
        "rule": lockout.rule,
        "scope": lockout.scope,
        "symbol": lockout.symbol,
        "since": iso(lockout.since),
        "until": None if lockout.until is None else iso(lockout.until),
        "condition": lockout.condition,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--kill", default=None, help="PHASE:N, see the module docstring")
    parser.add_argument("--redeliver", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--snapshot-every", type=int, default=150)
    parser.add_argument("--pace", type=float, default=0.0, help="seconds to sleep after each event")
    args = parser.parse_args(argv)

    phase, at = ([*args.kill.split(":"), "0"])[:2] if args.kill else (None, "0")
    kill_at = int(at)
    CrashingStore.kill_phase = phase if phase in ("before_commit", "after_commit") else None
    CrashingStore.kill_at = kill_at

    events = stream(args.events, args.seed)
    store = CrashingStore.open(args.db)
    options: dict[str, Any] = {
        "batch_size": args.batch_size,
        "snapshot_every": args.snapshot_every,
        "flush_interval": None,
    }
    start = resume_index(store, events)
    if start >= len(events):
        print(f"DONE {store.last_seq}", flush=True)
        store.close()
        return 0
    if store.last_seq > 0:
        persistent, _report = recover(store, build_engine, events[start][0], **options)
        resend = [e for _, e in events[:start] if isinstance(e, TradeEvent)][-args.redeliver :]
        for again in resend if args.redeliver else ():
            for action in persistent.apply(again, events[start][0]):
                assert not isinstance(action, LockAccount), f"a re-delivered execution decided {action}"
    else:
        persistent = PersistentEngine(build_engine(), store, **options)

    out = sys.stdout
    for n, (t, event) in enumerate(events[start:], start=1):
        if phase == "event" and n == kill_at:
            _die()
        actions = persistent.apply(event, t)
        for action in actions:
            if isinstance(action, LockAccount):
                record = orjson.dumps(lockout_json(persistent, action)).decode()
                out.write(f"ACK {store.last_seq} {record}\n")
                out.flush()
        if args.pace:
            time.sleep(args.pace)
    print(f"DONE {store.last_seq}", flush=True)
    persistent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
