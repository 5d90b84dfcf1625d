"""RULE-003 daily_realized_loss: the day's P&L at the loss limit flattens and locks until the reset."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from decimal import Decimal
from typing import Literal

from risk_manager.domain.actions import Action, Inputs
from risk_manager.domain.events import AccountEvent, PositionEvent, QuoteEvent, TradeEvent
from risk_manager.domain.money import ZERO, money
from risk_manager.domain.status import RuleGauge
from risk_manager.domain.values import LossLimit
from risk_manager.rules.api import (
    BAND_ACCOUNT,
    BAND_DAY,
    QUOTE_PRICES,
    AccountView,
    Band,
    PositionView,
    Rule,
    RuleConfig,
)
from risk_manager.rules.base import (
    hard_lockout,
    next_threshold,
    passed_after,
    warn_levels,
    warning_alerts,
)
from risk_manager.rules.memo_gate import GatedMemo

SUBJECT = "account"
_QUIET_KEPT = 4096  # answers remembered by DailyRealizedLoss.decide_account before starting afresh
# Marks come from the last trade price, as RULES.md's default price_source; the engine's fast path
# checks last, bid and ask against the band, so the band stays valid whichever moves.
SOURCE = "last"

# Where the realized part of the day's P&L comes from: the sum of the day's trades (default), or the
# account balance's change since the day began, which is the figure the firm itself uses.
PnlSource = Literal["trades", "balance"]


class DailyRealizedLossConfig(RuleConfig):
    limit: LossLimit = Decimal(-500)
    include_unrealized: bool = True
    include_fees: bool = True
    pnl_source: PnlSource = "trades"


def realized(view: AccountView, include_fees: bool, source: PnlSource = "trades") -> Decimal:
    """The day's realized P&L from ``source``; the balance falls back to the trades until the day's
    opening balance is known (no balance seen yet)."""
    if source == "balance":
        value = view.realized_day_from_balance(include_fees)
        if value is not None:
            return value
    return view.realized_day(include_fees)


def day_pnl(
    view: AccountView, include_fees: bool, include_unrealized: bool, source: PnlSource = "trades"
) -> tuple[Decimal, int]:
    """(realized day P&L [+ known unrealized], number of open positions whose P&L is unknown).

    Unknown marks (no quote yet, unknown tick spec) are left out of the sum and counted, never
    taken as zero P&L: the caller reports them so the number is not mistaken for a complete one.
    """
    # Asked by the rule's decision and again for every position's band: summed once per view.
    return view.memo(
        ("day_pnl", include_fees, include_unrealized, source),
        lambda: _day_pnl(view, include_fees, include_unrealized, source),
    )


def _day_pnl(
    view: AccountView, include_fees: bool, include_unrealized: bool, source: PnlSource
) -> tuple[Decimal, int]:
    value = realized(view, include_fees, source)
    if not include_unrealized:
        return value, 0
    total, unknown = view.unrealized_total(SOURCE)
    return value + total, unknown


def pnl_inputs(
    view: AccountView,
    value: Decimal,
    limit: Decimal,
    unknown: int,
    include_fees: bool,
    label: str = "limit",
    source: PnlSource = "trades",
) -> Inputs:
    return (
        ("day_pnl", money(value)),
        ("realized", money(realized(view, include_fees, source))),
        (label, money(limit)),
        ("unknown_positions", str(unknown)),
        ("pnl_source", source),
    )


def account_bands(
    view: AccountView, rule_id: str, value: Decimal, limit: Decimal, passed: Decimal | None = None
) -> dict[str, Band | None]:
    """``day_pnl_band`` of every listed position at once, with the highest warning announced
    given (``passed``: one being announced now counts; None: as the markers say). Each mark is
    read once, for the P&L per tick of the known positions (``_room``) and for its band alike."""
    if view.breached(rule_id, SUBJECT):
        return dict.fromkeys(view.positions, (None, None))  # already enforced today: no decision left
    bands: dict[str, Band | None] = {}
    known: list[tuple[str, PositionView, Decimal, Decimal]] = []
    per_tick = ZERO
    for contract_id, position in view.positions.items():
        spec = position.spec
        if spec is None:
            bands[contract_id] = (None, None)
            continue
        mark = view.mark(position, SOURCE)
        if mark is None:
            bands[contract_id] = None
            continue
        weighted, weight = _weighted(abs(position.open_size), spec.tick_value)
        per_tick += weighted
        known.append((contract_id, position, mark, weight))
    room = _room(view, rule_id, value, limit, per_tick, passed)
    for contract_id, position, mark, weight in known:
        bands[contract_id] = None if room is None else _band_of(position, mark, room * weight, limit)
    return bands


def _band_of(position: PositionView, mark: Decimal, room: Decimal, limit: Decimal) -> Band:
    """The band of a position whose P&L is known, given its ``room`` in ticks."""
    assert position.spec is not None
    size = position.open_size
    if size == 0:
        return (None, None)  # all of it closing: its P&L no longer moves with the price
    # ``room`` ticks against the account: down for a long towards a loss limit, up for a short; the
    # other way towards a profit target. (The position's share of the distance, room x open size x
    # tick value, over its P&L per point, open size x tick value / tick size.)
    step = room * position.spec.tick_size
    if (limit < 0) == (size > 0):
        return (mark - step, None)
    return (None, mark + step)


def _room(
    view: AccountView,
    rule_id: str,
    value: Decimal,
    limit: Decimal,
    per_tick: Decimal,
    passed: Decimal | None = None,
) -> Decimal | None:
    """The ticks a known position of weight 1 may move against the account before the next level
    (each moves its weight times that, see ``_weighted``): the distance to it over ``per_tick``, the
    sum of weight x P&L of one tick of all of them. None: no distance left, or no known position."""
    threshold = next_threshold(view, rule_id, SUBJECT, value, limit, passed)
    slack = value - threshold if limit < 0 else threshold - value
    if slack <= 0 or per_tick == 0:
        return None
    return slack / per_tick


def _weighted(size: int, tick_value: Decimal) -> tuple[Decimal, Decimal]:
    """(weight x ``per_tick``, the weight of a position whose tick moves the account by
    ``per_tick`` = ``size`` x ``tick_value``): the share of the distance to the next level it
    gets, in ticks, relative to the others.

    Quotes walk in ticks, and a walk leaves a band of d ticks about once per d^2 quotes: the total
    rate of re-evaluations, the sum of 1/t^2 over the positions' rooms t (in ticks) with the sum of
    t x per_tick fixed by the distance, is lowest with t in proportion to per_tick^(-1/3). (The same
    ticks for every position would wake a micro next to a full-size contract as often as the big
    one, for a sliver of the sum; the same dollars, the big one every few ticks.) Any positive
    weights keep the guarantee, since the shares add up to the distance: this one is a float
    rounded to 3 digits, made exact as a Decimal, remembered per size and tick value object (asked
    for every position at every band computation: a contract's spec is one object, whose Decimal
    keeps its hash, where a product made afresh would be hashed afresh)."""
    found = _WEIGHTS.get((size, tick_value))
    if found is not None and found[0] is tick_value:
        return found[1], found[2]
    per_tick = size * tick_value
    weight = ZERO if per_tick <= 0 else Decimal(f"{float(per_tick) ** (-1 / 3):.3g}")
    if len(_WEIGHTS) >= _WEIGHTS_KEPT:
        _WEIGHTS.clear()
    _WEIGHTS[(size, tick_value)] = (tick_value, per_tick * weight, weight)
    return per_tick * weight, weight


# _weighted's answers: (the tick value they were computed from, weight x per tick, weight). Keyed by
# equal figures and kept only for the same tick value object: 0.5 and 0.50 are equal but their
# products are written differently.
_WEIGHTS: dict[tuple[int, Decimal], tuple[Decimal, Decimal, Decimal]] = {}
_WEIGHTS_KEPT = 1024


def day_pnl_band(
    view: AccountView,
    rule_id: str,
    include_fees: bool,
    include_unrealized: bool,
    level: Decimal,
    position: PositionView,
    source: PnlSource = "trades",
) -> Band | None:
    """Quiet mark band of one position for a day-P&L rule (003, 013) against ``level``: unbounded
    when quotes do not enter the sum.

    The distance to the next level (the limit or an unfired warning) is split between the positions
    whose P&L is known: each may move ``room x weight`` ticks against the account (its weight, see
    ``_weighted``, from what a tick moves it: open size x tick value), where ``room`` is the distance
    over the sum of weight x tick value, so that the positions' shares add up to the distance and no
    combination of quotes inside every band can reach the level. Only the side towards the limit is
    bounded: moving away never produces a decision (warnings fire once per day). A position without
    a quote gets no band: its first quote changes the sum. The sum and the room are the same for
    every position, and the engine asks for every position in turn: all the bands are made at once
    (``account_bands``, each mark read once), once per view. A position the view does not list gets
    none (no quote is quiet for it).
    """
    if not include_unrealized:
        return (None, None)

    def every_band() -> dict[str, Band | None]:
        if view.breached(rule_id, SUBJECT):
            return dict.fromkeys(view.positions, (None, None))  # no sum to read: enforced already
        return account_bands(view, rule_id, day_pnl(view, include_fees, True, source)[0], level)

    key = ("day_pnl_band", rule_id, include_fees, level, source)  # names the sum and the level
    return view.memo(key, every_band).get(position.contract_id)


def day_pnl_reads(source: PnlSource) -> frozenset[str]:
    """What a day-P&L band (day_pnl_band) reads besides the positions, their quotes and its rule's
    markers: the day's counters, and the balance when the realized part comes from it."""
    return frozenset({BAND_DAY, BAND_ACCOUNT}) if source == "balance" else frozenset({BAND_DAY})


