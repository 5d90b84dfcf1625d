"""The quote fast path of the recording reader reads exactly what the general path reads.

``parse_line`` first tries a msgspec decoder that only knows the plain quote line; whatever it
refuses goes through the general path (orjson, then validation). These tests hold the pair to one
contract: for any line, ``parse_line`` gives the very ReplayLine the general path gives (compared
by repr, so 1 and 1.0 or 0.0 and -0.0 differ), or the very same error.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from fast_path_helpers import INSERTS, assert_same, damaged, dumps, mostly, outcome, with_odd_top_keys
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_manager.domain.events import QuoteEvent
from risk_manager.replay.reader import ReplayInputError, parse_line

MNQ = "CON.F.US.MNQ.H26"
PLAIN = (
    b'{"t":"2026-03-02T14:30:11.700Z","hub":"market","target":"GatewayQuote","arguments":'
    b'["CON.F.US.MNQ.H26",{"symbol":"F.US.MNQ","lastPrice":21001.25,"bestBid":21001.0,'
    b'"bestAsk":21001.25,"timestamp":"2026-03-02T14:30:11.700Z"}]}'
)



def test_the_plain_quote_line_reads_as_the_general_path_reads_it() -> None:
    line = parse_line(PLAIN, "day.jsonl", 9)
    assert type(line.events[0]) is QuoteEvent
    assert line.events[0].last == 21001.25
    assert_same(PLAIN)
    assert_same(PLAIN.decode())


# Lines the fast decoder sees and must either read as the general path does, or hand over.
EDGES = [
    # numbers orjson treats its own way: out of range, beyond 64 bits, negative zero, exponents
    PLAIN.replace(b"21001.25,", b"1e400,", 1),
    PLAIN.replace(b"21001.25,", b"123456789012345678901234567890,", 1),
    PLAIN.replace(b"21001.25,", b"9223372036854775807,", 1),
    PLAIN.replace(b"21001.25,", b"9223372036854775808,", 1),
    PLAIN.replace(b"21001.25,", b"18446744073709551615,", 1),
    PLAIN.replace(b"21001.25,", b"18446744073709551616,", 1),
    PLAIN.replace(b"21001.25,", b"-9223372036854775809,", 1),
    PLAIN.replace(b"21001.25,", b"-0.0,", 1),
    PLAIN.replace(b"21001.25,", b"-0,", 1),
    PLAIN.replace(b"21001.25,", b"2.1E+4,", 1),
    PLAIN.replace(b"21001.25,", b"4.9e-325,", 1),
    PLAIN.replace(b"21001.25,", b"NaN,", 1),
    PLAIN.replace(b"21001.25,", b"true,", 1),
    PLAIN.replace(b"21001.25,", b'"21001.25",', 1),
    PLAIN.replace(b"21001.25,", b"null,", 1),
    # in a field the engine does not use, a value orjson refuses must still be refused
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"symbol":"\xff"', 1),
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"symbol":"\\ud800"', 1),
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"symbol":"\xed\xa0\x80"', 1),
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"volume":1e400', 1),
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"volume":[1,2]', 1),
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"volume":' + b"[" * 1100 + b"]" * 1100, 1),
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"extra":' + b"[" * 1100 + b"]" * 1100, 1),
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"extra":1e400', 1),
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"extra":"\xff"', 1),
    PLAIN.replace(b'"symbol":"F.US.MNQ"', b'"symbol":"a\tb"', 1),
    # duplicate keys (the last one wins in both), in the line and in the data
    PLAIN[:-1] + b',"t":"2026-03-02T15:00:00Z"}',
    PLAIN.replace(b'"bestBid":21001.0', b'"bestBid":21001.0,"bestBid":null', 1),
    PLAIN.replace(b'"bestBid":21001.0', b'"bestBid":"x","bestBid":5', 1),
    # times: offsets, seven digits, lower case, no zone, nonsense
    PLAIN.replace(b"11.700Z", b"11.7001239Z"),
    PLAIN.replace(b"11.700Z", b"11.700+00:00"),
    PLAIN.replace(b"11.700Z", b"11.700-06:00"),
    PLAIN.replace(b"11.700Z", b"11.700"),
    PLAIN.replace(b"11.700Z", b"11.700z"),
    PLAIN.replace(b"T14:30", b"t14:30"),
    PLAIN.replace(b'"2026-03-02T14:30:11.700Z"}', b"null}", 1),
    PLAIN.replace(b'"2026-03-02T14:30:11.700Z"}', b'"soon"}', 1),
    PLAIN.replace(b'"t":"2026-03-02T14:30:11.700Z"', b'"t":"0001-01-01T00:00:00+01:00"', 1),
    # the shape of the line
    PLAIN.replace(b'"CON.F.US.MNQ.H26"', b'""', 1),
    PLAIN.replace(b'"CON.F.US.MNQ.H26"', b"7", 1),
    PLAIN.replace(b'"hub":"market"', b'"hub":"user"', 1),
    PLAIN.replace(b'"hub":"market",', b"", 1),
    PLAIN[:-1] + b',"seq":12}',
    PLAIN[:-1] + b',"clock":true}',
    PLAIN.replace(b"]}", b',"extra"]}', 1),
    PLAIN.replace(b'["CON.F.US.MNQ.H26",', b'["CON.F.US.MNQ.H26",{"action":1,"data":', 1) + b"}",
    PLAIN.replace(b'{"symbol"', b'{"action":1,"data":{"symbol"', 1)[:-2] + b"}]}",
    PLAIN.replace(b'{"symbol"', b'{"data":{},"symbol"', 1),
    b'{"t":"2026-03-02T14:30:11.700Z","hub":"market","target":"GatewayQuote","arguments":["X",{}]}',
    # not JSON, or JSON with something around it
    PLAIN[:-1],
    PLAIN + b" x",
    PLAIN + b"\r\n",
    b" " + PLAIN,
    b"\xef\xbb\xbf" + PLAIN,
    PLAIN + b"\x00",
    b"",
    b"[]",
]


@pytest.mark.parametrize("raw", EDGES, ids=range(len(EDGES)))
def test_an_unusual_quote_line_reads_or_fails_exactly_as_on_the_general_path(raw: bytes) -> None:
    assert_same(raw)


def test_a_text_line_reads_or_fails_exactly_as_on_the_general_path() -> None:
    text = PLAIN.decode()
    assert_same(text)
    assert_same(text.replace("F.US.MNQ", "\ud800"))  # a lone surrogate cannot even be encoded
    assert_same(text.replace("F.US.MNQ", "\u00e9\u4e2d"))
    with pytest.raises(ReplayInputError, match="line 9: not valid JSON"):
        parse_line(text.replace("F.US.MNQ", "\ud800"), "day.jsonl", 9)


@pytest.mark.parametrize("raw", [None, 7, ["{}"]])
def test_something_that_is_not_a_line_at_all_is_refused_as_on_the_general_path(raw: Any) -> None:
    assert_same(raw)
    assert outcome(parse_line, raw)[0] == "error"


# ---- generated lines ---------------------------------------------------------------------------

prices = (
    st.none()
    | st.booleans()
    | st.integers(-(2**65), 2**65)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -0.0, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, "1", [1], {}])
)
times = (
    st.none()
    | st.integers(0, 5)
    | st.sampled_from(
        [
            "2026-03-02T14:30:11.700Z",
            "2026-03-02T14:30:11Z",
            "2026-03-02T14:30:11.1234567Z",
            "2026-03-02T14:30:11.700+00:00",
            "2026-03-02T08:30:11.700-06:00",
            "2026-03-02T14:30:11.700",
            "2026-03-02t14:30:11.700z",
            "2026-03-02 14:30:11Z",
            "20260302T143011Z",
            "0001-01-01T00:00:00+01:00",
            "yesterday",
            "",
        ]
    )
)
QUOTE_FIELDS = [
    "lastPrice",
    "bestBid",
    "bestAsk",
    "change",
    "changePercent",
    "open",
    "high",
    "low",
    "volume",
]
TEXT_FIELDS = ["symbol", "symbolName", "lastUpdated"]



finite = st.floats(allow_nan=False, allow_infinity=False)
known_fields = {
    **{name: mostly(finite | st.none(), prices) for name in QUOTE_FIELDS},
    **{name: mostly(st.none() | st.text(max_size=6), st.integers(0, 3)) for name in TEXT_FIELDS},
    "timestamp": mostly(st.just("2026-03-02T14:30:11.700Z"), times),
}
clean_data = st.fixed_dictionaries({}, optional=known_fields)
spoiled_data = st.fixed_dictionaries(
    {"lastPrice": finite},
    optional={
        "extra": st.integers(0, 3),
        "action": st.integers(0, 3),
        "data": st.fixed_dictionaries({}, optional={"lastPrice": prices, "timestamp": times}),
    },
)
good_times = st.sampled_from(
    ["2026-03-02T14:30:11.700Z", "2026-03-02T14:30:11Z", "2026-03-02T14:30:11.123456Z"]
)
# Mostly lines the fast decoder takes, with one thing or another off in the rest.
lines = st.fixed_dictionaries(
    {
        "t": mostly(good_times, times),
        "hub": mostly(st.just("market"), st.sampled_from(["user", "x", None])),
        "target": mostly(st.just("GatewayQuote"), st.sampled_from(["GatewayTrade", "GatewayUserTrade", 5])),
        "arguments": mostly(
            st.tuples(st.just(MNQ), clean_data).map(list),
            st.tuples(st.sampled_from(["", 7, None]), clean_data).map(list)
            | st.tuples(st.just(MNQ), spoiled_data).map(list)
            | st.lists(clean_data, max_size=3),
        ),
    },
).flatmap(with_odd_top_keys)



@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=lines)
def test_any_generated_line_reads_or_fails_exactly_as_on_the_general_path(line: dict[str, Any]) -> None:
    assert_same(dumps(line))
    assert_same(json.dumps(line, ensure_ascii=False))  # as text, not bytes


@settings(max_examples=400, deadline=None)
@given(
    line=lines,
    cut=st.integers(0, 400),
    inserted=INSERTS,
    dropped=st.integers(0, 3),
)
def test_a_damaged_quote_line_reads_or_fails_exactly_as_on_the_general_path(
    line: dict[str, Any], cut: int, inserted: bytes, dropped: int
) -> None:
    raw = dumps({**line, "hub": "market", "target": "GatewayQuote"})
    assert_same(damaged(raw, cut, inserted, dropped))


@settings(max_examples=300, deadline=None)
@given(value=st.floats(allow_nan=False, allow_infinity=False), text=st.sampled_from(["repr", "e", "f17"]))
def test_every_float_price_is_read_to_the_same_float(value: float, text: str) -> None:
    written = {"repr": repr(value), "e": f"{value:.17e}", "f17": f"{value:.17g}"}[text]
    assert math.isfinite(float(written))
    raw = PLAIN.replace(b"21001.25,", written.encode() + b",", 1)
    assert_same(raw)
