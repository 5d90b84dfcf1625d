"""The one codec of domain records: by field name, exact, and strict about what it does not know."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from risk_manager.domain.codec import CodecError, from_fields, from_positional, to_fields
from risk_manager.domain.events import OrderEvent, QuoteEvent, TradeEvent

T = datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=UTC)
TRADE = TradeEvent(9, 7, "CON.F.US.MNQ.H26", Decimal("21000.25"), Decimal("-12.50"), Decimal("0.37"), 1, 1,
                   False, 44, T, Decimal("0.25"))  # fmt: skip


def test_a_record_is_written_by_field_name_with_exact_decimals_and_microsecond_times() -> None:
    data = to_fields(TRADE)
    assert list(data) == [
        "trade_id", "account_id", "contract_id", "price", "pnl", "fees", "side", "size", "voided",
        "order_id", "created", "commissions",
    ]  # fmt: skip
    assert data["price"] == "21000.25" and data["created"] == 1772461800123456
    assert from_fields(TradeEvent, orjson.loads(orjson.dumps(data))) == TRADE


def test_float_quote_prices_read_back_bit_identical() -> None:
    quote = QuoteEvent("CON.F.US.MNQ.H26", 0.1 + 0.2, None, 21000.25, T)
    assert from_fields(QuoteEvent, orjson.loads(orjson.dumps(to_fields(quote)))) == quote


def test_a_field_added_later_takes_its_default_when_old_data_lacks_it() -> None:
    data = to_fields(TRADE)
    del data["commissions"]
    assert from_fields(TradeEvent, data).commissions == 0


def test_a_field_this_program_does_not_know_is_refused_by_name() -> None:
    with pytest.raises(CodecError, match="TradeEvent has no field rebate"):
        from_fields(TradeEvent, to_fields(TRADE) | {"rebate": "1"})


def test_a_missing_required_field_and_a_bad_value_are_named() -> None:
    data = to_fields(TRADE)
    del data["price"]
    with pytest.raises(CodecError, match="lacks required field price"):
        from_fields(TradeEvent, data)
    with pytest.raises(CodecError, match=r"TradeEvent.fees = 'a lot'"):
        from_fields(TradeEvent, to_fields(TRADE) | {"fees": "a lot"})


def test_the_older_positional_encoding_reads_in_declaration_order_with_defaults_for_later_fields() -> None:
    old = [9, 7, "CON.F.US.MNQ.H26", "21000.25", "-12.50", "0.37", 1, 1, False, 44, 1772461800123456]
    assert from_positional(TradeEvent, old) == TRADE.__class__(
        **{**vars_of(TRADE), "commissions": Decimal(0)}
    )
    order = [5, 7, "CON.F.US.EP.H26", 1, 4, 1, 1, None, "5790", None, None, None, T.isoformat(), None]
    decoded = from_positional(OrderEvent, order, time=datetime.fromisoformat)
    assert (decoded.stop_price, decoded.created) == (Decimal(5790), T)
    with pytest.raises(CodecError, match="has 14 fields, got 15 values"):
        from_positional(OrderEvent, [*order, 1])


def vars_of(record: object) -> dict[str, object]:
    return {name: getattr(record, name) for name in to_fields(record)}