def pnl_basis(include_fees: bool, include_unrealized: bool, source: PnlSource = "trades") -> str:
    """What the day P&L of 003/013 is made of, for describe(): "realized minus fees and commissions
    plus unrealized", "(from the balance)" when the realized part follows the account balance."""
    return " ".join(
        [
            "realized",
            *(["(from the balance)"] if source == "balance" else []),
            *(["minus fees and commissions"] if include_fees else []),
            *(["plus unrealized"] if include_unrealized else []),
        ]
    )


class DailyRealizedLoss(Rule[DailyRealizedLossConfig]):
    """RULE-003: flatten, cancel and lock the account until the daily reset when the day's P&L
    (realized, minus fees and commissions, plus open positions' unrealized by default) reaches the
    loss limit."""

    id = "RULE-003"
    key = "daily_realized_loss"
    config_model = DailyRealizedLossConfig
    # Account events move the balance (pnl_source: balance); with trades they change nothing.
    triggers = frozenset({TradeEvent, PositionEvent, QuoteEvent, AccountEvent})

    @property
    def quote_sensitive(self) -> bool:
        return self.config.include_unrealized

    @property
    def band_reads(self) -> frozenset[str]:
        return day_pnl_reads(self.config.pnl_source)

    @property
    def band_prices(self) -> frozenset[str]:
        return QUOTE_PRICES[SOURCE]

    def evaluate(self, view: AccountView) -> list[Action]:
        cfg = self.config
        if view.breached(self.id, SUBJECT):
            # Enforced already; the lockout holds until the reset. Warnings below the limit are moot.
            return []
        value, unknown = day_pnl(view, cfg.include_fees, cfg.include_unrealized, cfg.pnl_source)
        if value > cfg.limit:
            return list(warning_alerts(view, self.id, SUBJECT, value, cfg.limit, "day P&L"))
        why = f"day P&L {money(value)} <= limit {money(cfg.limit)}"
        if unknown:
            why += f" ({unknown} open position(s) without a price not counted)"
        inputs = pnl_inputs(view, value, cfg.limit, unknown, cfg.include_fees, source=cfg.pnl_source)
        return hard_lockout(view, self.id, why, inputs, SUBJECT, until=view.next_reset)

    def decide_account(self, view: AccountView) -> tuple[list[Action], Mapping[str, Band | None]] | None:
        """``evaluate`` and every position's band once its warning (if any) is announced; None at
        the limit (the lockout changes more than this rule's bands: the engine refreshes them all)."""
        cfg = self.config
        if view.breached(self.id, SUBJECT):
            return [], dict.fromkeys(view.positions, (None, None))
        figures: Hashable = None  # no key: the memo is not asked (nor told)
        if cfg.include_unrealized and self._quiet.asking():
            figures = self._figures(view, realized(view, cfg.include_fees, cfg.pnl_source))
            quiet = self._quiet.get(figures)
            if quiet is not None:
                return [], quiet
        # summed here, not through the view's memo: the engine asks this once of a view made for it
        value, _ = _day_pnl(view, cfg.include_fees, cfg.include_unrealized, cfg.pnl_source)
        if value <= cfg.limit:
            return None
        actions: list[Action] = list(warning_alerts(view, self.id, SUBJECT, value, cfg.limit, "day P&L"))
        if not cfg.include_unrealized:
            return actions, dict.fromkeys(view.positions, (None, None))
        passed = passed_after(view, self.id, SUBJECT, actions)
        bands = account_bands(view, self.id, value, cfg.limit, passed)
        if not actions and figures is not None:
            self._quiet.put(figures, bands)
        return actions, bands

    def _figures(self, view: AccountView, realized_value: Decimal) -> Hashable:
        """Everything ``decide_account`` reads of an account, as a memo key: the day's realized P&L,
        the warnings and which are announced, and each position's contract, tick figures, size
        (still open), entry and mark. The day P&L follows from these, and, when it is above the
        limit without a warning due, so does the answer (no decision, the bands): the copies of a
        copied trade cross the account band at the same quote with the same figures. (Equal
        values written differently give equal bands: they only ever become float band edges.)"""
        rule_id, breached = self.id, view.breached
        announced = tuple(breached(rule_id, marker) for _, marker in warn_levels(view.warn_at, SUBJECT))
        held: list[tuple[object, ...]] = []
        for contract_id, position in view.positions.items():
            spec = position.spec
            if spec is None:
                held.append((contract_id,))
            else:
                held.append(
                    (
                        contract_id,
                        spec.tick_size,
                        spec.tick_value,
                        spec.point_value,
                        position.size,
                        position.closing,
                        position.average_price,
                        view.mark(position, SOURCE),
                    )
                )
        return realized_value, view.warn_at, announced, tuple(held)

    def __init__(self, config: DailyRealizedLossConfig) -> None:
        super().__init__(config)
        # decide_account's answers without a decision, by the figures they follow from (_figures);
        # not asked while it rarely answers (a busy day of independent traders: see GatedMemo)
        self._quiet: GatedMemo[Mapping[str, Band | None]] = GatedMemo(_QUIET_KEPT)

    def gauge(self, view: AccountView) -> RuleGauge:
        cfg = self.config
        value, _ = day_pnl(view, cfg.include_fees, cfg.include_unrealized, cfg.pnl_source)
        return RuleGauge.of(
            self.id,
            self.key,
            value,
            cfg.limit,
            "USD",
            breached=value <= cfg.limit or view.breached(self.id, SUBJECT),
        )

    def price_band(self, view: AccountView, position: PositionView) -> Band | None:
        cfg = self.config
        return day_pnl_band(
            view, self.id, cfg.include_fees, cfg.include_unrealized, cfg.limit, position, cfg.pnl_source
        )

    def describe(self) -> str:
        cfg = self.config
        basis = pnl_basis(cfg.include_fees, cfg.include_unrealized, cfg.pnl_source)
        return (
            f"{self.id} daily_realized_loss: day P&L ({basis}) "
            f"<= {money(cfg.limit)} "
            "-> flatten, cancel orders, lock account until the daily reset"
        )
