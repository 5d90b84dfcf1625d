"""RULE-006 trade_frequency_limit: too many executions per minute, hour or session locks the account."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from risk_manager.domain.actions import Action
from risk_manager.domain.events import TradeEvent
from risk_manager.domain.status import RuleGauge
from risk_manager.domain.values import UNTIL_RESET, UNTIL_SESSION_START, Duration, DurationField
from risk_manager.rules.api import AccountView, Rule, RuleConfig
from risk_manager.rules.base import due_count_warning, hard_lockout, warning_alert

WINDOWS = ("per_minute", "per_hour", "per_session")
_SPANS = {"per_minute": timedelta(seconds=60), "per_hour": timedelta(seconds=3600)}


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{value!r} is not a positive whole number of executions: use e.g. 3")
    return value


ExecutionCount = Annotated[int, BeforeValidator(_count)]


class Cooldowns(BaseModel):
    """How long the account stays locked after each window is exceeded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_minute: DurationField = Duration(seconds=60)
    per_hour: DurationField = Duration(seconds=1800)
    per_session: DurationField = Duration(until=UNTIL_RESET)


class TradeFrequencyLimitConfig(RuleConfig):
    per_minute: ExecutionCount = 3
    per_hour: ExecutionCount = 10
    per_session: ExecutionCount = 50
    cooldowns: Cooldowns = Cooldowns()
    close_positions: bool = False

    @model_validator(mode="after")
    def _windows_nest(self) -> TradeFrequencyLimitConfig:
        if not self.per_minute <= self.per_hour <= self.per_session:
            raise ValueError(
                f"per_minute ({self.per_minute}) <= per_hour ({self.per_hour}) <= per_session "
                f"({self.per_session}) must hold: a longer window contains the shorter ones, so raise "
                "per_hour/per_session or lower per_minute/per_hour"
            )
        return self


def cooldown_end(view: AccountView, cooldown: Duration) -> datetime:
    """When a lockout of ``cooldown`` started now ends (shared with RULE-007)."""
    if cooldown.until == UNTIL_RESET:
        return view.next_reset
    if cooldown.until == UNTIL_SESSION_START:
        return view.calendar.next_session_start(None, view.now)
    assert cooldown.delta is not None
    return view.now + cooldown.delta


class TradeFrequencyLimit(Rule[TradeFrequencyLimitConfig]):
    """RULE-006: lock the account for a cooldown (and cancel its orders) when the executions counted
    per distinct order exceed the per-minute, per-hour or per-session limit."""

    id = "RULE-006"
    key = "trade_frequency_limit"
    config_model = TradeFrequencyLimitConfig
    triggers = frozenset({TradeEvent})

    def _counts(self, view: AccountView) -> dict[str, int]:
        return {
            "per_minute": view.executions_in_last(_SPANS["per_minute"]),
            "per_hour": view.executions_in_last(_SPANS["per_hour"]),
            "per_session": view.executions_today,
        }

    def evaluate(self, view: AccountView) -> list[Action]:
        cfg = self.config
        counts = self._counts(view)
        for window in WINDOWS:
            count, limit = counts[window], getattr(cfg, window)
            subject = f"window:{window}"
            # First window exceeded wins; one already enforced lets a longer window still act.
            if count <= limit or view.breached(self.id, subject):
                continue
            cooldown: Duration = getattr(cfg.cooldowns, window)
            until = cooldown_end(view, cooldown)
            active = view.lockout_of(self.id)
            if active is not None and (active.until is None or active.until >= until):
                continue  # the cooldown in force already lasts as long; the lockout gate holds
            label = {
                "per_minute": "in the last 60 s",
                "per_hour": "in the last hour",
                "per_session": "this trading day",
            }[window]
            why = f"{count} executions {label} > {window} {limit}: locked for {cooldown}"
            inputs = (
                ("window", window),
                ("count", str(count)),
                ("limit", str(limit)),
                ("cooldown", str(cooldown)),
            )
            return hard_lockout(view, self.id, why, inputs, subject, until=until, flatten=cfg.close_positions)
        return self._warnings(view, counts["per_session"])

    def gauge(self, view: AccountView) -> RuleGauge:
        """The window closest to its limit (the shorter window among equals)."""
        counts = self._counts(view)
        window = max(WINDOWS, key=lambda w: (Decimal(counts[w]) / getattr(self.config, w), -WINDOWS.index(w)))
        count, limit = counts[window], getattr(self.config, window)
        return RuleGauge.of(
            self.id,
            self.key,
            Decimal(count),
            Decimal(limit),
            "trades",
            breached=count > limit,
            subject=window,
        )

    def _warnings(self, view: AccountView, count: int) -> list[Action]:
        """At most one alert per warn_at fraction of per_session per trading day, as ``count`` reaches it."""
        limit = self.config.per_session
        fraction = due_count_warning(view, self.id, "window:per_session", count, limit)
        if fraction is None:
            return []
        message = f"{count} executions today reached {int(fraction * 100)}% of per_session {limit}"
        inputs = (("count", str(count)), ("limit", str(limit)))
        return [warning_alert(view, self.id, "window:per_session", fraction, message, inputs)]

    def describe(self) -> str:
        cfg, cd = self.config, self.config.cooldowns
        then = "flatten, cancel orders, lock" if cfg.close_positions else "cancel orders, lock"
        return (
            f"{self.id} trade_frequency_limit: > {cfg.per_minute}/min (lock {cd.per_minute}), "
            f"> {cfg.per_hour}/hour (lock {cd.per_hour}), > {cfg.per_session}/session "
            f"(lock {cd.per_session}) -> {then}"
        )
