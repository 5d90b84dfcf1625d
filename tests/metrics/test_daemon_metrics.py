"""DaemonMetrics on an explicit clock: what the hot path counts and what snapshot() reports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from risk_manager.broker.port import ConnectionChange, ConnectionState
from risk_manager.daemon.enforcer import Outcome
from risk_manager.daemon.metrics import DaemonMetrics, DaemonState, event_kind
from risk_manager.domain.actions import Flatten
from risk_manager.domain.events import QuoteEvent, TradeEvent


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def metrics(clock: Clock, store: Path, hubs: Mapping[str, ConnectionState] | None = None) -> DaemonMetrics:
    state = DaemonState(lambda: None, lambda: hubs or {}, store)
    return DaemonMetrics(state, perf=clock)


def flatten_outcome(status: str, latency_ms: float | None) -> Outcome:
    return Outcome(1, Flatten(account_id=7, rule="RULE-003", reason="loss"), status, "", latency_ms)


def test_event_kinds_are_the_event_class_names_without_the_suffix() -> None:
    assert event_kind(QuoteEvent) == "quote"
    assert event_kind(TradeEvent) == "trade"


def test_snapshot_counts_events_by_kind_with_their_rate_and_the_evaluation_latency(tmp_path: Path) -> None:
    clock = Clock()
    figures = metrics(clock, tmp_path / "risk.db")
    for _ in range(30):
        figures.event(QuoteEvent, 100.0, 100.0002)
    figures.event(TradeEvent, 100.0, 100.004)
    clock.t += 10
    snapshot = figures.snapshot()
    assert snapshot["uptime_s"] == 10
    assert snapshot["events"] == {"quote": 30, "trade": 1}
    assert snapshot["events_per_s"] == {"quote": 3.0, "trade": 0.1}
    evaluation = snapshot["rule_evaluation_ms"]
    assert evaluation["count"] == 31
    assert evaluation["p50_at_most"] == 0.25 and evaluation["p99_at_most"] == 5.0
    assert snapshot["last_event_age_s"] == 10 - 0.004
    assert snapshot["store_bytes"] == 0  # no store yet


def test_events_per_second_is_the_rate_over_the_last_minute(tmp_path: Path) -> None:
    clock = Clock()
    figures = metrics(clock, tmp_path / "risk.db")
    figures.event(QuoteEvent, 100.0, 100.0001)
    clock.t += 61
    figures.snapshot()  # a reading at 61 s: the next rate starts from here once the minute has passed
    for _ in range(120):
        figures.event(QuoteEvent, clock.t, clock.t + 0.0001)
    clock.t += 60
    assert figures.snapshot()["events_per_s"] == {"quote": 2.0}


def test_enforcements_are_counted_by_rule_and_status_and_failures_apart(tmp_path: Path) -> None:
    figures = metrics(Clock(), tmp_path / "risk.db")
    figures.enforced(flatten_outcome("done", 120.0))
    figures.enforced(flatten_outcome("failed", None))
    snapshot = figures.snapshot()
    assert snapshot["enforcements"] == {"RULE-003": {"done": 1, "failed": 1}}
    assert snapshot["failures"] == {"RULE-003": 1}
    assert snapshot["breach_to_ack_ms"]["count"] == 1
    assert snapshot["breach_to_ack_ms"]["mean"] == 120.0
    assert snapshot["breach_to_ack_ms"]["p50_at_most"] == 200.0


def test_connection_reconnects_and_store_size_are_reported(tmp_path: Path) -> None:
    store = tmp_path / "risk.db"
    store.write_bytes(b"x" * 100)
    (tmp_path / "risk.db-wal").write_bytes(b"x" * 20)
    hubs = {"user": ConnectionState.CONNECTED, "market": ConnectionState.RECONNECTING}
    figures = metrics(Clock(), store, hubs)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    figures.reconnected(ConnectionChange("user", ConnectionState.CONNECTED, ConnectionState.RECONNECTING, at))
    snapshot = figures.snapshot()
    assert snapshot["connection"] == {"user": "connected", "market": "reconnecting"}
    assert snapshot["reconnects"] == {"user": 1}
    assert snapshot["store_bytes"] == 120
    assert snapshot["last_event_age_s"] is None


def test_two_daemons_in_one_process_keep_their_figures_apart(tmp_path: Path) -> None:
    one, two = metrics(Clock(), tmp_path / "a.db"), metrics(Clock(), tmp_path / "b.db")
    one.event(QuoteEvent, 100.0, 100.0001)
    assert two.snapshot()["events"] == {}
    assert b'risk_manager_events_total{kind="quote"} 1.0' in one.exposition()
    assert b"risk_manager_events_total{" not in two.exposition()
