"""Dashboard benchmark: what sampling the read model costs the daemon's loop.

    python bench/dashboard.py [--accounts 10 100 200 500] [--runs 20]

While a page is open the dashboard samples every account's read model at most every 0.25 s
(once a second with no page open): ``Engine.status`` per account, ``PnlHistory.record``, and
``AccountStatus.to_json`` of the accounts that changed -- the work ``Dashboard._take`` does on the
daemon's loop, where the enforcement runs too, ``CHUNK`` accounts at a time with the loop let go in
between. Each account is long 1 MNQ and 1 ES with the copier rule set (the gauges of daily loss,
per-position loss and profit, trade management). Printed: the best of ``runs`` samples per account
count, quiet (nothing changed) and busy (every account changed), the share of the 0.25 s tick it
takes, the longest hold of the loop (one chunk), and the memory of a full day's history.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import COPIER_RULES, build_engine, row
from synthetic_day import copier_day

from risk_manager.broker.normalize import normalize_message, parse_timestamp
from risk_manager.daemon.dashboard.history import DEFAULT_CAPACITY, PnlHistory
from risk_manager.daemon.dashboard.server import CHUNK
from risk_manager.domain.status import AccountStatus, ConnectionState
from risk_manager.engine.engine import Engine

TICK = 0.25
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = date(2026, 3, 2)


def engine_with(accounts: int) -> tuple[Engine, datetime]:
    engine = build_engine(keys=COPIER_RULES)
    last = None
    for line in copier_day(accounts, 200):
        msg = orjson.loads(line)
        last = parse_timestamp(msg["t"])
        for event in normalize_message(msg["hub"], msg["target"], msg["arguments"]):
            engine.apply(event, last)
    assert last is not None
    return engine, last


def sample(engine: Engine, ids: list[int], now: datetime, history: PnlHistory,
           keys: dict[int, AccountStatus]) -> int:
    """What Dashboard._take does for ``ids``: statuses, the history, the JSON of the changed ones."""
    statuses = [s for a in ids if (s := engine.status(a, now, ConnectionState.CONNECTED)) is not None]
    history.record(now, statuses)
    changed = []
    for status in statuses:
        key = replace(status, as_of=EPOCH)
        if keys.get(status.account_id) != key:
            keys[status.account_id] = key
            changed.append(status.to_json())
    return len(changed)


def best(runs: int, fn: Any) -> float:
    out = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - start)
    return out


def figures(accounts: int, runs: int) -> None:
    engine, now = engine_with(accounts)
    ids = sorted(engine.accounts)
    history = PnlHistory()
    keys: dict[int, AccountStatus] = {}
    quiet = best(runs, lambda: sample(engine, ids, now, history, keys))  # nothing changed since
    changed = best(runs, lambda: sample(engine, ids, now, history, {}))  # every account changed
    chunk = best(runs, lambda: sample(engine, ids[:CHUNK], now, history, {}))
    row(f"  {accounts:,} accounts: quiet", f"{quiet * 1e3:.2f} ms", f"{quiet / TICK:.1%} of a 0.25 s tick")
    row("    every account changed", f"{changed * 1e3:.2f} ms", f"{changed / TICK:.1%} of a 0.25 s tick")
    row(f"    longest hold of the loop ({CHUNK})", f"{chunk * 1e3:.2f} ms",
        "one chunk, every account changed")


def history_memory(accounts: int) -> int:
    tracemalloc.start()
    history = PnlHistory()
    t0 = datetime(2026, 3, 2, 15, tzinfo=UTC)
    for a in range(accounts):
        for n in range(DEFAULT_CAPACITY):
            history.add(a, DAY, t0 + timedelta(seconds=n), Decimal(n), Decimal(n) - Decimal("0.5"))
    size, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[10, 100, 200, 500])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"dashboard sample (statuses + history + JSON of the changed accounts), best of {args.runs}:")
    for n in args.accounts:
        figures(n, args.runs)
    n = max(args.accounts)
    size = history_memory(n)
    row(f"history, full day, {n:,} accounts", f"{size / 2**20:.1f} MB", f"{DEFAULT_CAPACITY} points each")


if __name__ == "__main__":
    main()
