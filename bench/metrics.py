"""Metrics benchmark: what counting costs the enforcement path, and what a scrape costs the loop.

    python bench/metrics.py [--events 200000] [--rounds 5]

Figures printed (best and median of ``rounds``):

- the cost per event of ``DaemonMetrics.event`` (a labelled counter add and a histogram observation,
  what the supervisor calls after deciding each event), next to the cost of the two perf-clock reads
  that time the decision -- together, what the metrics add to each event;
- the cost per outcome of ``DaemonMetrics.enforced``;
- one scrape's exposition (``/metrics`` body) and one ``snapshot()`` -- these run on the daemon's loop
  only when asked, so they bound how long a scrape holds up events.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from risk_manager.daemon.enforcer import Outcome
from risk_manager.daemon.metrics import DaemonMetrics, DaemonState
from risk_manager.domain.actions import Flatten
from risk_manager.domain.events import PositionEvent, QuoteEvent, TradeEvent


def timed(rounds: int, body: Callable[[], object]) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        body()
        samples.append(time.perf_counter() - start)
    return min(samples), statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "risk.db"
        store.write_bytes(b"\0" * 4096)
        metrics = DaemonMetrics(DaemonState(lambda: None, lambda: {}, store))
        kinds = [QuoteEvent] * 8 + [PositionEvent, TradeEvent]

        def events() -> None:
            event = metrics.event
            for i in range(n):
                event(kinds[i % 10], 1.0, 1.00003)

        def clock_reads() -> None:
            perf = time.perf_counter
            for _ in range(n):
                started = perf()
                perf() - started

        outcome = Outcome(1, Flatten(account_id=7, rule="RULE-003", reason="loss"), "done", "flat", 120.0)

        def outcomes() -> None:
            for _ in range(n // 10):
                metrics.enforced(outcome)

        best, median = timed(args.rounds, events)
        print(f"event():        {best / n * 1e9:7.0f} ns/event best, {median / n * 1e9:7.0f} median "
              f"({n} events)")
        best, median = timed(args.rounds, clock_reads)
        print(f"2 clock reads:  {best / n * 1e9:7.0f} ns/event best, {median / n * 1e9:7.0f} median")
        best, median = timed(args.rounds, outcomes)
        print(f"enforced():     {best / (n // 10) * 1e9:7.0f} ns/outcome best, "
              f"{median / (n // 10) * 1e9:7.0f} median")
        best, median = timed(args.rounds, metrics.exposition)
        print(f"exposition():   {best * 1e6:7.0f} us/scrape best, {median * 1e6:7.0f} median")
        best, median = timed(args.rounds, metrics.snapshot)
        print(f"snapshot():     {best * 1e6:7.0f} us best, {median * 1e6:7.0f} median")


if __name__ == "__main__":
    main()
