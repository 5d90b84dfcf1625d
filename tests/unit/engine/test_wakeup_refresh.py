"""After an account event the engine asks a clock rule for its wake-up again only when the event or
its decisions changed something the wake-up reads (``Rule.wakeup_reads``); the wake-up it keeps
otherwise is the one it would have been given."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest

from risk_manager.domain.actions import Action, Alert, ClosePosition
from risk_manager.domain.events import ClockEvent, Event, OrderStatus, TradeEvent
from risk_manager.engine.policy import RuleSet
from risk_manager.rules.api import BAND_DAY, AccountView, Rule, RuleConfig
from risk_manager.rules.no_stop_loss_grace import NoStopLossGrace, NoStopLossGraceConfig
from risk_manager.rules.session_block_outside import SessionBlockOutside, SessionBlockOutsideConfig

from engine_helpers import MNQ, T0, EngineHarness, account_event, order, pos, trade

GRACE = NoStopLossGraceConfig(enabled=True, grace_period_seconds=30)


def counting_wakeups(rule: Rule[Any]) -> list[datetime]:
    """Record the time of every next_wakeup asked of ``rule`` from now on."""
    asked: list[datetime] = []
    original = rule.next_wakeup

    def counting(view: AccountView) -> datetime | None:
        asked.append(view.now)
        return original(view)

    rule.next_wakeup = counting  # type: ignore[method-assign]
    return asked


def test_a_trade_or_a_balance_update_keeps_the_grace_wakeup_without_asking_again() -> None:
    grace = NoStopLossGrace(GRACE)
    h = EngineHarness(grace)
    h.apply(pos(MNQ, 1, "21000"))
    asked = counting_wakeups(grace)
    h.apply(trade(1, MNQ, "21000"), account_event(True, balance="50000"), at=T0 + timedelta(seconds=5))
    assert asked == []
    h.tick(minutes=1)
    closes = [(t, a.contract_id) for t, a in h.log if isinstance(a, ClosePosition)]
    assert closes == [(T0 + timedelta(seconds=30), MNQ)]


def test_an_order_update_asks_the_grace_rule_again_it_reads_the_stops() -> None:
    grace = NoStopLossGrace(GRACE)
    h = EngineHarness(grace)
    h.apply(pos(MNQ, 1, "21000"), order(5, MNQ, stop_price="20990"))
    asked = counting_wakeups(grace)
    h.apply(order(5, MNQ, stop_price="20990", status=OrderStatus.CANCELLED), at=T0 + timedelta(seconds=5))
    assert asked == [T0 + timedelta(seconds=5)]
    h.tick(minutes=1)
    assert [(t, a.contract_id) for t, a in h.log if isinstance(a, ClosePosition)] == [
        (T0 + timedelta(seconds=30), MNQ)
    ]


def test_a_rule_that_does_not_declare_its_wakeup_inputs_is_asked_after_every_event() -> None:
    session = SessionBlockOutside(SessionBlockOutsideConfig(enabled=True))
    h = EngineHarness(NoStopLossGrace(GRACE), session)
    h.apply(pos(MNQ, 1, "21000"))
    asked = counting_wakeups(session)
    h.apply(trade(1, MNQ, "21000"), account_event(True, balance="50000"), at=T0 + timedelta(seconds=5))
    assert len(asked) == 2


class AlertAt(Rule[RuleConfig]):
    """Wakes at a fixed time read from nothing (a stable wake-up); alerts when woken; alerts (with
    a breach subject) on every trade."""

    id = "TEST-ALERT-AT"
    key = "alert_at"
    config_model = RuleConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({ClockEvent, TradeEvent})
    at = T0 + timedelta(seconds=20)

    def evaluate(self, view: AccountView) -> list[Action]:
        subject = None if view.event is None else f"trade:{view.now.isoformat()}"
        alert = Alert(
            account_id=view.account_id, rule=self.id, level="info", message="m", reason="r", subject=subject
        )
        return [alert]

    def next_wakeup(self, view: AccountView) -> datetime | None:
        return self.at

    @property
    def wakeup_reads(self) -> frozenset[str]:
        return frozenset({BAND_DAY})

    def describe(self) -> str:
        return self.id


class AlertAtReadingNothing(AlertAt):
    """The same, declaring it reads nothing: the day (the trades) then never re-asks it."""

    @property
    def wakeup_reads(self) -> frozenset[str]:
        return frozenset()


def alerts(fast_path: bool, rule: type[AlertAt]) -> list[tuple[datetime, str | None]]:
    h = EngineHarness(rule(RuleConfig(enabled=True)), fast_path=fast_path)
    h.apply(trade(1, MNQ, "21000"))
    h.tick(seconds=25)  # woken at 20 s: its answer (20 s) is spent
    h.apply(trade(2, MNQ, "21000"), at=T0 + timedelta(seconds=30))
    h.apply(account_event(True, balance="50000"), at=T0 + timedelta(seconds=35))
    h.tick(seconds=30)
    return [(t, a.subject) for t, a in h.log]


@pytest.mark.parametrize("rule", [AlertAt, AlertAtReadingNothing])
def test_a_wakeup_spent_when_its_rule_was_woken_is_asked_again_at_the_next_event_as_without_the_shortcut(
    rule: type[AlertAt],
) -> None:
    """A rule woken at a time it still answers has "nothing more to wait for"; the next event asks
    it again (and a time already past fires at once), whatever the event changed."""
    assert alerts(True, rule) == alerts(False, rule)
    fired = [t for t, subject in alerts(True, rule) if subject is None]
    assert fired == [T0 + timedelta(seconds=20), T0 + timedelta(seconds=30), T0 + timedelta(seconds=35)]


def test_a_rule_naming_a_wakeup_input_no_event_changes_is_refused_when_its_rule_set_is_made() -> None:
    class Misspelt(NoStopLossGrace):
        @property
        def wakeup_reads(self) -> frozenset[str]:
            return frozenset({"order"})

    with pytest.raises(ValueError, match=r"RULE-008 wakeup_reads names \['order'\]"):
        RuleSet((Misspelt(GRACE),))
