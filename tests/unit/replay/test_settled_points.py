"""The settled points of RULES.md, replayed from small recordings through the whole path.

Recordings and config are in tests/data/replay/settled/ (hand-made, small enough to check by eye).
The config is the usual CME set-up: session 18:00-17:00 CT (Sunday-Thursday starts), daily reset
17:00 CT; RULE-003 at -500 (realized + unrealized, no fees), RULE-006 at 3 per minute with
``close_positions: false``, RULE-009. All on Monday 2 March 2026 (CST, UTC-6).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from risk_manager.config.loader import load_config
from risk_manager.domain.actions import Action
from risk_manager.domain.events import ClockEvent, Event, PositionEvent
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy, RuleSet
from risk_manager.replay.reader import read_recording
from risk_manager.replay.runner import replay
from risk_manager.rules.api import AccountView, Rule, RuleConfig

SETTLED = Path(__file__).resolve().parents[2] / "data" / "replay" / "settled"
CONFIG = load_config(SETTLED / "config")
MNQ = "CON.F.US.MNQ.H26"


def run(name: str, policy: Policy | None = None) -> list[dict[str, Any]]:
    engine = Engine(policy or CONFIG.policy(), CONFIG.calendar(), CONFIG.contracts())
    return [action.record(t) for t, action in replay(read_recording(SETTLED / name), engine)]


def brief(records: list[dict[str, Any]]) -> list[tuple[str, int, str, str]]:
    """(time of day, account, rule, action) of each decision."""
    return [(r["t"][11:23], r["account"], r["rule"], r["action"]) for r in records]


def test_a_position_held_at_the_session_end_that_is_also_the_reset_is_flattened_and_locked() -> None:
    records = run("session-end.jsonl")
    assert brief(records) == [
        ("23:00:00.000", 7, "RULE-009", "flatten"),
        ("23:00:00.000", 7, "RULE-009", "cancel_orders"),
        ("23:00:00.000", 7, "RULE-009", "lockout"),
        ("23:00:00.000", 7, "RESET", "alert"),
    ]
    assert records[2]["until"] == "2026-03-03T00:00:00.000Z"  # the next session start, 18:00 CT


def test_an_execution_exactly_60_seconds_old_is_outside_the_minute_window() -> None:
    # orders at :00, :20, :40 and 14:31:00 do not lock; one more at 14:31:00.5 makes 4 in the window
    assert brief(run("windows.jsonl")) == [
        ("14:31:00.500", 7, "RULE-006", "cancel_orders"),
        ("14:31:00.500", 7, "RULE-006", "lockout"),
    ]


def test_the_fill_that_trips_the_frequency_limit_keeps_its_position_and_a_later_one_does_not() -> None:
    records = run("kept-fill.jsonl")
    assert brief(records) == [
        ("14:40:30.000", 7, "RULE-006", "cancel_orders"),
        ("14:40:30.000", 7, "RULE-006", "lockout"),
        # 14:40:30.001: the fourth order's own position update (+4) stays
        ("14:40:40.001", 7, "LOCKOUT", "close_position"),  # the fifth order's (+5) is closed
    ]


def test_a_voided_loss_leaves_the_day_and_a_void_does_not_end_the_lockout() -> None:
    records = run("void.jsonl")
    # without the void of trade 901 the day would be -550 at 15:03; the lock comes at 15:04 (-550)
    # and the void of 904 at 15:05 does not end it
    assert brief(records) == [
        ("15:04:00.000", 7, "RULE-003", "flatten"),
        ("15:04:00.000", 7, "RULE-003", "cancel_orders"),
        ("15:04:00.000", 7, "RULE-003", "lockout"),
    ]
    assert "-550.00" in records[0]["reason"]


def test_an_unknown_contract_and_undefined_enum_values_each_get_one_warning() -> None:
    records = run("unknown.jsonl")
    assert brief(records) == [
        ("16:00:00.000", 7, "INPUT", "alert"),
        ("16:00:01.000", 7, "INPUT", "alert"),
        ("16:00:02.000", 7, "INPUT", "alert"),
    ]
    assert [r["level"] for r in records] == ["warning"] * 3
    unknown, position_type, order_status = (r["message"] for r in records)
    assert "CON.F.US.ZZZ.H26" in unknown and "instruments:" in unknown
    assert "field type = 0" in position_type
    assert "field status = 0" in order_status


class RaisingWakeup(Rule[RuleConfig]):
    """A rule whose next_wakeup raises: the account's every refresh (the reset's too) fails."""

    id: ClassVar[str] = "RULE-950"
    key: ClassVar[str] = "raising_wakeup"
    config_model = RuleConfig
    triggers: ClassVar[frozenset[type[Event]]] = frozenset({PositionEvent, ClockEvent})

    def evaluate(self, view: AccountView) -> list[Action]:
        return []

    def next_wakeup(self, view: AccountView) -> datetime | None:
        raise RuntimeError("injected fault in next_wakeup")

    def describe(self) -> str:
        return "test rule"


def test_a_rule_that_raises_for_one_account_changes_nothing_for_the_other() -> None:
    configured = CONFIG.policy()

    def rules_for(account: int) -> RuleSet | None:
        rule_set = configured.rules_for(account)
        if account != 7 or rule_set is None:
            return rule_set
        return RuleSet((RaisingWakeup(RuleConfig(enabled=True)), *rule_set.rules), rule_set.warn_at)

    healthy = run("fail-closed.jsonl")
    broken = run("fail-closed.jsonl", Policy(rules_for))
    assert [r for r in broken if r["account"] == 8] == [r for r in healthy if r["account"] == 8]
    assert ("21:00:00.000", 7, "ENGINE", "alert") in brief(broken)
    assert ("21:00:00.000", 7, "ENGINE", "lockout") in brief(broken)
    assert ("23:00:00.000", 7, "RESET", "alert") in brief(broken)  # its day still starts over
    alert = next(r for r in broken if r["rule"] == "ENGINE" and r["action"] == "alert")
    assert "injected fault in next_wakeup" in alert["message"]
