"""The enforcer against a fake broker that keeps positions and orders and logs every call.

The fake behaves like the gateway where it matters here: a close removes the position, a cancel
removes the order, and scripted failures (timeouts that still executed, 429s, refusals) happen
exactly where a test puts them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from risk_manager.broker.errors import GatewayRejected, GatewayTimeout, RateLimited, ServerError
from risk_manager.broker.models import Order, Position
from risk_manager.broker.port import BrokerEvent
from risk_manager.daemon.enforcer import Enforcer, covered_closes
from risk_manager.domain.actions import (
    Alert,
    CancelOrders,
    ClosePosition,
    Flatten,
    LockAccount,
    ModifyStop,
    PlaceStop,
)
from risk_manager.domain.events import OrderEvent, OrderStatus

MNQ = "CON.F.US.MNQ.H26"
ES = "CON.F.US.EP.H26"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@dataclass
class FakeBroker:
    positions: dict[str, int] = field(default_factory=dict)  # contract -> size (long)
    orders: dict[int, tuple[str, int, Decimal | None, str | None]] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    # endpoint -> list of failures to raise, in turn; "executed:" prefix = fail after doing it
    failures: dict[str, list[tuple[Exception, bool]]] = field(default_factory=dict)
    next_order_id: int = 100
    sides: dict[int, int] = field(default_factory=dict)  # order id -> side when not 1 (sell)

    def events(self) -> AsyncIterator[BrokerEvent]:
        raise NotImplementedError

    def _maybe_fail(self, endpoint: str) -> tuple[Exception, bool] | None:
        queue = self.failures.get(endpoint)
        return queue.pop(0) if queue else None

    async def _mutate(self, endpoint: str, do: Any) -> Any:
        failure = self._maybe_fail(endpoint)
        if failure is not None:
            exc, executed = failure
            if executed:
                do()
            raise exc
        return do()

    async def search_open_positions(self, account_id: int, *, urgent: bool = False) -> list[Position]:
        self.calls.append(("positions", account_id))
        return [Position(1, account_id, c, 1, s, Decimal(20000), {}) for c, s in self.positions.items()]

    async def search_open_orders(self, account_id: int, *, urgent: bool = False) -> list[Order]:
        self.calls.append(("orders", account_id))
        return [
            Order(i, account_id, c, 1, t, self.sides.get(i, 1), 1, None, price, tag, {})
            for i, (c, t, price, tag) in self.orders.items()
        ]

    async def search_trades(self, account_id: int, since: datetime) -> list[Any]:
        return []

    async def close_position(self, account_id: int, contract_id: str) -> None:
        self.calls.append(("close", account_id, contract_id))

        def do() -> None:
            if contract_id not in self.positions:
                raise GatewayRejected("Position/closeContract", 2, "no position")
            del self.positions[contract_id]

        await self._mutate("close", do)

    async def partial_close_position(self, account_id: int, contract_id: str, size: int) -> None:
        self.calls.append(("partial", account_id, contract_id, size))

        def do() -> None:
            self.positions[contract_id] -= size

        await self._mutate("partial", do)

    async def cancel_order(self, account_id: int, order_id: int) -> None:
        self.calls.append(("cancel", account_id, order_id))
        await self._mutate("cancel", lambda: self.orders.pop(order_id))

    async def place_stop(
        self,
        account_id: int,
        contract_id: str,
        side: int,
        size: int,
        stop_price: Decimal,
        custom_tag: str | None = None,
    ) -> int:
        self.calls.append(("place_stop", account_id, contract_id, side, size, stop_price, custom_tag))

        def do() -> int:
            self.next_order_id += 1
            self.orders[self.next_order_id] = (contract_id, 4, stop_price, custom_tag)
            return self.next_order_id

        result: int = await self._mutate("place_stop", do)
        return result

    async def modify_stop(self, account_id: int, order_id: int, stop_price: Decimal) -> None:
        self.calls.append(("modify_stop", account_id, order_id, stop_price))

        def do() -> None:
            contract, kind, _, tag = self.orders[order_id]
            self.orders[order_id] = (contract, kind, stop_price, tag)

        await self._mutate("modify_stop", do)

    def mutations(self) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] not in ("positions", "orders")]


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        self.t += 0.001  # every reading is a millisecond later
        return self.t


def enforcer(broker: FakeBroker, **kwargs: Any) -> tuple[Enforcer, list[tuple[Any, ...]], list[Alert]]:
    recorded: list[tuple[Any, ...]] = []
    alerts: list[Alert] = []

    async def no_sleep(_: float) -> None:
        return None

    e = Enforcer(
        broker,
        record=lambda *row: recorded.append(row),
        alert=alerts.append,
        clock=Clock(),
        wall=lambda: NOW,
        sleep=no_sleep,
        **kwargs,
    )
    return e, recorded, alerts


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_flatten_cancels_working_orders_first_then_closes_every_position_and_verifies_flat() -> None:
    broker = FakeBroker(positions={MNQ: 2, ES: 1}, orders={5: (MNQ, 1, None, None)})
    e, recorded, _ = enforcer(broker)
    outcome = run(e.execute(11, Flatten(account_id=7, rule="RULE-003"), received=100.0))
    assert outcome.status == "done" and outcome.detail == "flat"
    assert broker.mutations() == [("cancel", 7, 5), ("close", 7, MNQ), ("close", 7, ES)]
    assert broker.positions == {} and broker.orders == {}
    assert broker.calls[-2:] == [("orders", 7), ("positions", 7)]  # read back: flat
    assert recorded == [(11, "done: flat", outcome.latency_ms, NOW)]
    assert outcome.latency_ms is not None and outcome.latency_ms > 0


def test_the_same_audit_id_twice_is_enforced_once() -> None:
    broker = FakeBroker(positions={MNQ: 3})

    async def body() -> None:
        e, recorded, _ = enforcer(broker)
        action = ClosePosition(account_id=7, rule="RULE-001", contract_id=MNQ, size=1)
        first, second = await asyncio.gather(e.execute(4, action), e.execute(4, action))
        third = await e.execute(4, action)
        assert first is second is third
        assert len(recorded) == 1

    run(body())
    assert [c for c in broker.mutations()] == [("partial", 7, MNQ, 1)]
    assert broker.positions == {MNQ: 2}


def test_a_close_that_timed_out_but_executed_is_not_sent_again() -> None:
    broker = FakeBroker(positions={MNQ: 1})
    broker.failures["close"] = [(GatewayTimeout("Position/closeContract", 2.0), True)]
    e, _, _ = enforcer(broker)
    outcome = run(e.execute(1, ClosePosition(account_id=7, rule="RULE-004", contract_id=MNQ)))
    assert outcome.text == "done: closed"
    assert broker.mutations() == [("close", 7, MNQ)]
    assert broker.calls[-1] == ("positions", 7)  # reconciled instead of repeating the close


def test_a_close_rate_limited_twice_is_sent_again_only_after_re_reading_the_positions() -> None:
    broker = FakeBroker(positions={MNQ: 1})
    broker.failures["close"] = [(RateLimited("Position/closeContract", 1.0), False)] * 2
    e, _, _ = enforcer(broker)
    outcome = run(e.execute(1, ClosePosition(account_id=7, rule="RULE-004", contract_id=MNQ)))
    assert outcome.status == "done" and broker.positions == {}
    assert broker.calls == [
        ("close", 7, MNQ),
        ("positions", 7),
        ("close", 7, MNQ),
        ("positions", 7),
        ("close", 7, MNQ),
    ]


def test_a_5xx_on_a_partial_close_is_reconciled_against_the_remaining_size() -> None:
    broker = FakeBroker(positions={MNQ: 5})
    broker.failures["partial"] = [(ServerError("Position/partialCloseContract", 502), True)]
    e, _, _ = enforcer(broker)
    outcome = run(e.execute(1, ClosePosition(account_id=7, rule="RULE-001", contract_id=MNQ, size=2)))
    assert outcome.text == "done: reduced to 3"
    assert broker.mutations() == [("partial", 7, MNQ, 2)]  # executed despite the 502: not repeated


def test_a_refused_partial_close_falls_back_to_closing_the_whole_position_with_an_alert() -> None:
    broker = FakeBroker(positions={MNQ: 5})
    broker.failures["partial"] = [(GatewayRejected("Position/partialCloseContract", 9, "Live"), False)]
    e, recorded, alerts = enforcer(broker)
    outcome = run(e.execute(1, ClosePosition(account_id=7, rule="RULE-001", contract_id=MNQ, size=2)))
    assert outcome.status == "fallback" and broker.positions == {}
    assert broker.mutations() == [("partial", 7, MNQ, 2), ("close", 7, MNQ)]
    assert [a.level for a in alerts] == ["critical"] and "closing the whole" in alerts[0].message
    assert recorded[0][1] == "fallback: closed"


def test_a_refused_cancel_during_a_flatten_still_leaves_the_account_flat_and_alerts() -> None:
    broker = FakeBroker(positions={MNQ: 1}, orders={5: (MNQ, 1, None, None)})
    broker.failures["cancel"] = [(GatewayRejected("Order/cancel", 6, "Live accounts not supported."), False)]
    e, _, alerts = enforcer(broker)
    outcome = run(e.execute(1, Flatten(account_id=7, rule="RULE-003")))
    assert outcome.status == "fallback" and broker.positions == {}
    assert ("close", 7, MNQ) in broker.mutations() and len(alerts) == 1


def test_cancel_orders_of_one_symbol_leaves_the_other_symbols_orders() -> None:
    broker = FakeBroker(
        orders={5: (MNQ, 1, None, None), 6: (ES, 1, None, None), 7: ("CON.F.US.MNQ.M26", 1, None, None)}
    )
    e, _, _ = enforcer(broker)
    outcome = run(e.execute(1, CancelOrders(account_id=7, rule="RULE-011", symbol="MNQ")))
    assert outcome.text == "done: cancelled 2"
    assert set(broker.orders) == {6}


def test_a_stop_on_the_wrong_side_does_not_count_as_protection() -> None:
    broker = FakeBroker(positions={MNQ: 1}, orders={5: (MNQ, 4, Decimal(21010), None)})
    broker.sides[5] = 0  # a buy stop above the market: it adds to a long, it does not protect it
    e, _, _ = enforcer(broker)
    action = ClosePosition(account_id=7, rule="RULE-008", contract_id=MNQ, verify_no_stop=True)
    assert run(e.execute(1, action)).text == "done: closed"
    assert broker.positions == {}


def test_a_no_stop_close_is_skipped_when_a_stop_arrived_meanwhile() -> None:
    broker = FakeBroker(positions={MNQ: 1}, orders={5: (MNQ, 4, Decimal(19990), None)})
    e, _, _ = enforcer(broker)
    action = ClosePosition(account_id=7, rule="RULE-008", contract_id=MNQ, verify_no_stop=True)
    outcome = run(e.execute(1, action))
    assert outcome.status == "skipped" and broker.mutations() == []


def test_a_stop_placed_although_its_answer_was_lost_is_found_by_its_tag_and_not_placed_twice() -> None:
    broker = FakeBroker(positions={MNQ: 1})
    broker.failures["place_stop"] = [(GatewayTimeout("Order/place", 2.0), True)]
    e, _, _ = enforcer(broker)
    action = PlaceStop(
        account_id=7, rule="RULE-012", contract_id=MNQ, stop_price=Decimal("19990.25"), side=1, size=1
    )
    outcome = run(e.execute(42, action))
    assert outcome.text == "done: stop placed"
    assert [c[0] for c in broker.mutations()] == ["place_stop"]
    assert broker.mutations()[0][-1] == "rm-42"


def test_a_stop_move_that_got_a_5xx_and_did_not_happen_is_sent_again_after_reading_the_order() -> None:
    broker = FakeBroker(positions={MNQ: 1}, orders={5: (MNQ, 4, Decimal(19990), None)})
    broker.failures["modify_stop"] = [(ServerError("Order/modify", 500), False)]
    e, _, _ = enforcer(broker)
    outcome = run(
        e.execute(
            1,
            ModifyStop(account_id=7, rule="RULE-012", contract_id=MNQ, order_id=5, stop_price=Decimal(19995)),
        )
    )
    assert outcome.status == "done" and broker.orders[5][2] == Decimal(19995)
    assert [c[0] for c in broker.mutations()] == ["modify_stop", "modify_stop"]


def test_a_close_that_keeps_failing_ends_failed_with_a_critical_alert() -> None:
    broker = FakeBroker(positions={MNQ: 1})
    broker.failures["close"] = [(ServerError("Position/closeContract", 503), False)] * 10
    e, recorded, alerts = enforcer(broker, max_rounds=3)
    outcome = run(e.execute(1, ClosePosition(account_id=7, rule="RULE-004", contract_id=MNQ)))
    assert outcome.status == "failed" and broker.positions == {MNQ: 1}
    assert [c[0] for c in broker.mutations()] == ["close"] * 3
    assert alerts[-1].level == "critical" and recorded[0][1].startswith("failed")


def test_alerts_are_logged_and_recorded_and_lockouts_need_no_broker_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = FakeBroker()
    e, recorded, alerts = enforcer(broker)
    with caplog.at_level("INFO"):
        run(e.execute(1, Alert(account_id=7, rule="RULE-003", level="warning", message="75% of the limit")))
        run(e.execute(2, LockAccount(account_id=7, rule="RULE-003", reason="daily loss")))
    assert broker.calls == [] and len(alerts) == 1
    assert "75% of the limit" in caplog.text
    assert [r[0] for r in recorded] == [1]  # a lockout is not a broker action: no outcome row


def test_two_reduces_of_one_contract_decided_on_one_event_send_only_the_larger() -> None:
    # 6 MNQ with RULE-001 limit 5 and RULE-002 limit 4: "close 1" and "close 2" mean "close 2", not 3
    one = ClosePosition(account_id=7, rule="RULE-001", contract_id=MNQ, size=1)
    two = ClosePosition(account_id=7, rule="RULE-002", contract_id=MNQ, size=2)
    other = ClosePosition(account_id=7, rule="RULE-002", contract_id=ES, size=1)
    assert covered_closes([one, two, other]) == {
        0: f"covered by the RULE-002 close of 2 of {MNQ} decided on the same event"
    }


def test_a_whole_close_covers_a_reduce_and_a_flatten_covers_every_close_of_its_account() -> None:
    reduce = ClosePosition(account_id=7, rule="RULE-001", contract_id=MNQ, size=1)
    whole = ClosePosition(account_id=7, rule="RULE-004", contract_id=MNQ, size=None)
    assert set(covered_closes([reduce, whole])) == {0}
    flatten = Flatten(account_id=7, rule="RULE-003")
    elsewhere = ClosePosition(account_id=8, rule="RULE-004", contract_id=MNQ, size=None)
    assert covered_closes([reduce, whole, flatten, elsewhere]) == {
        0: "covered by the RULE-003 flatten decided on the same event",
        1: "covered by the RULE-003 flatten decided on the same event",
    }


def test_a_covered_close_is_recorded_as_skipped_with_the_reason_and_sends_nothing() -> None:
    broker = FakeBroker(positions={MNQ: 6})
    e, recorded, _ = enforcer(broker)
    action = ClosePosition(account_id=7, rule="RULE-001", contract_id=MNQ, size=1)
    outcome = e.skip(3, action, "covered by the RULE-002 close of 2")
    assert outcome.status == "skipped" and broker.mutations() == []
    assert recorded == [(3, "skipped: covered by the RULE-002 close of 2", None, NOW)]
    assert run(e.execute(3, action)) is outcome  # the same id is never sent afterwards


def _move(order_id: int = 5, price: int = 19995) -> ModifyStop:
    return ModifyStop(account_id=7, rule="RULE-012", contract_id=MNQ, order_id=order_id,
                      stop_price=Decimal(price))


def test_a_stop_move_refused_with_error_code_3_for_a_cancelled_stop_is_skipped_and_never_sent_again() -> None:
    broker = FakeBroker(positions={MNQ: 1})  # the stop was cancelled by a flatten: not listed any more
    broker.failures["modify_stop"] = [
        (GatewayRejected("Order/modify", 3, "Order 5 cannot be modified: it is Cancelled."), False)
    ]
    e, recorded, alerts = enforcer(broker)
    first = run(e.execute(1, _move()))
    assert first.status == "skipped" and "no longer exists" in first.detail and "errorCode 3" in first.detail
    second = run(e.execute(2, _move(price=19998)))
    assert second.status == "skipped"
    assert [c[0] for c in broker.mutations()] == ["modify_stop"]  # the second move sent nothing
    assert alerts == []  # a stop that is gone is not a failure to enforce
    assert [r[1] for r in recorded] == [first.text, second.text]


def test_a_stop_a_read_found_gone_is_reported_to_the_vanished_hook_and_one_gone_by_event_is_not() -> None:
    broker = FakeBroker(positions={MNQ: 1})
    broker.failures["modify_stop"] = [
        (GatewayRejected("Order/modify", 2, "Order 5 not found."), False)
    ]
    vanished: list[tuple[int, int]] = []
    e, _, _ = enforcer(broker, vanished=lambda account, order: vanished.append((account, order)))
    run(e.execute(1, _move()))
    run(e.execute(2, _move(price=19998)))  # skipped without a read: nothing more to report
    e.order_update(OrderEvent(order_id=9, account_id=7, contract_id=MNQ, status=OrderStatus.FILLED, type=4,
                              side=1, size=1))  # the engine saw this event itself
    assert vanished == [(7, 5)]


def test_a_stop_whose_order_event_says_cancelled_or_filled_is_never_moved() -> None:
    broker = FakeBroker(positions={MNQ: 1}, orders={5: (MNQ, 4, Decimal(19990), None)})
    e, _, _ = enforcer(broker)
    e.order_update(OrderEvent(order_id=5, account_id=7, contract_id=MNQ, status=OrderStatus.CANCELLED, type=4,
                              side=1, size=1))
    outcome = run(e.execute(1, _move()))
    assert outcome.status == "skipped" and "order 5 is cancelled" in outcome.detail
    assert broker.mutations() == []


def test_a_stop_move_refused_with_error_code_3_while_the_stop_still_works_is_a_failure() -> None:
    broker = FakeBroker(positions={MNQ: 1}, orders={5: (MNQ, 4, Decimal(19990), None)})
    broker.failures["modify_stop"] = [(GatewayRejected("Order/modify", 3, "Invalid stop price."), False)]
    e, _, alerts = enforcer(broker)
    outcome = run(e.execute(1, _move()))
    assert outcome.status == "failed" and "Invalid stop price" in outcome.detail
    assert [a.level for a in alerts] == ["critical"]
