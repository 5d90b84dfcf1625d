"""domain/actions: a decision made again for another account."""

from __future__ import annotations

from decimal import Decimal

from risk_manager.domain.actions import Alert, ClosePosition, ModifyStop


def test_a_decision_for_another_account_differs_from_the_original_in_the_account_only() -> None:
    decisions = [
        ClosePosition(
            account_id=7, rule="RULE-004", reason="why", inputs=(("a", "1"),), subject="pos:X",
            contract_id="X",
        ),
        Alert(account_id=7, rule="RULE-004", message="m", reason="m", subject="pos:X:warn:0.5"),
        ModifyStop(account_id=7, rule="RULE-012", contract_id="X", order_id=3, stop_price=Decimal("1.25")),
    ]
    for decision in decisions:
        other = decision.for_account(8)
        assert type(other) is type(decision)
        assert other.account_id == 8
        assert repr(other) == repr(decision).replace("account_id=7", "account_id=8")
