"""The daemon's figures: Prometheus text on 127.0.0.1 (off by default) and a dict for the control API.

Two kinds of figure, so that enforcement never waits on a figure:

- what happens on the hot path -- an event decided, an enforcement's outcome, a reconnect -- is an
  add to a plain Python counter or bucket (no lock, no I/O; Prometheus families are built from them
  only when scraped);
- what is state -- uptime, lockouts active, connection per hub, last event age, store size -- is
  read only when someone asks (a scrape or ``snapshot()``), on the daemon's loop, so it needs no
  lock against the loop and costs nothing between scrapes.

Everything lives on its own :class:`~prometheus_client.CollectorRegistry`, never the global one:
several daemons in one process (the tests) keep their figures apart. The endpoint is served by
aiohttp on the daemon's own loop, so a scrape reads the state in the same thread that changes it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from risk_manager.broker.port import ConnectionChange, ConnectionState
from risk_manager.daemon.loopback import serve_tcp

if TYPE_CHECKING:
    from risk_manager.daemon.enforcer import Outcome
    from risk_manager.daemon.persistent import Decision, PersistentEngine
    from risk_manager.daemon.supervisor import Observer

__all__ = ["DaemonMetrics", "MeteredObserver", "MetricsServer"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # never another interface: the figures name accounts and rules
# Deciding one event takes tens of microseconds; a broker round trip tens to hundreds of milliseconds.
EVALUATION_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)
ACK_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
RATE_WINDOW = 60.0  # seconds: events/s in snapshot() is the rate over the last minute
FAILED = "failed"


def event_kind(event_type: type) -> str:
    """``QuoteEvent`` -> ``quote``: the label a Prometheus user expects."""
    name = event_type.__name__
    return (name[: -len("Event")] if name.endswith("Event") else name).lower()


class Tally:
    """A histogram kept as plain numbers (bucket counts, sum, count): observing is a bisect and two
    adds. prometheus-client's own Histogram takes a lock and walks its buckets -- microseconds per
    event, too much for the enforcement path (bench/metrics.py)."""

    __slots__ = ("bounds", "buckets", "count", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.total += value

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for bound, n in zip((*self.bounds, math.inf), self.buckets, strict=True):
            running += n
            cumulative.append(("+Inf" if math.isinf(bound) else str(bound), running))
        return HistogramMetricFamily(name, documentation, buckets=cumulative, sum_value=self.total)

    def summary(self) -> dict[str, Any]:
        """count, mean and the bucket bounds holding the median and the 99th percentile, in ms."""
        out: dict[str, Any] = {"count": self.count,
                               "mean": _rounded(self.total / self.count * 1000) if self.count else None}
        for name, q in (("p50_at_most", 0.5), ("p99_at_most", 0.99)):
            out[name] = None
            running = 0
            for bound, n in zip(self.bounds, self.buckets, strict=False):
                running += n
                if self.count and running >= q * self.count:
                    out[name] = _rounded(bound * 1000)
                    break
        return out


class DaemonMetrics:
    """The figures of one daemon. Called on the daemon's loop only (the hot path, scrapes and
    snapshots alike), so plain counters need no lock. ``state`` is asked at scrape/snapshot time."""

    def __init__(self, state: DaemonState, perf: Callable[[], float] = time.perf_counter) -> None:
        self.state = state
        self.perf = perf
        self.started = perf()
        self.last_event: float | None = None
        self.events: dict[type, int] = {}
        self.evaluation = Tally(EVALUATION_BUCKETS)
        self.breach_to_ack = Tally(ACK_BUCKETS)
        self.enforcements: dict[tuple[str, str], int] = {}
        self.failures: dict[str, int] = {}
        self.reconnects: dict[str, int] = {}
        self.registry = CollectorRegistry(auto_describe=False)  # its own: never the process-global one
        self.registry.register(_Collector(self))
        self._rates: deque[tuple[float, dict[str, int]]] = deque([(self.started, {})])

    # ---- the hot path: memory only ---------------------------------------------------------------------

    def event(self, event_type: type, started: float, ended: float) -> None:
        """One event decided between two perf-clock readings."""
        events = self.events
        events[event_type] = events.get(event_type, 0) + 1
        self.evaluation.observe(ended - started)
        self.last_event = ended

    def enforced(self, outcome: Outcome) -> None:
        rule = outcome.action.rule
        key = (rule, outcome.status)
        self.enforcements[key] = self.enforcements.get(key, 0) + 1
        if outcome.status == FAILED:
            self.failures[rule] = self.failures.get(rule, 0) + 1
        if outcome.latency_ms is not None:
            self.breach_to_ack.observe(outcome.latency_ms / 1000)

    def reconnected(self, change: ConnectionChange) -> None:
        self.reconnects[change.hub] = self.reconnects.get(change.hub, 0) + 1

    # ---- read on demand --------------------------------------------------------------------------------

    def uptime(self) -> float:
        return self.perf() - self.started

    def last_event_age(self) -> float | None:
        return None if self.last_event is None else self.perf() - self.last_event

    def event_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event_type, n in self.events.items():
            kind = event_kind(event_type)
            counts[kind] = counts.get(kind, 0) + n
        return counts

    def snapshot(self) -> dict[str, Any]:
        """The same figures as the endpoint, as plain JSON values (``admin daemon status``)."""
        events = self.event_counts()
        enforcements: dict[str, dict[str, int]] = {}
        for (rule, status), n in sorted(self.enforcements.items()):
            enforcements.setdefault(rule, {})[status] = n
        return {
            "uptime_s": round(self.uptime(), 3),
            "events": events,
            "events_per_s": self._events_per_second(events),
            "rule_evaluation_ms": self.evaluation.summary(),
            "breach_to_ack_ms": self.breach_to_ack.summary(),
            "enforcements": enforcements,
            "failures": dict(self.failures),
            "lockouts_active": self.state.lockouts_active(),
            "connection": {hub: state.value for hub, state in self.state.connection().items()},
            "reconnects": dict(self.reconnects),
            "last_event_age_s": _rounded(self.last_event_age()),
            "store_bytes": self.state.store_bytes(),
        }

    def _events_per_second(self, totals: dict[str, int]) -> dict[str, float]:
        now = self.perf()
        while len(self._rates) > 1 and now - self._rates[1][0] >= RATE_WINDOW:
            self._rates.popleft()
        then, before = self._rates[0]
        self._rates.append((now, totals))
        span = now - then
        if span <= 0:
            return {kind: 0.0 for kind in totals}
        return {kind: round((n - before.get(kind, 0)) / span, 3) for kind, n in totals.items()}

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class DaemonState:
    """What the state figures read: the daemon's engine, supervisor and store, whichever exist now."""

    def __init__(self, persistent: Callable[[], PersistentEngine | None],
                 connection: Callable[[], Mapping[str, ConnectionState]], store_path: Path) -> None:
        self._persistent = persistent
        self._connection = connection
        self.store_path = store_path

    def lockouts_active(self) -> int:
        persistent = self._persistent()
        if persistent is None:
            return 0
        return sum(len(state.lockouts) for state in persistent.engine.accounts.values())

    def connection(self) -> dict[str, ConnectionState]:
        return dict(self._connection())

    def store_bytes(self) -> int:
        """The store with its write-ahead log (what the disk holds)."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += self.store_path.with_name(self.store_path.name + suffix).stat().st_size
        return total


class _Collector(Collector):
    """Every figure, built from the tallies and the state when scraped."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # built at collect time only: nothing to describe up front

    def collect(self) -> Iterator[Metric]:
        metrics, state = self.metrics, self.metrics.state
        yield GaugeMetricFamily("risk_manager_uptime_seconds", "Seconds since the daemon started.",
                                value=metrics.uptime())
        events = CounterMetricFamily("risk_manager_events", "Gateway events decided, by kind.",
                                     labels=["kind"])
        for kind, n in sorted(metrics.event_counts().items()):
            events.add_metric([kind], n)
        yield events
        yield metrics.evaluation.family(
            "risk_manager_rule_evaluation_seconds",
            "Time to decide one event: every rule's evaluation and the journal append.")
        yield metrics.breach_to_ack.family(
            "risk_manager_breach_to_ack_seconds",
            "From the triggering event's receipt to the broker's acknowledgement of the enforcement.")
        enforcements = CounterMetricFamily("risk_manager_enforcements",
                                           "Enforcement outcomes, by rule and status.",
                                           labels=["rule", "status"])
        for (rule, status), n in sorted(metrics.enforcements.items()):
            enforcements.add_metric([rule, status], n)
        yield enforcements
        failures = CounterMetricFamily("risk_manager_enforcement_failures",
                                       "Enforcements that failed after their retries, by rule.",
                                       labels=["rule"])
        for rule, n in sorted(metrics.failures.items()):
            failures.add_metric([rule], n)
        yield failures
        reconnects = CounterMetricFamily("risk_manager_reconnects", "Hub connections restored after a loss.",
                                         labels=["hub"])
        for hub, n in sorted(metrics.reconnects.items()):
            reconnects.add_metric([hub], n)
        yield reconnects
        yield GaugeMetricFamily("risk_manager_lockouts_active", "Lockouts in force over every account.",
                                value=state.lockouts_active())
        connection = GaugeMetricFamily("risk_manager_connection_state",
                                       "1 for each hub's current state, 0 for the others.",
                                       labels=["hub", "state"])
        for hub, current in state.connection().items():
            for candidate in ConnectionState:
                connection.add_metric([hub, candidate.value], 1.0 if candidate is current else 0.0)
        yield connection
        age = metrics.last_event_age()
        if age is not None:
            yield GaugeMetricFamily("risk_manager_last_event_age_seconds",
                                    "Seconds since the last gateway event was decided.", value=age)
        yield GaugeMetricFamily("risk_manager_store_bytes", "Size of the store (risk.db and its WAL).",
                                value=state.store_bytes())


class MeteredObserver:
    """The supervisor's observer: enforcement outcomes counted, then passed on to ``inner``."""

    def __init__(self, metrics: DaemonMetrics, inner: Observer | None) -> None:
        self.metrics = metrics
        self.inner = inner

    def decided(self, decision: Decision) -> None:
        if self.inner is not None:
            self.inner.decided(decision)

    def enforced(self, outcome: Outcome) -> None:
        self.metrics.enforced(outcome)
        if self.inner is not None:
            self.inner.enforced(outcome)


class MetricsServer:
    """``GET /metrics`` on 127.0.0.1:``port`` (0: any free port; the bound one is in ``url``)."""

    def __init__(self, metrics: DaemonMetrics, port: int) -> None:
        self.metrics = metrics
        self.port = port
        self.url: str | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        try:
            runner, port = await serve_tcp(app, HOST, self.port)
        except OSError as exc:
            raise OSError(f"the metrics endpoint cannot listen on {HOST}:{self.port} ({exc.strerror}); "
                          "choose another daemon.metrics.port in risk_config.yaml") from exc
        self._runner = runner
        self.url = f"http://{HOST}:{port}/metrics"
        log.info("metrics at %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
