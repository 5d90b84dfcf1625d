"""Reading recorded gateway feeds (FORMATS.md "Recording"): JSON Lines, plain or gzip.

Every line is validated before it reaches the engine; a bad line raises ReplayInputError naming the
file, the line number, what is wrong and how to fix it. Lines already read have been yielded by
then, so a caller streaming decisions loses nothing it already produced.

Line kinds:

- message:    ``{"t": ..., "hub": "user"|"market", "target": ..., "arguments": [...]}``
- clock:      ``{"t": ..., "clock": true}``          (only advances time)
- connection: ``{"t": ..., "connection": "lost"|"restored"}`` (optional ``"hub": "user"|"market"``)

Unknown top-level keys are ignored (a recorder may add bookkeeping such as sequence numbers); an
unknown ``target`` for a hub is an error, because in a hand-made file it is nearly always a typo that
would otherwise silently drop events.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
import orjson

from risk_manager.broker.normalize import HUBS, PayloadError, normalize_message
from risk_manager.domain.events import ConnectionEvent, Event, new_quote
from risk_manager.replay.user_fast_path import read_user_line

__all__ = ["GZIP_MAGIC", "ReplayInputError", "ReplayLine", "open_recording", "parse_line", "read_recording"]

GZIP_MAGIC = b"\x1f\x8b"
_fromisoformat = datetime.fromisoformat
_EXAMPLE_T = "2026-03-02T14:30:00.120Z"


class ReplayInputError(ValueError):
    """A recording that cannot be replayed, with the place and the fix."""

    def __init__(self, path: str, line_no: int | None, problem: str) -> None:
        self.path = path
        self.line_no = line_no
        self.problem = problem
        where = f"{path}, line {line_no}" if line_no is not None else path
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type[ReplayInputError], tuple[str, int | None, str]]:
        # rebuilt from its three parts (a split replay's worker sends it to the parent)
        return ReplayInputError, (self.path, self.line_no, self.problem)


class ReplayLine(NamedTuple):
    """One validated recording line: its number (1-based), receive time (UTC), kind and events.

    ``kind`` is "message", "clock" or "connection". A clock line carries no events (the runner fires
    the timers due up to ``t`` before every line); a message line may carry none either (market
    trades and depth are ignored). A NamedTuple rather than a dataclass: one is built per line, and
    replays run through millions of lines.
    """

    line_no: int
    t: datetime
    kind: str
    events: tuple[Event, ...]


_new_line = tuple.__new__


def open_recording(path: Path) -> io.BufferedIOBase:
    """Open a recording for binary reading, gunzipping when it starts with the gzip magic bytes.

    The content decides, not the extension: a ``.jsonl`` that is really gzip, or a ``.gz`` that is
    plain, both read correctly.
    """
    if path.is_dir():
        raise ReplayInputError(
            str(path), None, "is a directory, not a recording; name a .jsonl or .jsonl.gz file"
        )
    try:
        with path.open("rb") as probe:
            magic = probe.read(2)
        if magic == GZIP_MAGIC:
            return gzip.open(path, "rb")
        return path.open("rb")
    except OSError as exc:
        raise ReplayInputError(str(path), None, f"cannot open the recording: {exc.strerror or exc}") from None


# Progress is reported every this many lines: often enough for a bar, rare enough to cost nothing.
PROGRESS_EVERY = 4096
Progress = Callable[[int, int], None]  # (lines read, bytes of the file read so far)


def read_recording(path: Path | str, progress: Progress | None = None) -> Iterator[ReplayLine]:
    """Validated lines of a recording, in file order; blank lines are skipped.

    ``progress``, if given, is called every PROGRESS_EVERY lines and at the end with the lines read
    and the bytes of the file on disk read so far (compressed bytes for gzip), for a progress bar.
    """
    path = Path(path)
    name = str(path)
    line_no = 0
    with open_recording(path) as stream:
        # The position in the file on disk: for gzip the compressed stream underneath.
        raw_file = getattr(stream, "fileobj", None) or stream
        blank = 0  # blank lines so far: every other line before the current one was read
        try:
            for line_no, raw in enumerate(stream, 1):
                if progress is not None and line_no % PROGRESS_EVERY == 0:
                    progress(line_no, raw_file.tell())
                try:
                    line = parse_line(raw, name, line_no)
                except ReplayInputError:
                    # A blank line is no JSON, so it lands here, and is skipped: a test per line
                    # before parsing would cost every line of the file for the rare blank one.
                    if raw.isspace():
                        blank += 1
                        continue
                    # Only a file that starts with binary data is "not a recording"; one bad line
                    # inside a recording is a malformed line like any other.
                    if line_no - 1 == blank and _is_binary(raw):
                        raise ReplayInputError(
                            name,
                            line_no,
                            "holds binary data, not a recording; a recording is JSON Lines text, "
                            "plain or gzip (see docs/replay.md)",
                        ) from None
                    raise
                yield line
            if progress is not None:
                progress(line_no, raw_file.tell())
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ReplayInputError(
                name,
                line_no + 1,
                f"the gzip data is corrupt or truncated ({exc}); the lines before it were read. "
                "Re-copy the file, or decompress what is readable with `gzip -dc FILE > out.jsonl`",
            ) from None


def _is_binary(raw: bytes) -> bool:
    if b"\x00" in raw:
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _parse_t(value: object, name: str, line_no: int) -> datetime:
    if not isinstance(value, str):
        raise ReplayInputError(
            name, line_no, f'"t" must be an ISO-8601 UTC time string like "{_EXAMPLE_T}", got {value!r}'
        )
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ReplayInputError(
            name, line_no, f'"t" is not an ISO-8601 time: {value!r}; write it like "{_EXAMPLE_T}"'
        ) from None
    if t.tzinfo is None:
        raise ReplayInputError(
            name,
            line_no,
            f'"t" {value!r} has no time zone; recordings are in UTC: append "Z" ("{_EXAMPLE_T}")',
        )
    if t.tzinfo is UTC:
        return t
    try:
        return t.astimezone(UTC)
    except OverflowError:
        raise ReplayInputError(
            name, line_no, f'"t" {value!r} is out of the representable range of times'
        ) from None


# ---- the quote fast path ------------------------------------------------------------------------
# About 90% of a recording are quotes written the one way a recorder writes them:
#   {"t": "...Z", "hub": "market", "target": "GatewayQuote", "arguments": [contractId, {data}]}
# msgspec decodes such a line and checks every type in one C pass, without building the dicts
# the general path reads them from. It accepts only a subset of what the general path accepts, and
# for that subset gives the same ReplayLine; anything else (another kind of line, an extra key, a
# field of another type, an unknown quote field, a wrapper, a non-UTC time, malformed JSON) raises,
# and the line goes through the general path, which reads it or names the problem. The test
# tests/unit/replay/test_quote_fast_path.py holds the two paths to that.

# orjson, and so the general path, turns an integer beyond 64 bits into a float; msgspec keeps it an
# int. Prices that large (and the few above 2**63 that orjson still keeps) take the general path.
_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_Price = _Int64 | float | None


# gc=False: these hold only strings, numbers and each other, so they can never be part of a reference
# cycle; the collector need not track the objects built per line. The fields are declared in the
# gateway's order (PROJECTX.md §3), which recorders keep: msgspec looks each key up from the field
# after the last one found, so keys in declared order are found at the first try.
class _QuoteData(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The GatewayQuote data fields of PROJECTX.md §3, typed as the general path reads them.

    Every field is named, so that every value is fully decoded (msgspec only skims unknown ones,
    and would let through a value orjson rejects, such as 1e400): an unknown field, and so a
    ``{"action", "data"}`` wrapper, takes the general path.
    """

    symbol: str | None = None
    symbolName: str | None = None
    lastPrice: _Price = None
    bestBid: _Price = None
    bestAsk: _Price = None
    change: int | float | None = None
    changePercent: int | float | None = None
    open: int | float | None = None
    high: int | float | None = None
    low: int | float | None = None
    volume: int | float | None = None
    lastUpdated: str | None = None
    timestamp: str | None = None


