"""Helpers shared by the limit rules: lockout decisions, warning alerts, quiet bands from P&L.

The ``Rule`` base and what a rule may read live in ``rules/api.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from risk_manager.domain.actions import Action, Alert, CancelOrders, Flatten, Inputs, LockAccount
from risk_manager.domain.money import money
from risk_manager.rules.api import AccountView, Band, PositionView

V = TypeVar("V")
_NO_KEY = object()  # equal to no key


class CrossingMemo(Generic[V]):
    """A rule's answers to crossings by the figures they follow from (a hashable key), at most
    ``kept`` of them before starting afresh: the copies of a copied trade cross the same band at
    the same quote with the same figures, and only the account differs.

    They ask one after the other, so the last answer is checked first, by equality: looking the
    key up hashes it, and the hash of a Decimal made afresh (a sum, a difference) costs more than
    all the rest of a lookup. Equal keys find the same answer either way."""

    __slots__ = ("_answers", "_kept", "_last", "_last_key")

    def __init__(self, kept: int = 4096) -> None:
        self._answers: dict[Hashable, V] = {}
        self._kept = kept
        self._last_key: object = _NO_KEY
        self._last: V | None = None

    def get(self, key: Hashable) -> V | None:
        if key == self._last_key:
            return self._last
        found = self._answers.get(key)
        if found is not None:
            self._last_key, self._last = key, found
        return found

    def put(self, key: Hashable, answer: V) -> None:
        if len(self._answers) >= self._kept:
            self._answers.clear()
        self._answers[key] = answer
        self._last_key, self._last = key, answer


# ---- helpers shared by the limit rules ----------------------------------------------------------


def hard_lockout(
    view: AccountView,
    rule: str,
    reason: str,
    inputs: Inputs,
    subject: str,
    *,
    until: datetime | None = None,
    condition: str | None = None,
    flatten: bool = True,
) -> list[Action]:
    """An account-lockout decision: flatten (hard lockouts, or cooldowns set to close positions),
    cancel every order, lock the account."""
    aid = view.account_id
    closing: list[Action] = [
        Flatten(account_id=aid, rule=rule, reason=reason, inputs=inputs, subject=subject)
    ]
    return [
        *(closing if flatten else []),
        CancelOrders(account_id=aid, rule=rule, reason=reason, inputs=inputs, subject=subject),
        LockAccount(
            account_id=aid,
            rule=rule,
            reason=reason,
            inputs=inputs,
            subject=subject,
            scope="account",
            until=until,
            condition=condition,
        ),
    ]


# warn_at tuple -> breach subject -> its warning levels (see warn_levels). Keyed by the tuple's id,
# with the tuple kept in the entry so that the id cannot be reused while the entry lives.
_LEVELS: dict[int, tuple[tuple[Decimal, ...], dict[str, tuple[tuple[Decimal, str], ...]]]] = {}
_MAX_LEVELS = 4096  # subjects kept per warn_at tuple (and tuples kept) before starting afresh


def warn_levels(warn_at: tuple[Decimal, ...], subject: str) -> tuple[tuple[Decimal, str], ...]:
    """The warning fractions, lowest first, each with the breach subject of its alert,
    ``<subject>:warn:<fraction>``.

    Asked for every position by several rules on every event, and formatting a Decimal is slow:
    made once per warn_at tuple and subject. By the tuple's identity, not its value: 0.5 and 0.50
    are equal but give different subjects."""
    entry = _LEVELS.get(id(warn_at))
    if entry is None or entry[0] is not warn_at or len(entry[1]) >= _MAX_LEVELS:
        if len(_LEVELS) >= _MAX_LEVELS:
            _LEVELS.clear()
        entry = _LEVELS[id(warn_at)] = (warn_at, {})
    levels = entry[1].get(subject)
    if levels is None:
        levels = entry[1][subject] = tuple((f, f"{subject}:warn:{f}") for f in sorted(warn_at))
    return levels


def passed_warning(view: AccountView, rule: str, subject: str) -> Decimal:
    """The highest warning fraction of ``subject`` announced today (0 when none): it and every
    lower one count as passed."""
    passed = Decimal(0)
    for fraction, marker in warn_levels(view.warn_at, subject):
        if view.breached(rule, marker):
            passed = fraction
    return passed


def passed_after(view: AccountView, rule: str, subject: str, actions: Sequence[Action]) -> Decimal:
    """``passed_warning`` as it will be once ``actions`` are committed: a warning alert among them
    (this rule's, for ``subject``) announces its fraction."""
    passed = passed_warning(view, rule, subject)
    if not actions:
        return passed  # the usual crossing: nothing announced
    for fraction, marker in warn_levels(view.warn_at, subject):
        if fraction > passed and any(a.rule == rule and a.subject == marker for a in actions):
            passed = fraction
    return passed


CountLevels = tuple[tuple[Decimal, str, int], ...]  # (fraction, marker subject, least count)
# (warn_levels tuple, limit) -> count_levels of them. Equal levels give the same answer: their marker
# subjects are equal, so are their fractions, written alike.
_COUNT_LEVELS: dict[tuple[tuple[tuple[Decimal, str], ...], int], CountLevels] = {}


def count_levels(warn_at: tuple[Decimal, ...], subject: str, limit: int) -> CountLevels:
    """``warn_levels`` of a whole count against ``limit``, highest fraction first, each with the
    least count that reaches it: ``count >= limit x fraction`` exactly when ``count`` is at least
    the ceiling of the product. Made once per levels and limit: the count rules ask on every
    position event and execution, and the products are Decimals."""
    levels = warn_levels(warn_at, subject)
    found = _COUNT_LEVELS.get((levels, limit))
    if found is None:
        if len(_COUNT_LEVELS) >= _MAX_LEVELS:
            _COUNT_LEVELS.clear()
        found = _COUNT_LEVELS[(levels, limit)] = tuple(
            (f, marker, math.ceil(limit * f)) for f, marker in reversed(levels)
        )
    return found


def due_count_warning(view: AccountView, rule: str, subject: str, count: int, limit: int) -> Decimal | None:
    """``due_warning`` of a whole ``count`` against ``limit`` (reached: ``count >= limit x
    fraction``), from the least counts of ``count_levels``: walking down from the highest fraction,
    an announced one means every one below it is passed (None), and the first reached one is due."""
    levels = count_levels(view.warn_at, subject, limit)
    if not levels or count < levels[-1][2]:
        return None  # the usual case: not even the lowest fraction is reached
    breached = view.breached
    for fraction, marker, least in levels:
        if breached(rule, marker):
            return None
        if count >= least:
            return fraction
    return None  # pragma: no cover - not reached: the last level, the lowest, is reached


def due_warning(
    view: AccountView, rule: str, subject: str, reached: Callable[[Decimal], bool]
) -> Decimal | None:
    """The warning fraction to announce now: the highest one ``reached`` that has not been passed.

    A fraction counts as passed once it or a higher one was announced today, so a jump across
    several thresholds gives one alert (for the highest), not a burst, and none is repeated.

    ``reached`` must be monotone: a fraction is reached only when every lower one is (each
    threshold is the limit times the fraction, beyond which the value must go).
    """
    levels = warn_levels(view.warn_at, subject)
    if not levels or (levels[0][0] > 0 and not reached(levels[0][0])):
        # The usual case, asked on most events: the lowest positive fraction is not reached, so
        # none is (monotone), and nothing is due whatever was announced.
        return None
    due: Decimal | None = None
    for fraction, marker in levels:
        if view.breached(rule, marker):
            due = None  # announced: it and everything below it are passed
        elif reached(fraction):
            due = fraction
    return due


def warning_alert(
    view: AccountView, rule: str, subject: str, fraction: Decimal, message: str, inputs: Inputs
) -> Alert:
    return Alert(
        account_id=view.account_id,
        rule=rule,
        level="warning",
        message=message,
        reason=message,
        subject=f"{subject}:warn:{fraction}",
        inputs=(*inputs, ("fraction", str(fraction))),
    )


def warning_alerts(
    view: AccountView,
    rule: str,
    subject: str,
    value: Decimal,
    limit: Decimal,
    label: str,
) -> list[Alert]:
    """At most one alert per configured fraction of ``limit`` per day, as ``value`` reaches it.

    Works for loss limits (negative: reached when value <= fraction * limit) and targets (positive:
    value >= fraction * limit). ``subject`` is the breach subject the warning belongs to.
    """
    warn_at = view.warn_at
    if not warn_at:
        return []
    # due_warning's usual answer, without its call: the lowest fraction not reached (see there)
    low = min(warn_at)
    if low > 0 and (value > limit * low if limit < 0 else value < limit * low):
        return []
    fraction = due_warning(
        view, rule, subject, lambda f: value <= limit * f if limit < 0 else value >= limit * f
    )
    if fraction is None:
        return []
    of = "limit" if limit < 0 else "target"
    message = f"{label} {money(value)} reached {int(fraction * 100)}% of {of} {money(limit)}"
    return [
        warning_alert(
            view, rule, subject, fraction, message, (("value", money(value)), ("limit", money(limit)))
        )
    ]


def next_threshold(
    view: AccountView,
    rule: str,
    subject: str,
    value: Decimal,
    limit: Decimal,
    passed: Decimal | None = None,
) -> Decimal:
    """The nearest level ahead of ``value`` that would produce a decision: the limit itself or an
    unfired warning threshold. Used to compute quiet bands. ``passed``: the highest warning
    fraction announced, when the caller knows it better than the markers (one it is announcing)."""
    if passed is None:
        passed = passed_warning(view, rule, subject)
    levels = [limit] + [limit * f for f in view.warn_at if f > passed]
    if limit < 0:
        ahead = [lv for lv in levels if lv < value]
        return max(ahead) if ahead else limit
    ahead = [lv for lv in levels if lv > value]
    return min(ahead) if ahead else limit


def band_for_pnl(
    position: PositionView,
    pnl_now: Decimal,
    pnl_low: Decimal | None,
    pnl_high: Decimal | None,
    mark_now: Decimal,
) -> Band:
    """Translate a quiet range of one position's P&L (pnl_low, pnl_high) into a mark-price band."""
    if position.spec is None or position.open_size == 0:
        return (None, None)
    per_point = position.open_size * position.spec.point_value  # signed: P&L change per point of price
    lo: Decimal | None = None
    hi: Decimal | None = None
    for pnl_edge in (pnl_low, pnl_high):
        if pnl_edge is None:
            continue
        price = mark_now + (pnl_edge - pnl_now) / per_point
        if (pnl_edge < pnl_now) == (per_point > 0):
            lo = price if lo is None else max(lo, price)
        else:
            hi = price if hi is None else min(hi, price)
    return (lo, hi)
