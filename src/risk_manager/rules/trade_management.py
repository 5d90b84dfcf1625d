"""RULE-012 trade_management: breakeven and trailing stops, moved for the trader, only ever tightened.

Profit is measured on ``PositionView.best_price`` (the most favourable last price since entry, kept by the
engine; the latest last price is taken into account too), so a level once reached stays reached even
if the price has come back by the time the rule looks. Stop prices go onto the tick grid in the
protective direction (up for a long's stop, down for a short's): rounding never loosens a stop.

A new stop must beat both the working stop's price and the last stop this rule requested
(``view.stop_requested``): a request whose order has not shown up yet is never repeated, and a stop
the trader tightened by hand is never loosened. When no stop is working the rule places one, but
only if it has not requested one already for this position — a placement whose order event is still
on its way must not become a second stop (two stops could close the position twice). A working stop
whose price is unknown is left alone: the rule cannot prove the new one is tighter.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from risk_manager.domain.actions import Action, Inputs, ModifyStop, PlaceStop
from risk_manager.domain.events import OrderEvent, OrderSide, PositionEvent, QuoteEvent
from risk_manager.domain.money import written_alike
from risk_manager.domain.records import fast_builder, fast_copier
from risk_manager.domain.values import TrueFalseOnly
from risk_manager.rules.api import (
    BAND_ORDERS,
    BAND_STOPS,
    QUOTE_PRICES,
    AccountView,
    Band,
    Inclusive,
    PositionView,
    Rule,
    RuleConfig,
)
from risk_manager.rules.base import CrossingMemo
from risk_manager.rules.memo_gate import GatedMemo


def _ticks(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError(f"{value!r} is not a tick count: use a positive whole number of ticks, e.g. 10")


def _offset(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"{value!r} is not a tick offset: use a whole number of ticks, 0 or more, e.g. 1")


TickCount = Annotated[int, BeforeValidator(_ticks)]
TickOffset = Annotated[int, BeforeValidator(_offset)]


class BreakevenConfig(TrueFalseOnly, BaseModel):
    """Once profit reaches ``trigger_ticks``, move the stop to entry + ``offset_ticks``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    trigger_ticks: TickCount = 10
    offset_ticks: TickOffset = 1

    @model_validator(mode="after")
    def _offset_below_trigger(self) -> BreakevenConfig:
        if self.enabled and self.offset_ticks >= self.trigger_ticks:
            raise ValueError(
                f"offset_ticks ({self.offset_ticks}) must be below trigger_ticks ({self.trigger_ticks}): "
                "the stop must stay behind the price that moved it; lower offset_ticks or raise trigger_ticks"
            )
        return self