class _QuoteLine(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    t: str
    hub: Literal["market"]
    target: Literal["GatewayQuote"]
    # An empty contract id is the general path's error.
    arguments: tuple[Annotated[str, msgspec.Meta(min_length=1)], _QuoteData]


_decode_quote_line = msgspec.json.Decoder(_QuoteLine).decode
# RecursionError: msgspec's answer to absurd nesting; UnicodeError: to a str line holding a lone
# surrogate; TypeError: to something that is not text at all. The general path names each.
_NOT_A_PLAIN_QUOTE = (msgspec.DecodeError, RecursionError, UnicodeError, TypeError)


def parse_line(raw: bytes | str, name: str = "<recording>", line_no: int = 1) -> ReplayLine:
    """Validate and normalize one recording line. Raises ReplayInputError."""
    # Every line tries the quote decoder first: a refused decode costs another line about what the
    # fast path saves a quote line, and nine lines in ten are quotes (a byte search to tell them
    # apart first costs every line more than that).
    try:
        line = _decode_quote_line(raw)
    except _NOT_A_PLAIN_QUOTE:
        # Most other lines are user-hub events, which have a fast path of their own.
        user = read_user_line(raw)
        if user is not None:
            return _new_line(ReplayLine, (line_no, user[0], "message", user[1]))
        return _parse_general(raw, name, line_no)
    contract_id, data = line.arguments
    stamp = data.timestamp
    # A time the general path must convert or refuse: the general path.
    try:
        text = line.t
        t = _fromisoformat(text)
        # A recorder stamps most quotes with their receive time: the same text reads once.
        when = t if stamp == text else None if stamp is None else _fromisoformat(stamp)
    except ValueError:
        return _parse_general(raw, name, line_no)
    if t.tzinfo is UTC and (when is None or when.tzinfo is UTC):
        quote = new_quote(contract_id, data.lastPrice, data.bestBid, data.bestAsk, when)
        # the same ReplayLine, without the generated __new__'s Python-level call
        return _new_line(ReplayLine, (line_no, t, "message", (quote,)))
    return _parse_general(raw, name, line_no)


def _parse_general(raw: bytes | str, name: str, line_no: int) -> ReplayLine:
    """Every kind of line, and every error."""
    try:
        obj: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ReplayInputError(
            name, line_no, f"not valid JSON ({exc}); each line must be one complete JSON object"
        ) from None
    return _parse_object(obj, name, line_no)


def _parse_object(obj: Any, name: str, line_no: int) -> ReplayLine:
    if type(obj) is not dict:
        raise ReplayInputError(
            name,
            line_no,
            f'expected a JSON object with "t" and "hub"/"target"/"arguments", got {type(obj).__name__}',
        )
    if "t" not in obj:
        raise ReplayInputError(name, line_no, f'missing "t", the receive time, e.g. "t": "{_EXAMPLE_T}"')
    t = _parse_t(obj["t"], name, line_no)

    hub = obj.get("hub")
    # "hub" alone may also qualify a connection line; "target"/"arguments" make it a message.
    if "target" in obj or "arguments" in obj or (hub is not None and "connection" not in obj):
        if "clock" in obj or "connection" in obj:
            raise ReplayInputError(
                name,
                line_no,
                "a line is either a message (hub, target, arguments), a clock line or a connection line, "
                "not several at once; split it into separate lines",
            )
        return _message_line(obj, t, hub, name, line_no)
    if "clock" in obj:
        if obj["clock"] is not True:
            raise ReplayInputError(
                name, line_no, f'"clock" must be true (a clock line only advances time), got {obj["clock"]!r}'
            )
        if "connection" in obj:
            raise ReplayInputError(
                name, line_no, "a clock line cannot also be a connection line; split it into two lines"
            )
        return ReplayLine(line_no, t, "clock", ())
    if "connection" in obj:
        state = obj["connection"]
        if state not in ("lost", "restored"):
            raise ReplayInputError(name, line_no, f'"connection" must be "lost" or "restored", got {state!r}')
        conn_hub = obj.get("hub")
        if conn_hub not in (None, "user", "market"):
            raise ReplayInputError(
                name, line_no, f'"hub" of a connection line must be "user" or "market", got {conn_hub!r}'
            )
        return ReplayLine(line_no, t, "connection", (ConnectionEvent(state, conn_hub),))
    raise ReplayInputError(
        name,
        line_no,
        'nothing to replay: a line needs "hub", "target" and "arguments" (a gateway message), '
        'or "clock": true, or "connection": "lost"/"restored"',
    )


def _message_line(obj: dict[str, Any], t: datetime, hub: object, name: str, line_no: int) -> ReplayLine:
    if hub not in HUBS:
        raise ReplayInputError(name, line_no, f'"hub" must be "user" or "market", got {hub!r}')
    assert isinstance(hub, str)
    target = obj.get("target")
    if not isinstance(target, str):
        raise ReplayInputError(
            name,
            line_no,
            f'"target" must be the gateway event name (e.g. "GatewayUserTrade"), got {target!r}',
        )
    known = HUBS[hub]
    if target not in known:
        other = next((h for h, targets in HUBS.items() if target in targets), None)
        hint = (
            f'it is a "{other}" hub event: set "hub": "{other}"'
            if other
            else f"known: {', '.join(sorted(known))}"
        )
        raise ReplayInputError(name, line_no, f'unknown target {target!r} for hub "{hub}"; {hint}')
    arguments = obj.get("arguments")
    if type(arguments) is not list:
        raise ReplayInputError(
            name,
            line_no,
            f'"arguments" must be a JSON list (the hub invocation arguments), got {arguments!r}',
        )
    try:
        events = normalize_message(hub, target, arguments)
    except PayloadError as exc:
        raise ReplayInputError(name, line_no, f"{exc}; fix the payload or remove the line") from None
    return ReplayLine(line_no, t, "message", tuple(events))
