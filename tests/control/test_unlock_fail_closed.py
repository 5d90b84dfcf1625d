"""An account that failed closed (an engine error: lockout of rule ENGINE) can be unlocked by an
admin when unlock is allowed, with a reason and an audit row -- and only then."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar

from control_helpers import call, daemon_with_lockout, refused
from daemon_helpers import ACCOUNT
from sim_helpers import run

from risk_manager.daemon.app import Daemon
from risk_manager.domain.actions import Action
from risk_manager.domain.events import ClockEvent, Event, TradeEvent
from risk_manager.engine.engine import ENGINE_RULE
from risk_manager.engine.policy import Policy, RuleSet
from risk_manager.rules.api import AccountView, Rule, RuleConfig


class RaisesOnce(Rule[RuleConfig]):
    """A rule with a bug: its first wake-up computation raises (the engine must fail closed)."""

    id: ClassVar[str] = "RULE-951"
    key: ClassVar[str] = "raises_once"
    config_model = RuleConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({TradeEvent, ClockEvent})  # asked for wake-ups

    def __init__(self) -> None:
        super().__init__(RuleConfig(enabled=True))
        self.raised = False

    def evaluate(self, view: AccountView) -> list[Action]:
        return []

    def next_wakeup(self, view: AccountView) -> datetime | None:
        if not self.raised:
            self.raised = True
            raise RuntimeError("injected fault in next_wakeup")
        return None

    def describe(self) -> str:
        return "test rule that raises once"


def fail_closed(daemon: Daemon) -> None:
    """Reload the running engine with the daemon's rules plus one that raises: the account fails closed."""
    persistent = daemon.persistent
    assert persistent is not None
    base = persistent.engine.policy.rules_for(ACCOUNT)
    assert base is not None
    buggy = RuleSet((*base.rules, RaisesOnce()), base.warn_at, base.balance_tolerance)
    persistent.update_policy(Policy(lambda _account: buggy), daemon.wall())


def test_an_account_that_failed_closed_is_unlocked_by_an_allowed_admin_with_a_reason_and_an_audit_row(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path, admin={"allow_unlock": True}) as (_gw, daemon, data):
            fail_closed(daemon)
            [status] = (await call(data, "trader", "GET", "/v1/status"))["accounts"]
            assert {lk["rule"] for lk in status["lockouts"]} == {"RULE-011", ENGINE_RULE}
            assert status["trading_state"] == "halted"
            blank = await refused(data, "admin", "POST", "/v1/unlock",
                                  {"account": ACCOUNT, "reason": " ", "rule": ENGINE_RULE})
            assert blank.status == 400 and "reason" in blank.message
            answer = await call(data, "admin", "POST", "/v1/unlock",
                                {"account": ACCOUNT, "reason": "rule bug fixed", "rule": ENGINE_RULE})
            assert [u["rule"] for u in answer["unlocked"]] == [ENGINE_RULE] and answer["audit_ids"]
            engine = daemon.persistent.engine  # type: ignore[union-attr]
            assert engine.accounts[ACCOUNT].failed is None
            [after] = (await call(data, "trader", "GET", "/v1/status"))["accounts"]
            assert [lk["rule"] for lk in after["lockouts"]] == ["RULE-011"]  # only what was asked
            assert after["trading_state"] != "halted"
            daemon.persistent.flush()  # type: ignore[union-attr]
            rows = [r for r in daemon.persistent.store.audit(ACCOUNT)  # type: ignore[union-attr]
                    if r.kind == "unlock"]
            assert rows and rows[-1].rule == ENGINE_RULE and "rule bug fixed" in (rows[-1].reason or "")

    run(body, timeout=40)


def test_an_account_that_failed_closed_stays_locked_while_unlock_is_not_allowed(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path) as (_gw, daemon, data):
            fail_closed(daemon)
            exc = await refused(data, "admin", "POST", "/v1/unlock",
                                {"account": ACCOUNT, "reason": "let me trade", "rule": ENGINE_RULE})
            assert exc.status == 403 and "admin.allow_unlock" in exc.message
            engine = daemon.persistent.engine  # type: ignore[union-attr]
            assert engine.accounts[ACCOUNT].failed is not None
            assert ENGINE_RULE in {lk.rule for lk in daemon.statuses()[0].lockouts}

    run(body, timeout=40)
