"""Reading recordings: plain and gzip, every kind of line, every kind of malformed line."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from risk_manager.domain.events import ConnectionEvent, PositionEvent, QuoteEvent, TradeEvent
from risk_manager.replay.reader import ReplayInputError, ReplayLine, read_recording

MNQ = "CON.F.US.MNQ.H26"
TRADE_LINE = {
    "t": "2026-03-02T14:30:01.000Z",
    "hub": "user",
    "target": "GatewayUserTrade",
    "arguments": [
        {
            "id": 901,
            "accountId": 7,
            "contractId": MNQ,
            "creationTimestamp": "2026-03-02T14:30:00.950Z",
            "price": 21000.25,
            "profitAndLoss": None,
            "fees": 0.37,
            "side": 0,
            "size": 2,
            "voided": False,
            "orderId": 55,
        }
    ],
}
POSITION_LINE = {
    "t": "2026-03-02T14:30:01.001Z",
    "hub": "user",
    "target": "GatewayUserPosition",
    "arguments": [
        {
            "action": 1,
            "data": {
                "id": 31,
                "accountId": 7,
                "contractId": MNQ,
                "type": 1,
                "size": 2,
                "averagePrice": 21000.25,
            },
        }
    ],
}
QUOTE_LINE = {
    "t": "2026-03-02T14:30:01.200Z",
    "hub": "market",
    "target": "GatewayQuote",
    "arguments": [MNQ, {"lastPrice": 21001.0, "bestBid": 21000.75, "bestAsk": 21001.0}],
}
CLOCK_LINE = {"t": "2026-03-02T14:35:00Z", "clock": True}
LOST_LINE = {"t": "2026-03-02T14:36:00Z", "connection": "lost", "hub": "market"}
RESTORED_LINE = {"t": "2026-03-02T14:36:20Z", "connection": "restored"}
DEPTH_LINE = {
    "t": "2026-03-02T14:30:01.300Z",
    "hub": "market",
    "target": "GatewayDepth",
    "arguments": [MNQ, []],
}

GOOD = [TRADE_LINE, POSITION_LINE, QUOTE_LINE, DEPTH_LINE, CLOCK_LINE, LOST_LINE, RESTORED_LINE]


def write(path: Path, lines: list[object] | list[bytes], *, compress: bool = False) -> Path:
    raw = b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def read_all(path: Path) -> list[ReplayLine]:
    return list(read_recording(path))


def test_every_line_kind_is_read_with_its_number_time_and_events(tmp_path: Path) -> None:
    lines = read_all(write(tmp_path / "day.jsonl", GOOD))
    assert [(line.line_no, line.kind) for line in lines] == [
        (1, "message"),
        (2, "message"),
        (3, "message"),
        (4, "message"),
        (5, "clock"),
        (6, "connection"),
        (7, "connection"),
    ]
    assert lines[0].t == datetime(2026, 3, 2, 14, 30, 1, tzinfo=UTC)
    assert isinstance(lines[0].events[0], TradeEvent)
    assert isinstance(lines[1].events[0], PositionEvent)  # the {"action", "data"} wrapper
    assert lines[2].events == (QuoteEvent(MNQ, 21001.0, 21000.75, 21001.0),)
    assert lines[3].events == ()  # depth is ignored
    assert lines[4].events == ()  # a clock line only advances time
    assert lines[5].events == (ConnectionEvent("lost", "market"),)
    assert lines[6].events == (ConnectionEvent("restored", None),)


def test_a_gzip_recording_reads_like_the_plain_one(tmp_path: Path) -> None:
    plain = read_all(write(tmp_path / "day.jsonl", GOOD))
    assert read_all(write(tmp_path / "day.jsonl.gz", GOOD, compress=True)) == plain


def test_gzip_is_detected_by_its_magic_bytes_not_the_extension(tmp_path: Path) -> None:
    plain = read_all(write(tmp_path / "day.jsonl", GOOD))
    assert read_all(write(tmp_path / "really-gzip.jsonl", GOOD, compress=True)) == plain
    assert read_all(write(tmp_path / "really-plain.jsonl.gz", GOOD)) == plain


def test_blank_lines_are_skipped_and_numbering_counts_them(tmp_path: Path) -> None:
    path = write(tmp_path / "day.jsonl", [b"", orjson.dumps(TRADE_LINE), b"   ", orjson.dumps(CLOCK_LINE)])
    assert [line.line_no for line in read_all(path)] == [2, 4]


def test_crlf_line_endings_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    path.write_bytes(orjson.dumps(TRADE_LINE) + b"\r\n" + orjson.dumps(CLOCK_LINE) + b"\r\n")
    assert len(read_all(path)) == 2


def test_times_with_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    [line] = read_all(write(tmp_path / "day.jsonl", [{"t": "2026-03-02T08:35:00-06:00", "clock": True}]))
    assert line.t == datetime(2026, 3, 2, 14, 35, tzinfo=UTC)


def test_an_empty_file_has_no_lines(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert read_all(path) == []


def test_a_missing_file_is_a_replay_input_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ReplayInputError, match=r"nope\.jsonl: cannot open the recording"):
        read_all(tmp_path / "nope.jsonl")


MALFORMED: list[tuple[str, object, str]] = [
    ("not json", b'{"t": "2026-03-02T14:30:00Z", "clock": tru', "not valid JSON"),
    ("not an object", [1, 2], "expected a JSON object"),
    ("no t", {"clock": True}, 'missing "t"'),
    ("t not a string", {"t": 1740000000, "clock": True}, '"t" must be an ISO-8601 UTC time string'),
    ("t not a time", {"t": "yesterday", "clock": True}, "\"t\" is not an ISO-8601 time: 'yesterday'"),
    (
        "t without zone",
        {"t": "2026-03-02T14:30:00", "clock": True},
        'has no time zone; recordings are in UTC: append "Z"',
    ),
    ("t out of range", {"t": "0001-01-01T00:00:00+01:00", "clock": True}, "out of the representable range"),
    ("bad hub", {**QUOTE_LINE, "hub": "quotes"}, '"hub" must be "user" or "market", got \'quotes\''),
    (
        "no hub",
        {k: v for k, v in QUOTE_LINE.items() if k != "hub"},
        '"hub" must be "user" or "market", got None',
    ),
    (
        "no target",
        {k: v for k, v in QUOTE_LINE.items() if k != "target"},
        '"target" must be the gateway event name',
    ),
    (
        "unknown target",
        {**TRADE_LINE, "target": "GatewayUserTrades"},
        "unknown target 'GatewayUserTrades' for hub",
    ),
    ("target on wrong hub", {**QUOTE_LINE, "hub": "user"}, 'it is a "market" hub event: set "hub": "market"'),
    ("arguments not a list", {**QUOTE_LINE, "arguments": {"a": 1}}, '"arguments" must be a JSON list'),
    (
        "no arguments",
        {k: v for k, v in QUOTE_LINE.items() if k != "arguments"},
        '"arguments" must be a JSON list',
    ),
    (
        "payload missing a field",
        {**TRADE_LINE, "arguments": [{"id": 1, "contractId": MNQ, "price": 1, "side": 0, "size": 1}]},
        "GatewayUserTrade: field 'accountId' is missing; it is required; fix the payload or remove the line",
    ),
    (
        "payload of a wrong type",
        {**QUOTE_LINE, "arguments": [MNQ, {"lastPrice": "high"}]},
        "GatewayQuote: field 'lastPrice' must be a number or null, got 'high'",
    ),
    ("clock not true", {"t": "2026-03-02T14:30:00Z", "clock": "yes"}, '"clock" must be true'),
    (
        "bad connection state",
        {"t": "2026-03-02T14:30:00Z", "connection": "down"},
        '"connection" must be "lost" or',
    ),
    (
        "bad connection hub",
        {"t": "2026-03-02T14:30:00Z", "connection": "lost", "hub": "x"},
        '"hub" of a connection',
    ),
    ("clock and message", {**QUOTE_LINE, "clock": True}, "a line is either a message"),
    ("clock and connection", {**CLOCK_LINE, "connection": "lost"}, "cannot also be a connection line"),
    ("nothing", {"t": "2026-03-02T14:30:00Z", "seq": 4}, "nothing to replay"),
]


@pytest.mark.parametrize(("case", "bad_line", "message"), MALFORMED, ids=[case for case, _, _ in MALFORMED])
def test_a_malformed_line_raises_naming_the_file_and_line_after_yielding_the_lines_before(
    tmp_path: Path, case: str, bad_line: object, message: str
) -> None:
    lines: list[object] = [
        TRADE_LINE,
        POSITION_LINE,
        b"",
        bad_line,
    ]
    path = write(tmp_path / "day.jsonl", [*lines, CLOCK_LINE])  # type: ignore[list-item]
    seen: list[int] = []
    with pytest.raises(ReplayInputError) as info:
        for line in read_recording(path):
            seen.append(line.line_no)
    assert seen == [1, 2]
    assert info.value.line_no == 4
    assert str(info.value).startswith(f"{path}, line 4: ")
    assert message in str(info.value)


def test_a_truncated_gzip_recording_yields_what_it_can_then_names_the_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "day.jsonl.gz", GOOD * 200, compress=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    seen = 0
    with pytest.raises(ReplayInputError, match="gzip data is corrupt or truncated"):
        for _ in read_recording(path):
            seen += 1
    assert seen > 0


def test_invalid_utf8_is_a_malformed_line(tmp_path: Path) -> None:
    path = write(tmp_path / "day.jsonl", [TRADE_LINE, b'{"t": "\xff\xfe", "clock": true}'])
    with pytest.raises(ReplayInputError, match="line 2: not valid JSON"):
        read_all(path)


def test_binary_data_before_any_line_is_not_a_recording_even_after_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "photo.jsonl", [b"", b"  ", b"\x89PNG\x00\x01", TRADE_LINE])
    with pytest.raises(ReplayInputError, match="line 3: holds binary data, not a recording"):
        read_all(path)


def test_binary_data_after_a_line_was_read_is_one_malformed_line(tmp_path: Path) -> None:
    path = write(tmp_path / "day.jsonl", [TRADE_LINE, b"", b"\x89PNG\x00\x01"])
    with pytest.raises(ReplayInputError, match="line 3: not valid JSON"):
        read_all(path)


def test_a_quote_line_reads_the_same_whether_or_not_it_takes_the_fast_path(tmp_path: Path) -> None:
    fast = QUOTE_LINE
    slow_extra_key = {**QUOTE_LINE, "seq": 12}
    slow_offset = {**QUOTE_LINE, "t": "2026-03-02T08:30:01.200-06:00"}
    lines = read_all(write(tmp_path / "quotes.jsonl", [fast, slow_extra_key, slow_offset]))
    assert len({(line.t, line.kind, line.events) for line in lines}) == 1
