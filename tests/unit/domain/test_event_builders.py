"""The fast event builders (events.new_quote, new_order...) build exactly the frozen event."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from risk_manager.domain.events import (
    AccountEvent,
    OrderEvent,
    PositionEvent,
    QuoteEvent,
    TradeEvent,
    new_account,
    new_order,
    new_position,
    new_quote,
    new_trade,
)

WHEN = datetime(2026, 3, 2, 14, 30, 1, 250000, tzinfo=UTC)
CASES: list[tuple[Any, type, dict[str, Any]]] = [
    (
        new_quote,
        QuoteEvent,
        {"contract_id": "CON.F.US.MNQ.H26", "last": 21000, "bid": 20999.75, "timestamp": WHEN},
    ),
    (new_quote, QuoteEvent, {"contract_id": "CON.F.US.MNQ.H26"}),
    (
        new_order,
        OrderEvent,
        {
            "order_id": 1001,
            "account_id": 7,
            "contract_id": "CON.F.US.MNQ.H26",
            "status": 1,
            "type": 4,
            "side": 1,
            "size": 2,
            "stop_price": Decimal("20990.25"),
            "updated": WHEN,
        },
    ),
    (
        new_trade,
        TradeEvent,
        {
            "trade_id": 5001,
            "account_id": 7,
            "contract_id": "CON.F.US.MNQ.H26",
            "price": Decimal("21000.25"),
            "pnl": None,
            "fees": Decimal("0.37"),
            "side": 0,
            "size": 1,
            "voided": False,
            "order_id": 1001,
        },
    ),
    (
        new_position,
        PositionEvent,
        {
            "position_id": 31,
            "account_id": 7,
            "contract_id": "CON.F.US.MNQ.H26",
            "type": 1,
            "size": 2,
            "average_price": Decimal("21000.25"),
        },
    ),
    (new_account, AccountEvent, {"account_id": 7, "balance": Decimal("50000"), "can_trade": True}),
]


@pytest.mark.parametrize(
    ("build", "cls", "fields"), CASES, ids=[f"{c.__name__}-{i}" for i, (_, c, _) in enumerate(CASES)]
)
def test_a_built_event_is_the_event_its_class_builds(build: Any, cls: type, fields: dict[str, Any]) -> None:
    built, regular = build(**fields), cls(**fields)
    assert type(built) is cls
    assert built == regular and hash(built) == hash(regular) and repr(built) == repr(regular)
    assert dataclasses.astuple(built) == dataclasses.astuple(regular)
    assert pickle.loads(pickle.dumps(built)) == regular
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, first, None)


def test_a_builder_takes_the_same_arguments_as_its_class() -> None:
    assert new_quote("CON.F.US.MNQ.H26", 1.0, None, 2.0) == QuoteEvent("CON.F.US.MNQ.H26", 1.0, None, 2.0)
    with pytest.raises(TypeError):
        new_order(order_id=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        new_quote("CON.F.US.MNQ.H26", surprise=1)  # type: ignore[call-arg]
