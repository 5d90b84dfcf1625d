"""Per account figures for the live view, read from the daemon's engine."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from risk_manager.daemon.app import Daemon

__all__ = ["AccountRow", "account_rows"]


@dataclass(frozen=True, slots=True)
class AccountRow:
    account_id: int
    name: str
    net: Decimal  # realized less fees and commissions
    positions: str
    gauges: str
    state: str


def account_rows(daemon: Daemon | None) -> list[AccountRow]:
    persistent = daemon.persistent if daemon is not None else None
    if daemon is None or persistent is None:
        return []
    rows = []
    for account_id, state in sorted(persistent.engine.accounts.items()):
        entry = daemon.config.accounts.entry(account_id)
        name = entry.name if entry is not None and entry.name else ""
        day = state.day
        net = day.realized - day.fees - day.commissions
        positions = ", ".join(f"{p.size:+d} {p.root} @{p.average_price}" for p in state.positions.values())
        gross = sum(abs(p.size) for p in state.positions.values())
        gauges = f"loss {-min(net, Decimal(0)):.0f}/300 USD · size {gross}/5"
        rows.append(AccountRow(account_id, name, net, positions or "flat", gauges,
                               "LOCKED" if list(state.lockouts) else "active"))
    return rows
