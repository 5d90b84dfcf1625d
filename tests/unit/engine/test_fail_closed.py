"""Fail closed at every entry of the engine: one boundary per account.

Whatever the engine does for one account — an event, a quote, a timer, its part of the daily reset,
an admin clear, a config reload — a rule that raises there locks that account (rule ENGINE, with an
alert saying why) and nothing else: no entry point raises, and every other account gets every reset
and decision it would have had.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.domain.actions import Action, Alert, LockAccount
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.events import ClockEvent, Event, PositionEvent, QuoteEvent, TradeEvent
from risk_manager.engine.engine import CONDITION_EVALUATION_ERROR, ENGINE_RULE, Engine
from risk_manager.engine.policy import Policy, RuleSet
from risk_manager.rules.api import AccountView, Band, Rule, RuleConfig
from risk_manager.rules.api import PositionView as Position
from risk_manager.rules.cooldown_after_loss import CooldownAfterLoss, CooldownAfterLossConfig
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig
from risk_manager.rules.no_stop_loss_grace import NoStopLossGrace, NoStopLossGraceConfig
from risk_manager.rules.trade_frequency_limit import TradeFrequencyLimit, TradeFrequencyLimitConfig

from engine_helpers import ES, MNQ, kinds, pos, quote, trade

FAULTY = 1  # the account with the faulty rule
OTHERS = (2, 3)
START = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 15:30 CT: the 17:00 CT reset is 90 minutes away
PRICES = {MNQ: 21000.0, ES: 5000.0}


class Faulty(Rule[RuleConfig]):
    """A quote-sensitive timer rule that raises on the calls numbered in ``plan``."""

    id: ClassVar[str] = "RULE-950"
    key: ClassVar[str] = "faulty"
    config_model = RuleConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset(
        {TradeEvent, PositionEvent, QuoteEvent, ClockEvent}
    )

    def __init__(self, plan: frozenset[int] = frozenset(), where: frozenset[str] = frozenset()) -> None:
        super().__init__(RuleConfig(enabled=True))
        self.plan = plan
        self.where = where
        self.calls = 0
        self.raised: list[str] = []

    @property
    def quote_sensitive(self) -> bool:
        return True

    def _maybe_raise(self, method: str) -> None:
        self.calls += 1
        if method in self.where and self.calls in self.plan:
            self.raised.append(method)
            raise RuntimeError(f"injected fault in {method} (call {self.calls})")

    def evaluate(self, view: AccountView) -> list[Action]:
        self._maybe_raise("evaluate")
        return []

    def price_band(self, view: AccountView, position: Position) -> Band | None:
        self._maybe_raise("price_band")
        mark = view.mark(position)
        return None if mark is None else (mark - 1, mark + 1)  # narrow: most quotes re-evaluate

    def next_wakeup(self, view: AccountView) -> datetime | None:
        self._maybe_raise("next_wakeup")
        return view.now + timedelta(seconds=45) if view.positions else None

    def describe(self) -> str:
        return "test rule that raises when told to"


def normal_rules() -> tuple[Rule[Any], ...]:
    return (
        DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=Decimal(-300))),
        TradeFrequencyLimit(TradeFrequencyLimitConfig(enabled=True, per_minute=2)),
        CooldownAfterLoss(CooldownAfterLossConfig(enabled=True)),
        NoStopLossGrace(NoStopLossGraceConfig(enabled=True, grace_period_seconds=30)),
    )


def policy(faulty: Faulty) -> Policy:
    base = normal_rules()
    with_faulty = RuleSet((faulty, *base), ())
    plain = RuleSet(base, ())
    return Policy(lambda account: with_faulty if account == FAULTY else plain)


# ---- unit: each entry point ----------------------------------------------------------------------------


def engine_with(faulty: Faulty) -> Engine:
    return Engine(policy(faulty), TradingCalendar())


def locked_by_engine(engine: Engine, account: int) -> bool:
    lockout = engine.accounts[account].lockouts.covering(None)
    return (
        lockout is not None
        and lockout.rule == ENGINE_RULE
        and lockout.condition == CONDITION_EVALUATION_ERROR
    )


def test_a_rule_raising_in_next_wakeup_during_the_reset_locks_only_its_account() -> None:
    faulty = Faulty()
    engine = engine_with(faulty)
    for account in (FAULTY, *OTHERS):
        engine.apply(pos(MNQ, 1, 21000, account=account), START)
    engine.apply(trade(1, MNQ, 21000, pnl="-50", account=2), START)
    faulty.where, faulty.plan = frozenset({"next_wakeup"}), frozenset(range(faulty.calls + 1, 10_000))
    reset = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    actions = engine.advance(reset)  # does not raise
    resets = sorted(a.account_id for a in actions if a.rule == "RESET")
    assert resets == [FAULTY, *OTHERS]  # every account gets the reset, the faulty one included
    assert engine.accounts[2].day.realized == 0
    assert locked_by_engine(engine, FAULTY)
    assert not any(locked_by_engine(engine, a) for a in OTHERS)
    [alert] = [a for a in actions if isinstance(a, Alert) and a.rule == ENGINE_RULE]
    assert "injected fault in next_wakeup" in alert.message


def test_clear_lockout_does_not_raise_and_locks_again_while_the_rule_still_fails() -> None:
    faulty = Faulty(where=frozenset({"price_band"}))
    engine = engine_with(faulty)
    engine.apply(pos(MNQ, 1, 21000, account=FAULTY), START)
    engine.apply(quote(MNQ, 21000.0), START)
    faulty.plan = frozenset(range(faulty.calls + 1, 10_000))  # from now on, price_band raises
    engine.apply(quote(MNQ, 21010.0), START)  # leaves the band: re-evaluated
    assert locked_by_engine(engine, FAULTY)
    actions = engine.clear_lockout(FAULTY, START, by="admin", why="looked at it")
    assert kinds(actions)[0] == (ENGINE_RULE, "unlock")
    assert (ENGINE_RULE, "lockout") in kinds(actions)  # the refresh after the clear failed again
    assert locked_by_engine(engine, FAULTY)


def test_a_config_reload_whose_rule_raises_locks_that_account_and_reloads_the_others() -> None:
    faulty = Faulty(where=frozenset({"next_wakeup"}))
    engine = engine_with(faulty)
    for account in (FAULTY, *OTHERS):
        engine.apply(pos(MNQ, 1, 21000, account=account), START)
    faulty.plan = frozenset(range(faulty.calls + 1, 10_000))
    actions = engine.update_policy(policy(faulty), START)  # does not raise
    assert {a.account_id for a in actions} == {FAULTY}
    assert locked_by_engine(engine, FAULTY)


# ---- property: a faulty rule at random moments harms only its own account ------------------------------

accounts = st.sampled_from([FAULTY, *OTHERS])
contracts = st.sampled_from([MNQ, ES])


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[float, str, tuple[Any, ...]]]:
    """(seconds after the previous step, operation, its arguments)."""
    out: list[tuple[float, str, tuple[Any, ...]]] = []
    trade_id = 0
    for _ in range(draw(st.integers(5, 40))):
        gap = draw(st.sampled_from([0, 1, 15, 40, 300, 1200]))
        kind = draw(st.sampled_from(["trade", "position", "quote", "quote", "clear", "reload", "wait"]))
        if kind == "trade":
            trade_id += 1
            pnl = draw(st.sampled_from([None, "-40", "-150", "25"]))
            args: tuple[Any, ...] = (trade_id, draw(accounts), draw(contracts), pnl, draw(st.integers(0, 1)))
        elif kind == "position":
            args = (draw(accounts), draw(contracts), draw(st.integers(-3, 3)))
        elif kind == "quote":
            args = (draw(contracts), draw(st.integers(-80, 80)))
        elif kind == "clear":
            args = (draw(accounts),)
        else:
            args = ()
        out.append((gap, kind, args))
    return out


def run(
    faulty: Faulty, plan: list[tuple[float, str, tuple[Any, ...]]]
) -> tuple[Engine, list[tuple[datetime, Action]]]:
    engine = engine_with(faulty)
    log: list[tuple[datetime, Action]] = []
    now = START

    def timers_until(t: datetime) -> None:
        while (due := engine.next_deadline()) is not None and due <= t:
            log.extend((due, a) for a in engine.advance(due))

    for gap, kind, args in plan:
        now += timedelta(seconds=gap)
        timers_until(now)
        if kind == "trade":
            trade_id, account, contract, pnl, side = args
            out = engine.apply(
                trade(trade_id, contract, PRICES[contract], pnl=pnl, side=side, account=account), now
            )
        elif kind == "position":
            account, contract, size = args
            out = engine.apply(pos(contract, size, PRICES[contract], account=account), now)
        elif kind == "quote":
            contract, ticks = args
            out = engine.apply(quote(contract, PRICES[contract] + ticks * 0.25), now)
        elif kind == "clear":
            out = engine.clear_lockout(args[0], now, by="admin", why="test")
        elif kind == "reload":
            out = engine.update_policy(policy(faulty), now)
        else:
            out = engine.advance(now)
        log.extend((now, a) for a in out)
    timers_until(now + timedelta(days=1, hours=1))  # at least one daily reset on the way
    return engine, log


@settings(max_examples=60, deadline=None)
@given(
    plan=steps(),
    faults=st.frozensets(st.integers(1, 120), max_size=6),
    where=st.frozensets(st.sampled_from(["evaluate", "price_band", "next_wakeup"]), min_size=1),
)
def test_a_rule_raising_at_random_moments_locks_its_account_and_no_other(
    plan: list[tuple[float, str, tuple[Any, ...]]], faults: frozenset[int], where: frozenset[str]
) -> None:
    _, healthy_log = run(Faulty(), plan)
    faulty = Faulty(faults, where)
    broken, broken_log = run(faulty, plan)

    def of_others(log: list[tuple[datetime, Action]]) -> list[tuple[datetime, Action]]:
        return [(t, a) for t, a in log if a.account_id in OTHERS]

    assert of_others(broken_log) == of_others(healthy_log)
    if faulty.raised:
        alerts = [a for _, a in broken_log if a.account_id == FAULTY and a.rule == ENGINE_RULE]
        assert any(isinstance(a, Alert) and "injected fault" in a.message for a in alerts)
        assert any(isinstance(a, LockAccount) and a.condition == CONDITION_EVALUATION_ERROR for a in alerts)
        # locked now, or cleared by an admin after the last failure
        last_fail = max(
            i for i, (_, a) in enumerate(broken_log) if isinstance(a, LockAccount) and a.rule == ENGINE_RULE
        )
        cleared = any(
            a.kind == "unlock" and a.rule == ENGINE_RULE and a.account_id == FAULTY
            for _, a in broken_log[last_fail:]
        )
        assert locked_by_engine(broken, FAULTY) != cleared
    else:
        assert broken_log == healthy_log
