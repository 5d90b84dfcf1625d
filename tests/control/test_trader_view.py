"""The trader's screens: gauge colours, countdowns, times in the configured zone, 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rich.console import Console

from risk_manager.cli import trader_view as view

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 10:00 CST


@pytest.mark.parametrize(
    ("fraction", "colour"),
    [("0", "green"), ("0.4999", "green"), ("0.5", "yellow"), ("0.8", "yellow"), ("0.8001", "red"),
     ("1.5", "red"), (None, "dim")],
)
def test_a_gauge_is_green_below_half_amber_to_80_percent_and_red_above(
    fraction: str | None, colour: str
) -> None:
    assert view.gauge_style(None if fraction is None else Decimal(fraction)) == colour


@pytest.mark.parametrize(
    ("delta", "shown"),
    [(timedelta(hours=3, minutes=2, seconds=5), "3h 02m 05s"), (timedelta(seconds=59), "0m 59s"),
     (timedelta(days=2, hours=1), "2d 1h 00m"), (timedelta(seconds=-1), "now")],
)
def test_countdowns_read_in_hours_minutes_and_seconds(delta: timedelta, shown: str) -> None:
    assert view.countdown(delta) == shown


def test_times_are_shown_in_the_configured_zone_with_its_abbreviation() -> None:
    clock = view.Clock("America/Chicago", NOW)
    assert clock.at("2026-03-02T23:00:00.000Z") == "Mon 17:00 CST"
    assert clock.at("2026-07-01T22:00:00.000Z", date=True) == "2026-07-01 17:00 CDT"
    assert clock.left("2026-03-02T23:00:00.000Z") == "7h 00m 00s"


def account(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "account_id": 7, "name": "a rather long account name for a narrow screen", "balance": "50000.00",
        "can_trade": True, "trading_day": "2026-03-02", "realized": "-412.50", "costs": "12.40",
        "unrealized": "-75.00", "net": "-499.90", "trade_count": 9,
        "positions": [{"contract_id": "CON.F.US.MNQ.H26", "symbol": "MNQ", "size": -3,
                       "average_price": "21000.25", "mark": "21012.75", "unrealized": "-75.00",
                       "opened_at": "2026-03-02T15:00:00.000Z"}],
        "gauges": [{"rule": "RULE-003", "name": "daily_realized_loss", "value": "-424.90", "limit": "-500.00",
                    "fraction": "0.8498", "unit": "USD", "breached": False, "subject": None},
                   {"rule": "RULE-002", "name": "max_contracts_per_instrument", "value": "3", "limit": "4",
                    "fraction": "0.75", "unit": "contracts", "breached": False, "subject": "MNQ"}],
        "lockouts": [{"rule": "RULE-006", "scope": "account", "symbol": None,
                      "reason": "3 trades in 1 minute", "since": "2026-03-02T15:58:00.000Z",
                      "until": "2026-03-02T16:30:00.000Z", "condition": None}],
        "trading_state": "halted", "next_reset": "2026-03-02T23:00:00.000Z", "connection": "connected",
        "as_of": "2026-03-02T16:00:00.000Z",
    }
    base.update(over)
    return base


def test_the_status_screen_fits_80_columns_and_shows_what_the_trader_needs() -> None:
    answer = {"daemon": {"running": True, "pid": 1, "started_at": "2026-03-02T12:00:00.000Z"},
              "accounts": [account()]}
    hours = {"session": {"configured": True, "open": True, "closes_at": "2026-03-02T21:00:00.000Z",
                         "opens_at": None}}
    console = Console(width=200, record=True, color_system=None)
    console.print(view.status(answer, hours, view.Clock("America/Chicago", NOW)))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for words in ("Account 7  HALTED  feed connected  a rather long", "realized -412.50",
                  "unrealized -75.00", "total -499.90", "85%",
                  "RULE-002  MNQ max_contracts", "-3", "LOCKED RULE-006 account until Mon 10:30 CST",
                  "(30m 00s left)", "Next reset in 7h 00m 00s", "OPEN, closes in 5h 00m 00s"):
        assert words in text, words


def test_a_stopped_daemon_is_announced_loudly_before_anything_else() -> None:
    answer = {"daemon": {"running": False, "message": "read from the store", "last_record": None},
              "accounts": [account(connection="lost")]}
    console = Console(width=80, record=True, color_system=None)
    console.print(view.status(answer, None, view.Clock("UTC", NOW)))
    first = console.export_text().strip().splitlines()[1]
    assert "THE DAEMON IS NOT RUNNING" in first
