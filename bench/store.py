"""Store benchmarks: journal append rate, durable lockout write latency, restart time.

    python bench/store.py [--append-events 300000] [--restart-events 1000000] [--lockouts 1000] [--dir DIR]

Figures printed, with the targets of the persistence issue:

1. journal append, batched: encode + insert + commit of normalized events (synthetic day, ~90 %
   quotes) through ``Store``, batches of 2,000 -- target >= 50,000 events/s. Also the rate of the
   whole ``PersistentEngine`` (engine.apply + journal + audit), for reference.
2. lockout write: one lockout decision committed with fsync (``synchronous=FULL``), as the
   PersistentEngine commits it before reporting it -- target p99 < 5 ms. Measured on the large
   store of (3), while its journal grows.
3. restart: a store holding a 1,000,000-event journal (written by a PersistentEngine with its
   default snapshot interval), process "killed" (no clean close: the tail after the last snapshot is
   replayed): ``Store.open`` (with quick_check) + ``recover`` until the engine is ready -- target < 3 s.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from engine import build_engine
from synthetic_day import synthetic_day

from risk_manager.broker.normalize import normalize_message, parse_timestamp
from risk_manager.daemon import PersistentEngine, recover
from risk_manager.domain.actions import LockAccount
from risk_manager.domain.lockouts import Lockout
from risk_manager.store.sqlite import Batch, Store


def events_of(lines: int) -> list[tuple[Any, Any]]:
    out = []
    for line in synthetic_day(lines):
        msg = orjson.loads(line)
        t = parse_timestamp(msg["t"])
        for event in normalize_message(msg["hub"], msg["target"], msg["arguments"]):
            out.append((t, event))
    return out


def remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def bench_append(events: list[tuple[Any, Any]], directory: Path, batch_size: int = 2000) -> float:
    path = directory / "append.db"
    remove(path)
    with Store.open(path) as store:
        gc.collect()
        start = time.perf_counter()
        for i in range(0, len(events), batch_size):
            batch = Batch()
            for t, event in events[i : i + batch_size]:
                store.stage_entry(batch, t, event)
            store.write(batch)
        elapsed = time.perf_counter() - start
    remove(path)
    return len(events) / elapsed


def bench_engine(events: list[tuple[Any, Any]]) -> float:
    engine = build_engine()
    gc.collect()
    start = time.perf_counter()
    for t, event in events:
        engine.apply(event, t)
    return len(events) / (time.perf_counter() - start)


def bench_persistent(events: list[tuple[Any, Any]], directory: Path, **options: Any) -> tuple[float, int]:
    """Events/s through a PersistentEngine, and the number of commits it made."""
    path = directory / "persistent.db"
    remove(path)
    with Store.open(path) as store:
        commits = 0
        write = store.write

        def counting(batch: Batch) -> None:
            nonlocal commits
            commits += 1
            write(batch)

        store.write = counting  # type: ignore[method-assign]
        persistent = PersistentEngine(build_engine(), store, **options)
        gc.collect()
        start = time.perf_counter()
        for t, event in events:
            persistent.apply(event, t)
        persistent.flush()
        elapsed = time.perf_counter() - start
    remove(path)
    return len(events) / elapsed, commits


def build_big_store(path: Path, events: int) -> tuple[int, Any, Any]:
    """A PersistentEngine over ``events`` synthetic events, left without a clean close (as if killed).

    It stops one event short of a snapshot: the worst case, the longest journal tail to replay.
    """
    remove(path)
    store = Store.open(path)
    persistent = PersistentEngine(build_engine(), store)
    n = 0
    for line in synthetic_day(events):
        msg = orjson.loads(line)
        t = parse_timestamp(msg["t"])
        for event in normalize_message(msg["hub"], msg["target"], msg["arguments"]):
            if n == events - 1:
                break
            persistent.apply(event, t)
            n += 1
    persistent.flush()  # what the daemon had committed; no snapshot at the end
    last_t = persistent.engine.now
    return n, persistent, last_t


def bench_lockouts(persistent: PersistentEngine, count: int, at: Any) -> list[float]:
    store = persistent.store
    times = []
    for i in range(count):
        lock = LockAccount(
            account_id=10_000 + i, rule="RULE-003", until=at + timedelta(hours=2), reason="bench"
        )
        batch = Batch(durable=True)  # as PersistentEngine commits a lockout the engine reports
        start = time.perf_counter()
        [audit_id] = store.stage_actions(batch, at, [lock])
        store.stage_lockout_start(
            batch, Lockout(lock.account_id, lock.rule, "bench", at, until=lock.until), audit_id
        )
        store.write(batch)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--append-events", type=int, default=300_000)
    parser.add_argument("--restart-events", type=int, default=1_000_000, help="journal size for the restart")
    parser.add_argument("--lockouts", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        events = events_of(args.append_events)
        rate = bench_append(events, directory)
        print(f"journal append (Store, batches of 2000): {rate:>12,.0f} events/s   target >= 50,000")
        print(f"engine.apply alone:                      {bench_engine(events):>12,.0f} events/s")
        # A dense stream fills batches by size; the synthetic day is sparse in time (6.5 h), so with
        # the default 250 ms engine-time flush it commits every few events -- cheap at that rate.
        rate, commits = bench_persistent(events, directory, flush_interval=None)
        print(f"PersistentEngine, batching by size:      {rate:>12,.0f} events/s  ({commits:,} commits)")
        rate, commits = bench_persistent(events, directory)
        print(f"PersistentEngine, + 250 ms time flushes: {rate:>12,.0f} events/s  ({commits:,} commits)")
        del events

        big = directory / "big.db"
        start = time.perf_counter()
        n, persistent, last_t = build_big_store(big, args.restart_events)
        built = time.perf_counter() - start
        print(f"built a {n:,}-event store in {built:.1f} s ({big.stat().st_size / 1e6:.0f} MB)")

        times = bench_lockouts(persistent, args.lockouts, last_t)
        times.sort()
        p50 = statistics.median(times) * 1e3
        p99 = times[max(0, int(len(times) * 0.99) - 1)] * 1e3
        print(
            f"durable lockout write (fsync):           p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
            f"max {times[-1] * 1e3:.3f} ms   target p99 < 5 ms"
        )
        # "Kill" the writer: drop the connection and its lock without the shutdown snapshot.
        persistent.store.close()
        del persistent
        gc.collect()

        with Store.open(big, readonly=True) as reader:
            rows = reader.counts()["journal"]
            snap = reader.snapshots()[0].journal_seq
        start = time.perf_counter()
        store = Store.open(big)
        opened = time.perf_counter() - start
        recovered, report = recover(store, build_engine, last_t + timedelta(seconds=1))
        elapsed = time.perf_counter() - start
        print(
            f"restart ({rows:,}-event journal, snapshot at seq {snap:,}, {report.replayed:,} rows replayed): "
            f"{elapsed:.2f} s (open + quick_check {opened:.2f} s)   target < 3 s"
        )
        recovered.close()


if __name__ == "__main__":
    main()
