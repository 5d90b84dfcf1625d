"""A crossing memo that is not asked while it rarely answers.

A rule's crossing memo (``CrossingMemo``) answers the copies of a copied trade: they cross the same
band at the same quote with the same figures. Asking costs more than the lookup: the key is built
from the figures (a position's, or every position's of an account), hashed to look it up, and
hashed again to store the answer. On a busy day of independent traders no two crossings share
their figures (the entries differ), and the memo answers almost never: that work is repeated for
nothing on every crossing. So the memo counts its answers over a window of questions and, when
fewer than one in ``_RARE`` was answered, rests (is not asked) for the next ``_REST`` crossings,
then is asked again. Its answers are pure functions of their keys, so asking or not changes no
decision: only the cost. A copy trader's memo answers nearly every question and never rests.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

from risk_manager.rules.base import CrossingMemo

V = TypeVar("V")

_WINDOW = 256  # questions counted before deciding whether to rest
_RARE = 16  # rest when fewer than 1 in _RARE questions of the window were answered
_REST = 4096  # crossings not asked while resting


class GatedMemo(CrossingMemo[V]):
    """``CrossingMemo`` whose callers ask ``asking()`` before building a key."""

    __slots__ = ("_answered", "_asked", "_resting")

    def __init__(self, kept: int = 4096) -> None:
        super().__init__(kept)
        self._asked = 0
        self._answered = 0
        self._resting = 0

    def asking(self) -> bool:
        """Whether this crossing should build its key and ask (False while the memo rests)."""
        if self._resting:
            self._resting -= 1
            return False
        return True

    def get(self, key: Hashable) -> V | None:
        """``CrossingMemo.get``, counting the answers (its lookup written out here: a copy trader's
        memo is asked on every crossing, and a second call per question would cost more than the
        counting)."""
        if key == self._last_key:
            found = self._last
        else:
            found = self._answers.get(key)
            if found is not None:
                self._last_key, self._last = key, found
        self._asked += 1
        if found is not None:
            self._answered += 1
        if self._asked == _WINDOW:
            if self._answered * _RARE < _WINDOW:
                self._resting = _REST
            self._asked = self._answered = 0
        return found
