"""RULE-008 no_stop_loss_grace: a position left without a protective stop past the grace period is closed.

What "open for the grace period" means: the engine sets ``PositionView.opened_at`` when a position
opens or reverses; adding to it (growth) keeps that time. So adding contracts to a position that has
had no stop for longer than the grace does not buy it more time; but growth re-arms the breach
(subject ``pos:<contract>``), so a grown position is checked again at once — if the enforcer found a
stop over REST the first time and left the position alone, it looks again for the added size.
A stop removed after the grace has run out is acted on at the next order event for the same reason.
The close carries ``verify_no_stop``: the daemon's enforcer searches the orders over REST before
closing, because a stop placed from another platform may send no event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

from risk_manager.domain.actions import Action, ClosePosition
from risk_manager.domain.events import ClockEvent, OrderEvent, PositionEvent
from risk_manager.rules.api import AccountView, PositionView, Rule, RuleConfig

MAX_GRACE_SECONDS = 86_400


def _grace_seconds(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_GRACE_SECONDS:
        return value
    raise ValueError(
        f"{value!r} is not a grace period: use a whole number of seconds from 1 to {MAX_GRACE_SECONDS}, "
        "e.g. 10"
    )


class NoStopLossGraceConfig(RuleConfig):
    # Seconds a position may stay without a protective stop (YAML `10`, not `10s`, `0` or `2.5`).
    grace_period_seconds: Annotated[int, BeforeValidator(_grace_seconds)] = 10


class NoStopLossGrace(Rule[NoStopLossGraceConfig]):
    """RULE-008: close a position that has been open ``grace_period_seconds`` without a working stop
    (Stop or TrailingStop, same contract, closing side), after the enforcer re-checks over REST."""

    id = "RULE-008"
    key = "no_stop_loss_grace"
    config_model = NoStopLossGraceConfig
    triggers = frozenset({ClockEvent, PositionEvent, OrderEvent})

    def __init__(self, config: NoStopLossGraceConfig) -> None:
        super().__init__(config)
        self._grace = timedelta(seconds=config.grace_period_seconds)  # the config is frozen
        self._listed = (self.id, "unprotected")  # the key of the list in the view's memo

    @property
    def grace(self) -> timedelta:
        return self._grace

    def _unprotected(self, view: AccountView) -> list[PositionView]:
        """Open positions without a known stop whose breach is not already decided.

        Asked by evaluate and again by next_wakeup right after it (same view, unless a decision
        was recorded in between, which empties the memo): listed once. The memo entry keeps the
        positions mapping it was made from, so a view listing other positions is not answered
        from it."""
        positions = view.positions
        listed, unprotected = view.memo(self._listed, lambda: self._list(view, positions))
        if listed is not positions:
            return self._list(view, positions)[1]
        return unprotected

    def _list(
        self, view: AccountView, positions: Mapping[str, PositionView]
    ) -> tuple[Mapping[str, PositionView], list[PositionView]]:
        return positions, [
            p
            for p in positions.values()
            if p.size != 0
            and view.protective_stop(p) is None
            and not view.breached(self.id, f"pos:{p.contract_id}")
        ]

    def evaluate(self, view: AccountView) -> list[Action]:
        actions: list[Action] = []
        for position in self._unprotected(view):
            deadline = position.opened_at + self._grace
            if view.now < deadline:
                continue
            age = int((view.now - position.opened_at).total_seconds())
            why = (
                f"position {position.size:+d} {position.contract_id} open {age}s without a protective "
                f"stop >= grace {self.config.grace_period_seconds}s"
            )
            actions.append(
                ClosePosition(
                    account_id=view.account_id,
                    rule=self.id,
                    contract_id=position.contract_id,
                    size=None,
                    verify_no_stop=True,
                    reason=why,
                    subject=f"pos:{position.contract_id}",
                    inputs=(
                        ("contract", position.contract_id),
                        ("size", str(position.size)),
                        ("opened_at", position.opened_at.isoformat()),
                        ("open_seconds", str(age)),
                        ("grace_seconds", str(self.config.grace_period_seconds)),
                    ),
                )
            )
        return actions

    def next_wakeup(self, view: AccountView) -> datetime | None:
        unprotected = self._unprotected(view)
        if not unprotected:
            return None
        return min(p.opened_at for p in unprotected) + self._grace

    def describe(self) -> str:
        return (
            f"{self.id} no_stop_loss_grace: close a position without a protective stop after "
            f"{self.config.grace_period_seconds}s (re-checked over REST first)"
        )
