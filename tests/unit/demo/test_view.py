"""The live demo's view and summary, rendered from read-model statuses at 80 columns."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

from rich.console import Console

from risk_manager.demo.session import Entry, Journal, Session
from risk_manager.demo.view import live_view, summary, summary_json
from risk_manager.domain.status import (
    AccountStatus,
    ConnectionState,
    PositionStatus,
    RuleGauge,
    TradingState,
)

NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


def session() -> Session:
    s = Session(duration=60, speed=1, journal=Journal())
    positions = (
        PositionStatus("CON.F.US.MNQ.H26", "MNQ", 4, D("21000.25"), D("20990"), D("-82.00"), NOW),
        PositionStatus("CON.F.US.EP.H26", "ES", -2, D("6000.25"), None, None, NOW),
    )
    gauges = (
        RuleGauge.of("RULE-003", "daily_realized_loss", D("-229.5"), D("-300"), "USD"),
        RuleGauge.of("RULE-002", "max_contracts_per_instrument", D("4"), D("4"), "contracts",
                     breached=False, subject="MNQ"),
        RuleGauge.of("RULE-004", "daily_unrealized_loss", None, D("-300"), "USD"),
    )
    s.accounts = [
        AccountStatus(7, "Over-trader", D("50000"), True, date(2026, 3, 2), D("-200"), D("29.50"), None,
                      D("-229.50"), positions, gauges, (), TradingState.HALTED, NOW,
                      ConnectionState.CONNECTED, NOW),
        AccountStatus(8, "A name longer than its column", None, None, date(2026, 3, 2), D("0"), D("3"),
                      D("0"), D("-3"), (), gauges[:1], (), TradingState.ACTIVE, NOW,
                      ConnectionState.RECONNECTING, NOW),
    ]
    s.journal.entries.append(Entry(1, NOW, 7, "LOCKOUT", "close_position",
                                   "position opened (+2 CON.F.US.MNQ.H26) while locked: lockout by "
                                   "RULE-003 until 2026-03-02 17:00:00 CST (day P&L -346.84 <= limit "
                                   "-300.00)", outcome="done: closed", latency_ms=4.5))
    return s


def test_the_live_view_and_the_summary_fit_80_columns_with_nothing_cut() -> None:
    console = Console(width=80, no_color=True, record=True)
    s = session()
    console.print(live_view(s))
    console.print(summary(s))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for shown in ("-229.50", "+4 MNQ @21000.25", "halted", "76%", "-229.50 / -300.00 USD",
                  "no price yet", "done: closed in 4.5 ms", "LOCKOUT close_position: 1"):
        assert shown in text, shown


def test_the_json_summary_carries_each_accounts_read_model() -> None:
    out = summary_json(session())
    assert [a["account_id"] for a in out["accounts"]] == [7, 8]
    assert out["accounts"][0]["trading_state"] == "halted"
    assert out["counts"] == {"LOCKOUT close_position": 1}
