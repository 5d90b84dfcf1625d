"""Test helpers: gateway-shaped event builders (by field name, so a field added to an event cannot
shift a value into the wrong place) and an engine driven by an explicit (fake) clock.

    h = EngineHarness(DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=-500)))
    h.apply(trade(1, MNQ, "21000", pnl="-300"))          # at h.now
    h.tick(seconds=30)                                   # advance the clock, firing timers on time
    assert kinds(h.apply(quote(MNQ, 20990))) == [("RULE-003", "flatten"), ...]

``apply`` and ``tick`` fire due timers at their own due times (as a replay does) and record every
action with its time in ``h.log``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from risk_manager.domain.actions import Action
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractTable
from risk_manager.domain.events import (
    AccountEvent,
    ConnectionEvent,
    Event,
    OrderEvent,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionEvent,
    PositionType,
    QuoteEvent,
    TradeEvent,
)
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.engine.view import AccountView
from risk_manager.rules.api import Rule

# Monday 2 March 2026, 08:30 in Chicago (CST, UTC-6): a normal RTH open.
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
MNQ = "CON.F.US.MNQ.H26"  # tick 0.25, $0.50 per tick, $2 per point
NQ = "CON.F.US.ENQ.H26"  # $20 per point
ES = "CON.F.US.EP.H26"  # tick 0.25, $12.50 per tick, $50 per point
CL = "CON.F.US.CLE.H26"  # tick 0.01, $10 per tick, $1000 per point
RTY = "CON.F.US.RTY.H26"
ACCOUNT = 7


def D(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def pos(contract: str, size: int, avg: Any, account: int = ACCOUNT, pid: int = 1) -> PositionEvent:
    """A position snapshot with a SIGNED size (negative = short), as the gateway would send it."""
    kind = PositionType.LONG if size > 0 else PositionType.SHORT if size < 0 else PositionType.UNDEFINED
    return PositionEvent(
        position_id=pid,
        account_id=account,
        contract_id=contract,
        type=int(kind),
        size=abs(size),
        average_price=D(avg),
    )


def flat(contract: str, account: int = ACCOUNT, pid: int = 1) -> PositionEvent:
    return PositionEvent(
        position_id=pid,
        account_id=account,
        contract_id=contract,
        type=int(PositionType.LONG),
        size=0,
        average_price=Decimal(0),
    )


def trade(
    trade_id: int,
    contract: str,
    price: Any,
    pnl: Any = None,
    fees: Any = "0",
    side: int = OrderSide.BUY,
    size: int = 1,
    order_id: int | None = None,
    account: int = ACCOUNT,
    created: datetime | None = None,
    voided: bool = False,
    commissions: Any = "0",
) -> TradeEvent:
    return TradeEvent(
        trade_id=trade_id,
        account_id=account,
        contract_id=contract,
        price=D(price),
        pnl=None if pnl is None else D(pnl),
        fees=D(fees),
        side=int(side),
        size=size,
        voided=voided,
        order_id=trade_id if order_id is None else order_id,
        created=created,
        commissions=D(commissions),
    )


def quote(
    contract: str, last: float | None = None, bid: float | None = None, ask: float | None = None
) -> QuoteEvent:
    return QuoteEvent(contract_id=contract, last=last, bid=bid, ask=ask)


def order(
    order_id: int,
    contract: str,
    type: int = OrderType.STOP,
    side: int = OrderSide.SELL,
    size: int = 1,
    status: int = OrderStatus.OPEN,
    stop_price: Any = None,
    limit_price: Any = None,
    account: int = ACCOUNT,
) -> OrderEvent:
    return OrderEvent(
        order_id=order_id,
        account_id=account,
        contract_id=contract,
        status=int(status),
        type=int(type),
        side=int(side),
        size=size,
        limit_price=None if limit_price is None else D(limit_price),
        stop_price=None if stop_price is None else D(stop_price),
    )


def account_event(
    can_trade: bool | None = True, account: int = ACCOUNT, balance: Any = "50000"
) -> AccountEvent:
    return AccountEvent(
        account_id=account,
        name=f"ACC-{account}",
        balance=D(balance),
        can_trade=can_trade,
        is_visible=True,
        simulated=True,
    )


def connection(state: str) -> ConnectionEvent:
    return ConnectionEvent(state=state)


def kinds(actions: Iterable[Action]) -> list[tuple[str, str]]:
    """(rule, action kind) of each action, for compact assertions."""
    return [(a.rule, a.kind) for a in actions]


class EngineHarness:
    """An Engine with uniform rules for every account and a clock the test moves explicitly."""

    def __init__(
        self,
        *rules: Rule[Any],
        warn_at: Iterable[Any] = (),
        calendar: TradingCalendar | None = None,
        contracts: ContractTable | None = None,
        start: datetime = T0,
        fast_path: bool = True,
    ) -> None:
        policy = Policy.uniform(list(rules), tuple(D(w) for w in warn_at))
        self.engine = Engine(
            policy, calendar or TradingCalendar(), contracts or ContractTable(), fast_path=fast_path
        )
        self.now = start
        self.log: list[tuple[datetime, Action]] = []

    def _run_timers(self, until: datetime) -> list[Action]:
        out: list[Action] = []
        while (due := self.engine.next_deadline()) is not None and due <= until:
            fired = self.engine.advance(due)
            self.log.extend((due, a) for a in fired)
            out.extend(fired)
        return out

    def apply(self, *events: Event, at: datetime | None = None) -> list[Action]:
        """Apply events at ``at`` (default: the current time), timers due before them first."""
        if at is not None:
            self.now = at
        out = self._run_timers(self.now)
        for event in events:
            actions = self.engine.apply(event, self.now)
            self.log.extend((self.now, a) for a in actions)
            out.extend(actions)
        return out

    def tick(
        self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, to: datetime | None = None
    ) -> list[Action]:
        """Move the clock forward and fire every timer due on the way, at its own time."""
        target = to if to is not None else self.now + timedelta(seconds=seconds, minutes=minutes, hours=hours)
        out = self._run_timers(target)
        self.now = target
        out.extend(self.engine.advance(target))
        return out

    @property
    def state(self) -> Any:
        return self.engine.accounts[ACCOUNT]

    def view(self, account: int = ACCOUNT) -> AccountView:
        """The account as its rules see it now (no event), for calling a rule directly."""
        e = self.engine
        rules = e.policy.rules_for(account)
        warn_at = rules.warn_at if rules is not None else ()
        return AccountView(e.accounts[account], self.now, None, e.quotes, e.contracts, e.calendar, warn_at)