class TrailingConfig(TrueFalseOnly, BaseModel):
    """Once profit reaches ``activation_ticks``, keep the stop ``distance_ticks`` behind the best price."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    activation_ticks: TickCount = 20
    distance_ticks: TickCount = 10


class TradeManagementConfig(RuleConfig):
    breakeven: BreakevenConfig = BreakevenConfig()
    trailing: TrailingConfig = TrailingConfig()

    @model_validator(mode="after")
    def _consistent(self) -> TradeManagementConfig:
        be, tr = self.breakeven, self.trailing
        if be.enabled and tr.enabled and tr.activation_ticks < be.trigger_ticks:
            raise ValueError(
                f"trailing.activation_ticks ({tr.activation_ticks}) must be >= breakeven.trigger_ticks "
                f"({be.trigger_ticks}): trailing starts after breakeven; raise activation_ticks or lower "
                "trigger_ticks"
            )
        if self.enabled and not be.enabled and not tr.enabled:
            raise ValueError(
                "trade_management is enabled but breakeven and trailing are both disabled: enable one "
                "of them, or set trade_management.enabled: false"
            )
        return self


# A stop to move to, with the reason and the inputs of the decision (a plain tuple: one is made per
# stop moved, and a NamedTuple's constructor costs as much as the rest of the bookkeeping).
_Move = tuple[Decimal, str, Inputs]


# The same stop move for another account's stop order (see decide_position).
_moved = fast_copier(ModifyStop, ("account_id", "order_id"))
# The stops placed and moved, built as records.py's stand-ins: a third of the cost of the classes'
# own __init__, and this rule makes a decision at nearly every crossing of its band.
_new_place_stop = fast_builder(PlaceStop)
_new_modify_stop = fast_builder(ModifyStop)

# Crossings remembered per rule (see decide_position) before the memo starts afresh.
_CROSSINGS_KEPT = 4096
_STEPS_KEPT = 256  # tick sizes whose steps are remembered (see TradeManagement._steps)


class _Steps(NamedTuple):
    """The rule's tick counts on one tick size, signed for the position's side (see _steps)."""

    offset: Decimal  # breakeven stop: entry + offset
    trigger: Decimal  # breakeven trigger price: entry + trigger
    activation: Decimal  # trailing activation price: entry + activation
    distance: Decimal  # trailing stop: best - distance
    trigger_ticks: Decimal
    activation_ticks: Decimal


# The figures a crossing follows from: entry, tick size, best price, the stop to beat (entry None:
# a trailing step, which does not depend on it).
_Figures = tuple[Decimal | None, Decimal, Decimal | None, Decimal | None]


class _TrailingStep(NamedTuple):
    """What a crossing in the trailing regime follows from without the position's entry (see
    TradeManagement._trailing): shared by every position of a contract on one side whose best price
    and stop to beat are the same, whatever their entries."""

    figures: _Figures  # (None, tick size, best price, stop to beat): as written
    trailing: Decimal  # best - distance, before rounding: compared with each position's breakeven
    target: Decimal | None  # the trailing stop on the tick grid; None when it does not beat the stop
    band: Band | None  # the band once the decision is committed (one object: floated once)
    best: str  # the figures as the reason writes them
    stop: str
    was: str


def _written_alike(these: _Figures, those: _Figures) -> bool:
    """Equal figures (they are one memo key) also written alike: 2.5 and 2.50 are equal, but a
    reason shows each as written. Same exponent and sign, with the value equal, is the same text.
    (Unrolled: asked on every remembered crossing. Equal keys make a None pair of Nones.)"""
    entry, tick, best, stop = these
    entry2, tick2, best2, stop2 = those
    return (
        (entry is entry2 or written_alike(entry, entry2))  # type: ignore[arg-type]
        and (tick is tick2 or written_alike(tick, tick2))
        and (best is best2 or written_alike(best, best2))  # type: ignore[arg-type]
        and (stop is stop2 or written_alike(stop, stop2))  # type: ignore[arg-type]
    )


def _best(view: AccountView, position: PositionView) -> Decimal | None:
    """Most favourable price since entry, including the latest last price. (Module functions, as
    _previous_stop: asked on every crossing, and a static method's lookup costs as much as its
    comparisons.)"""
    best, mark = position.best_price, view.mark(position, "last")
    if best is None or mark is None:
        return mark if best is None else best
    # on a tie the recorded best price (written out: the builtin max costs twice the comparison)
    if position.size > 0:
        return mark if mark > best else best
    return mark if mark < best else best


def _previous_stop(
    view: AccountView, position: PositionView
) -> tuple[bool, Decimal | None, OrderEvent | None]:
    """(blocked, the stop a new one must beat or None when there is none yet, the working
    protective stop). Blocked: the rule does nothing whatever the price — its own stop has not
    shown up yet (never place a second), or the working stop's price is unknown (a new one cannot
    be proven tighter)."""
    existing = view.protective_stop(position)
    requested = view.stop_requested(position.contract_id)
    if existing is None:
        return requested is not None, None, None
    working = existing.stop_price
    if working is None:
        return True, None, existing
    if requested is None:
        return False, working, existing
    # on a tie the requested price
    if position.size > 0:
        return False, working if working > requested else requested, existing
    return False, working if working < requested else requested, existing


def _described(
    position: PositionView, gain: Decimal, part: str, target: Decimal, best: str, stop: str, was: str
) -> _Move:
    """The move to ``target`` with its reason and inputs (the best price, the new stop and the stop
    to beat as already written: each figure is formatted once, for the reason and the inputs alike;
    a stop moves often)."""
    average = position.average_price
    known = _ENTRY_TEXT.get(average)
    if known is not None and known[0] is average:  # the same object: an equal one may be written apart
        entry = known[1]
    else:
        entry = str(average)
        if len(_ENTRY_TEXT) >= _TICKS_KEPT:
            _ENTRY_TEXT.clear()
        _ENTRY_TEXT[average] = (average, entry)
    ticks = _TICKS_TEXT.get(gain)
    if ticks is None:
        ticks = f"{gain.normalize():f}"
        if len(_TICKS_TEXT) >= _TICKS_KEPT:
            _TICKS_TEXT.clear()
        _TICKS_TEXT[gain] = ticks
    why = (
        f"{position.contract_id} {position.size:+d}: best {best} is {ticks} ticks from entry "
        f"{entry}: {part} stop {stop} (was {was})"
    )
    inputs = (
        ("entry", entry),
        ("best", best),
        ("profit_ticks", ticks),
        ("stop", stop),
        ("previous_stop", was),
        ("part", part),
    )
    return target, why, inputs


# _described's profit texts by profit (a pure function's memo: the normalized text depends on the
# value alone, never on how it is written; profits here are past a trigger, never zero, so -0 and 0
# never meet). Formatting a Decimal costs several times the lookup, and on a busy day the positions
# trailing a contract pass through the same whole numbers of ticks.
_TICKS_TEXT: dict[Decimal, str] = {}
_TICKS_KEPT = 4096
# _described's entry texts, by the entry price object (a position's entry is one object for its
# life, and its stop moves many times; its hash is kept by the object, a text would be made afresh).
_ENTRY_TEXT: dict[Decimal, tuple[Decimal, str]] = {}


class TradeManagement(Rule[TradeManagementConfig]):
    """RULE-012: move each position's stop to breakeven + offset once in profit by the trigger, then trail
    it behind the best price once past the activation; stops only tighten, never loosen."""

    id = "RULE-012"
    key = "trade_management"
    config_model = TradeManagementConfig
    triggers = frozenset({QuoteEvent, PositionEvent, OrderEvent})

    def __init__(self, config: TradeManagementConfig) -> None:
        super().__init__(config)
        # not asked while it rarely answers (a busy day of independent traders: see GatedMemo)
        self._crossings: GatedMemo[tuple[_Figures, Action | None, Band | None]] = GatedMemo(_CROSSINGS_KEPT)
        self._steps_by: dict[tuple[int, int], tuple[Decimal, _Steps]] = {}
        self._trailing_steps: CrossingMemo[_TrailingStep] = CrossingMemo(_CROSSINGS_KEPT)

    @property
    def quote_sensitive(self) -> bool:
        return True

    def evaluate(self, view: AccountView) -> list[Action]:
        actions: list[Action] = []
        for position in view.positions.values():
            action = self._manage(view, position)
            if action is not None:
                actions.append(action)
        return actions

    def _steps(self, tick: Decimal, sign: int) -> _Steps:
        """The rule's tick counts as signed price distances on this tick size (``sign * ticks *
        tick``, computed as each decision used to), and the triggers as Decimals. Remembered by the
        tick size object itself (``_gain`` looks them up): 0.25 and 0.250 are equal but give
        distances written differently, and a contract's spec is one object."""
        be, tr = self.config.breakeven, self.config.trailing
        steps = _Steps(
            sign * be.offset_ticks * tick,
            sign * be.trigger_ticks * tick,
            sign * tr.activation_ticks * tick,
            sign * tr.distance_ticks * tick,
            Decimal(be.trigger_ticks),
            Decimal(tr.activation_ticks),
        )
        if len(self._steps_by) >= _STEPS_KEPT:
            self._steps_by.clear()
        self._steps_by[(id(tick), sign)] = (tick, steps)
        return steps

    def _target(
        self, position: PositionView, best: Decimal, gain: Decimal, steps: _Steps
    ) -> tuple[Decimal, str] | None:
        """(stop price on the tick grid, which part set it), or None when none applies; ``gain`` is
        the profit in ticks at ``best``."""
        assert position.spec is not None
        tick, entry, long = position.spec.tick_size, position.average_price, position.size > 0
        be, tr = self.config.breakeven, self.config.trailing
        price: Decimal | None = None
        part = ""
        if be.enabled and gain >= steps.trigger_ticks:
            price, part = entry + steps.offset, "breakeven"
        if tr.enabled and gain >= steps.activation_ticks:
            trailing = best - steps.distance
            # the tighter of the two; on a tie, "trailing" for a long and "breakeven" for a short
            # (the order max and min of (price, part) pairs gave)
            if price is None or (trailing >= price if long else trailing < price):
                price, part = trailing, "trailing"
        if price is None:
            return None
        rounding = ROUND_CEILING if long else ROUND_FLOOR
        return (price / tick).to_integral_value(rounding) * tick, part

    def _manage(self, view: AccountView, position: PositionView) -> Action | None:
        if position.spec is None or position.size == 0:
            return None
        best = _best(view, position)
        if best is None:
            return None
        blocked, previous, existing = _previous_stop(view, position)
        if blocked:
            return None
        gain, steps = self._gain(position, best)
        assert gain is not None  # a best price gives a profit
        move = self._move(position, best, previous, gain, steps)
        return None if move is None else self._action(view, position, move, existing)

    def _gain(self, position: PositionView, best: Decimal | None) -> tuple[Decimal | None, _Steps]:
        """The profit in ticks at ``best`` (None without a best price), and the rule's steps on the
        position's tick size (``_steps``, looked up here: asked at every crossing)."""
        assert position.spec is not None
        tick = position.spec.tick_size
        sign = 1 if position.size > 0 else -1
        gain = None if best is None else (best - position.average_price) * sign / tick
        found = self._steps_by.get((id(tick), sign))
        if found is not None and found[0] is tick:
            return gain, found[1]
        return gain, self._steps(tick, sign)

    def _move(
        self, position: PositionView, best: Decimal, previous: Decimal | None, gain: Decimal, steps: _Steps
    ) -> _Move | None:
        """The stop to move to now (with its reason and inputs), given the best price and the stop a
        new one must beat; None when no stop beats it."""
        found = self._target(position, best, gain, steps)
        if found is None:
            return None
        target, part = found
        if previous is not None and (target <= previous if position.size > 0 else target >= previous):
            return None
        was = "none" if previous is None else str(previous)
        return _described(position, gain, part, target, str(best), str(target), was)

    def _action(
        self, view: AccountView, position: PositionView, move: _Move, existing: OrderEvent | None
    ) -> Action:
        """Place the stop when none is working, else move the working one."""
        stop, reason, inputs = move
        if existing is None:
            long = position.size > 0
            return _new_place_stop(
                account_id=view.account_id,
                rule=self.id,
                contract_id=position.contract_id,
                stop_price=stop,
                side=int(OrderSide.SELL if long else OrderSide.BUY),
                size=position.abs_size,
                reason=reason,
                inputs=inputs,
            )
        return _new_modify_stop(
            account_id=view.account_id,
            rule=self.id,
            contract_id=position.contract_id,
            order_id=existing.order_id,
            stop_price=stop,
            reason=reason,
            inputs=inputs,
        )

    @property
    def bands_per_position(self) -> bool:
        return True

    @property
    def band_reads(self) -> frozenset[str]:
        return frozenset({BAND_ORDERS, BAND_STOPS})  # its protective stop, and the stop it requested

    @property
    def band_prices(self) -> frozenset[str]:
        return QUOTE_PRICES["last"]  # profit is measured on last prices only

    def price_band(self, view: AccountView, position: PositionView) -> Band | None:
        """Only a new best price can move the stop: the band's edge on the profit side is the next
        price that would (a trigger not reached yet, or, once trailing, the best price at which the
        trailing stop first beats the current one — not every new best, most of which move nothing)."""
        if position.spec is None or position.size == 0:
            return (None, None)
        blocked, previous, _ = _previous_stop(view, position)
        if blocked:
            return (None, None)  # waiting for its own stop, or unable to compare: no quote decides
        return self._band(position, previous, *self._gain(position, _best(view, position)))

    def decide_position(
        self, view: AccountView, position: PositionView
    ) -> tuple[list[Action], Band | None] | None:
        """``evaluate`` on this position and its band once the decision is committed, from one
        reading of the best price and the stops (the crossing of a trailing edge, the usual
        wake-up on a busy day). Committed, a placed stop blocks the rule until its order shows up;
        a moved stop becomes the stop the next one must beat (it beat the working one).

        What follows from the figures alone (the decision but for its account and stop order, the
        band) is remembered by those figures: the copies of a copied trade cross the same edge at
        the same quote with the same entry, best price and stop, and only the account and the
        order differ."""
        spec = position.spec
        if spec is None or position.size == 0:
            return [], (None, None)
        blocked, previous, existing = _previous_stop(view, position)
        if blocked:
            return [], (None, None)
        best = _best(view, position)
        memo = self._crossings
        key: tuple[object, ...] = ()
        figures: _Figures | None = None
        if memo.asking():
            figures = (position.average_price, spec.tick_size, best, previous)
            key = (position.contract_id, position.size, existing is None, *figures)
            crossing = memo.get(key)
            if crossing is not None and _written_alike(crossing[0], figures):
                _, decided, band = crossing
                if decided is None:
                    return [], band
                # the decision made for the first copy, for this account (and its stop order)
                if existing is None:
                    return [decided.for_account(view.account_id)], band
                return [_moved(decided, view.account_id, existing.order_id)], band
        move, band = self._crossing(position, best, previous, existing is None)
        decided = None if move is None else self._action(view, position, move, existing)
        if figures is not None:
            memo.put(key, (figures, decided, band))
        return ([] if decided is None else [decided]), band

    def _crossing(
        self, position: PositionView, best: Decimal | None, previous: Decimal | None, placing: bool
    ) -> tuple[_Move | None, Band | None]:
        gain, steps = self._gain(position, best)
        if best is None or gain is None:
            return None, self._band(position, previous, None, steps)
        trailing = self._trailing(position, best, previous, gain, steps, placing)
        if trailing is not None:
            return trailing
        move = self._move(position, best, previous, gain, steps)
        if move is None:
            return None, self._band(position, previous, gain, steps)
        if placing:
            return move, (None, None)  # a stop requested, none working: blocked until it shows up
        return move, self._band(position, move[0], gain, steps)

    def _trailing(
        self,
        position: PositionView,
        best: Decimal,
        previous: Decimal | None,
        gain: Decimal,
        steps: _Steps,
        placing: bool,
    ) -> tuple[_Move | None, Band | None] | None:
        """``_crossing`` in the trailing regime (trailing on, profit past its activation, and the
        trailing stop tighter than breakeven): None when the position is not in it.

        There the stop to move to (best - distance on the grid) and the band after it (the trailing
        edge: breakeven's trigger is behind, as activation >= trigger) follow from the best price and
        the stop to beat alone. On a busy day the positions of a contract trail the same new best
        price with the same stop to beat but each from its own entry, so the crossing memo (which
        the entry and the reason key) misses; this step is remembered without the entry, and only
        the profit and the reason are worked out per position."""
        if not self.config.trailing.enabled or gain < steps.activation_ticks:
            return None
        long = position.size > 0
        assert position.spec is not None
        tick = position.spec.tick_size
        figures = (None, tick, best, previous)
        key = (long, placing, *figures)
        step = self._trailing_steps.get(key)
        if step is None or not _written_alike(step.figures, figures):
            step = self._trailing_step(position, figures, gain, steps, placing)
            self._trailing_steps.put(key, step)
        if self.config.breakeven.enabled:
            # _target's choice: trailing on a tie for a long, breakeven on a tie for a short
            breakeven = position.average_price + steps.offset
            if not (step.trailing >= breakeven if long else step.trailing < breakeven):
                return None
        if step.target is None:
            return None, step.band
        return _described(position, gain, "trailing", step.target, step.best, step.stop, step.was), step.band

    def _trailing_step(
        self, position: PositionView, figures: _Figures, gain: Decimal, steps: _Steps, placing: bool
    ) -> _TrailingStep:
        """The trailing step of ``_trailing`` for ``figures`` (None, tick size, best price, stop to
        beat), worked out as ``_target`` and ``_band`` do (neither reads the entry in that regime)."""
        _, tick, best, previous = figures
        assert best is not None
        long = position.size > 0
        trailing = best - steps.distance
        rounding = ROUND_CEILING if long else ROUND_FLOOR
        target: Decimal | None = (trailing / tick).to_integral_value(rounding) * tick
        assert target is not None
        was = "none" if previous is None else str(previous)
        stop = str(target)
        if previous is not None and (target <= previous if long else target >= previous):
            target, band = None, self._band(position, previous, gain, steps)
        elif placing:
            band = (None, None)  # a stop requested, none working: blocked until it shows up
        else:
            band = self._band(position, target, gain, steps)
        return _TrailingStep(figures, trailing, target, band, str(best), stop, was)

    def _band(
        self, position: PositionView, previous: Decimal | None, gain: Decimal | None, steps: _Steps
    ) -> Band | None:
        """``price_band`` once the stop to beat (``previous``) and the profit in ticks at the best
        price (``gain``, None without a best price) are known."""
        assert position.spec is not None
        tick, entry, long = position.spec.tick_size, position.average_price, position.size > 0
        be, tr = self.config.breakeven, self.config.trailing
        # Triggers act at the level itself (profit >= trigger): exclusive edges.
        levels: list[Decimal] = []
        if be.enabled and (gain is None or gain < steps.trigger_ticks):
            levels.append(entry + steps.trigger)
        trailing: Decimal | None = None
        if tr.enabled:
            if gain is None or gain < steps.activation_ticks:
                levels.append(entry + steps.activation)
            elif previous is None:
                return None  # a stop is due now: no quiet band
            else:
                # The trailing target (best - distance, rounded up to the grid for a long) beats the
                # previous stop exactly when best passes the grid price at or below it + distance:
                # at that price itself the target is that grid price, no tighter than the previous
                # stop, so the edge is quiet (inclusive). On a tick-grid walk the price lands on
                # it about as often as it passes it.
                rounding = ROUND_FLOOR if long else ROUND_CEILING
                on_grid = (previous / tick).to_integral_value(rounding) * tick
                trailing = on_grid + steps.distance
        if levels:
            nearest = min(levels) if long else max(levels)
            if trailing is not None and (trailing < nearest if long else trailing > nearest):
                edge: Decimal | Inclusive = Inclusive(trailing)
            else:
                edge = nearest
        elif trailing is not None:
            edge = Inclusive(trailing)
        else:
            return (None, None)
        return (None, edge) if long else (edge, None)

    def describe(self) -> str:
        be, tr = self.config.breakeven, self.config.trailing
        parts = []
        if be.enabled:
            parts.append(f"breakeven at +{be.trigger_ticks} ticks -> entry +{be.offset_ticks} ticks")
        if tr.enabled:
            parts.append(
                f"trail {tr.distance_ticks} ticks behind the best price from +{tr.activation_ticks} ticks"
            )
        return f"{self.id} trade_management: {'; '.join(parts) or 'nothing enabled'}; stops only tighten"
