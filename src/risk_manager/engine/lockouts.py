"""The lockout book of one account: several lockouts at once, none ever shortened."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from risk_manager.domain.lockouts import Lockout


class LockoutBook:
    """Active lockouts of one account, keyed by (rule, scope, symbol)."""

    __slots__ = ("_active",)

    def __init__(self) -> None:
        self._active: dict[tuple[str, str, str | None], Lockout] = {}

    def __iter__(self) -> Iterator[Lockout]:
        return iter(list(self._active.values()))

    def __len__(self) -> int:
        return len(self._active)

    def __bool__(self) -> bool:
        return bool(self._active)

    def add(self, lockout: Lockout) -> Lockout:
        """Add a lockout; an active one of the same key is replaced only by one that lasts longer.

        Returns the lockout in force for that key afterwards.
        """
        current = self._active.get(lockout.key)
        if current is not None and not _lasts_longer(lockout, current):
            return current
        self._active[lockout.key] = lockout
        return lockout

    def remove(self, key: tuple[str, str, str | None]) -> Lockout | None:
        return self._active.pop(key, None)

    def get(self, key: tuple[str, str, str | None]) -> Lockout | None:
        return self._active.get(key)

    def covering(self, root: str | None) -> Lockout | None:
        """The lockout that forbids trading ``root`` and ends last, or None."""
        best: Lockout | None = None
        for lockout in self._active.values():
            if lockout.covers(root) and (best is None or _lasts_longer(lockout, best)):
                best = lockout
        return best

    def expired(self, now: datetime) -> list[Lockout]:
        return [lo for lo in self._active.values() if lo.until is not None and lo.until <= now]

    def with_condition(self, condition: str) -> list[Lockout]:
        return [lo for lo in self._active.values() if lo.condition == condition]


def _lasts_longer(a: Lockout, b: Lockout) -> bool:
    """True when ``a`` ends strictly after ``b``; a condition lockout outlasts any timed one."""
    if a.until is None:
        return b.until is not None
    if b.until is None:
        return False
    return a.until > b.until
