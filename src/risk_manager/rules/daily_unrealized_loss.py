"""RULE-004 daily_unrealized_loss: a stop-loss in dollars on each open position."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from risk_manager.domain.actions import Action, ClosePosition, Inputs
from risk_manager.domain.events import Event, PositionEvent, QuoteEvent
from risk_manager.domain.money import money, written_alike
from risk_manager.domain.records import fast_builder
from risk_manager.domain.status import RuleGauge
from risk_manager.domain.values import LossLimit
from risk_manager.rules.api import QUOTE_PRICES, AccountView, Band, PositionView, Rule, RuleConfig
from risk_manager.rules.base import (
    band_for_pnl,
    passed_after,
    passed_warning,
    warn_levels,
    warning_alerts,
)
from risk_manager.rules.memo_gate import GatedMemo

_CROSSINGS_KEPT = 4096  # answers remembered by DailyUnrealizedLoss.decide_position before starting afresh
# The closes, built as records.py's stand-in (a third of the cost of the class's own __init__).
_new_close = fast_builder(ClosePosition)


PriceSource = Literal["last", "mid", "exit_side"]


def position_inputs(position: PositionView, mark: Decimal, pnl: Decimal, source: str) -> Inputs:
    """The numbers behind a per-position P&L decision, for the audit trail."""
    return (
        ("contract", position.contract_id),
        ("size", str(position.size)),
        ("average_price", str(position.average_price)),
        ("mark", str(mark)),
        ("price_source", source),
        ("unrealized", money(pnl)),
    )


def worst_position(view: AccountView, source: str, lowest: bool) -> tuple[str, Decimal | None] | None:
    """The position with the lowest (or highest) unrealized P&L, by contract id among equals; one
    whose P&L is unknown is reported (P&L None) only when no position has a known one."""
    known = []
    for cid, position in sorted(view.positions.items()):
        mark = view.mark(position, source)
        pnl = None if mark is None else position.unrealized_at(mark)
        if pnl is not None:
            known.append((pnl if lowest else -pnl, cid, pnl))
    if known:
        _, cid, pnl = min(known)
        return cid, pnl
    first = min(view.positions, default=None)
    return None if first is None else (first, None)


class DailyUnrealizedLossConfig(RuleConfig):
    limit: LossLimit = Decimal(-300)
    price_source: PriceSource = "last"


class DailyUnrealizedLoss(Rule[DailyUnrealizedLossConfig]):
    """RULE-004: a position whose unrealized P&L falls to the (negative) limit is closed."""

    id = "RULE-004"
    key = "daily_unrealized_loss"
    config_model = DailyUnrealizedLossConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({PositionEvent, QuoteEvent})

    def __init__(self, config: DailyUnrealizedLossConfig) -> None:
        super().__init__(config)
        # decide_position's answers by what they follow from (the figures written as in the texts,
        # the decisions, the band)
        # (not asked while it rarely answers: a busy day of independent traders, see GatedMemo)
        self._crossings: GatedMemo[tuple[tuple[Decimal, Decimal], tuple[Action, ...], Band | None]] = (
            GatedMemo(_CROSSINGS_KEPT)
        )

    @property
    def quote_sensitive(self) -> bool:
        return True

    def evaluate(self, view: AccountView) -> list[Action]:
        source = self.config.price_source
        actions: list[Action] = []
        for contract_id, position in sorted(view.positions.items()):
            mark = view.mark(position, source)
            pnl = None if mark is None else position.unrealized_at(mark)
            if mark is None or pnl is None:
                continue  # no quote yet (or unknown tick value): unknown is not zero, decide nothing
            actions.extend(self._decide(view, position, mark, pnl, f"pos:{contract_id}"))
        return actions

    def _decide(
        self, view: AccountView, position: PositionView, mark: Decimal, pnl: Decimal, subject: str
    ) -> list[Action]:
        """Close at the limit (once per breach), and the warnings as the P&L reaches them."""
        limit = self.config.limit
        contract_id = position.contract_id
        actions: list[Action] = []
        if pnl <= limit and not view.breached(self.id, subject):
            actions.append(
                _new_close(
                    account_id=view.account_id,
                    rule=self.id,
                    reason=f"{contract_id} unrealized {money(pnl)} <= limit {money(limit)}",
                    inputs=(
                        *position_inputs(position, mark, pnl, self.config.price_source),
                        ("limit", money(limit)),
                    ),
                    subject=subject,
                    contract_id=contract_id,
                    size=None,
                )
            )
        actions.extend(warning_alerts(view, self.id, subject, pnl, limit, f"{contract_id} unrealized"))
        return actions

    def decide_position(
        self, view: AccountView, position: PositionView
    ) -> tuple[list[Action], Band | None] | None:
        """``evaluate`` on this position and its band once its decisions are committed: a close
        marks the limit as enforced, an alert its warning as announced."""
        mark = view.mark(position, self.config.price_source)
        spec = position.spec
        if mark is None or spec is None:
            return [], None  # P&L unknown (no quote yet, or unknown tick value): decide nothing
        contract_id = position.contract_id
        subject = f"pos:{contract_id}"
        # What the decisions and the band follow from, besides the account: the copies of a copied
        # trade cross this band at the same quote with the same figures and markers. (The P&L
        # follows from them too: computed only when the answer is not remembered.)
        average = position.average_price
        memo = self._crossings
        key = None
        if memo.asking():
            levels = warn_levels(view.warn_at, subject)
            rule_id, breached = self.id, view.breached
            key = (
                contract_id,
                position.size,
                position.closing,
                average,
                mark,
                spec.point_value,
                levels,
                tuple(breached(rule_id, marker) for _, marker in levels),
                breached(rule_id, subject),
            )
            crossing = memo.get(key)
            if crossing is not None:
                (average_was, mark_was), decided, band = crossing
                if (average_was is average or written_alike(average_was, average)) and (
                    mark_was is mark or written_alike(mark_was, mark)
                ):
                    account_id = view.account_id
                    return [
                        a if a.account_id == account_id else a.for_account(account_id) for a in decided
                    ], band
        pnl = position.unrealized_at(mark)
        assert pnl is not None  # a tick spec gives a P&L
        actions = self._decide(view, position, mark, pnl, subject)
        passed = passed_after(view, self.id, subject, actions)
        # a close, when one is decided, comes first (_decide)
        enforced = view.breached(self.id, subject) or (bool(actions) and type(actions[0]) is ClosePosition)
        band = self._band(view, position, mark, pnl, passed, enforced)
        if key is not None:
            memo.put(key, ((average, mark), tuple(actions), band))  # written as in the texts
        return actions, band

    def gauge(self, view: AccountView) -> RuleGauge | None:
        """The worst open position (lowest unrealized P&L); None without positions."""
        worst = worst_position(view, self.config.price_source, lowest=True)
        if worst is None:
            return None
        cid, pnl = worst
        return RuleGauge.of(self.id, self.key, pnl, self.config.limit, "USD", subject=cid)

    @property
    def bands_per_position(self) -> bool:
        return True

    @property
    def band_reads(self) -> frozenset[str]:
        return frozenset()  # the position, its quote and this rule's markers only

    @property
    def band_prices(self) -> frozenset[str]:
        return QUOTE_PRICES[self.config.price_source]

    def price_band(self, view: AccountView, position: PositionView) -> Band | None:
        mark = view.mark(position, self.config.price_source)
        pnl = None if mark is None else position.unrealized_at(mark)
        if mark is None or pnl is None:
            return None
        subject = f"pos:{position.contract_id}"
        passed = passed_warning(view, self.id, subject)
        return self._band(view, position, mark, pnl, passed, view.breached(self.id, subject))

    def _band(
        self,
        view: AccountView,
        position: PositionView,
        mark: Decimal,
        pnl: Decimal,
        passed: Decimal,
        enforced: bool,
    ) -> Band | None:
        """The band, given the highest warning announced (``passed``) and whether the limit was."""
        limit = self.config.limit
        # Levels that would still produce a decision: warnings above the highest one announced (a
        # lower one counts as passed, see due_warning), and the limit until enforced. Only a falling
        # P&L can reach them; a rising one decides nothing (markers re-arm on position events,
        # which are evaluated anyway).
        levels = [limit * f for f in view.warn_at if f > passed]
        if not enforced:
            levels.append(limit)
        if not levels:
            return (None, None)
        if any(level >= pnl for level in levels):
            return None  # a decision is due at this very price: no quiet band
        return band_for_pnl(position, pnl, max(levels), None, mark)

    def describe(self) -> str:
        return (
            f"{self.id} daily unrealized loss: close a position at unrealized <= {self.config.limit} "
            f"({self.config.price_source} price)"
        )
