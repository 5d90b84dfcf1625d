"""Quote-feed health: which contracts with open positions have had no quote for too long.

While a contract's quotes are silent past ``stale_quote_seconds`` and a monitored position holds it,
the daemon alerts once (level warning) and values the position from REST (the last bar's close)
every ``stale_quote_seconds`` until quotes return. Time is an argument (monotonic seconds).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["FeedHealth"]


class FeedHealth:
    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self._last: dict[str, float] = {}  # contract -> last quote (or start of watching)
        self._valued: dict[str, float] = {}  # stale contract -> last REST valuation
        self.stale: set[str] = set()

    def quote(self, contract_id: str, now: float) -> bool:
        """A quote arrived; True when the contract was stale (quotes are back)."""
        self._last[contract_id] = now
        if contract_id in self.stale:
            self.stale.discard(contract_id)
            self._valued.pop(contract_id, None)
            return True
        return False

    def check(self, open_contracts: Iterable[str], now: float) -> tuple[list[str], list[str]]:
        """(newly stale, due for a REST valuation) among ``open_contracts``."""
        newly: list[str] = []
        due: list[str] = []
        held = set(open_contracts)
        for contract_id in held:
            last = self._last.setdefault(contract_id, now)  # watching starts now
            if now - last < self.stale_after:
                continue
            if contract_id not in self.stale:
                self.stale.add(contract_id)
                newly.append(contract_id)
            if now - self._valued.get(contract_id, -1e18) >= self.stale_after:
                self._valued[contract_id] = now
                due.append(contract_id)
        for contract_id in self.stale - held:  # no position any more: nothing to watch
            self.stale.discard(contract_id)
            self._valued.pop(contract_id, None)
        return sorted(newly), sorted(due)
