"""Properties of replaying: deterministic, and robust to any well-formed gateway stream.

Streams are generated as *raw gateway messages* (the JSON lines a recording holds), so each example
exercises the whole path: reader validation, normalization, engine, every rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_manager.config.loader import LoadedConfig, load_config
from risk_manager.domain.actions import format_time
from risk_manager.engine.engine import ENGINE_RULE, Engine
from risk_manager.replay.reader import ReplayLine, parse_line, read_recording
from risk_manager.replay.runner import ReplayStats, replay

DATA = Path(__file__).resolve().parents[2] / "data" / "replay"
SAMPLE = Path(__file__).resolve().parents[3] / "src" / "risk_manager" / "examples"
CONFIGS = {
    "all-rules": DATA / "all-rules-config",
    "sample": SAMPLE / "sample-config",
}

CONTRACTS = {
    "CON.F.US.MNQ.H26": 21000.0,
    "CON.F.US.EP.H26": 5900.0,
    "CON.F.US.ENQ.H26": 21000.0,
    "CON.F.US.RTY.H26": 2100.0,  # blocked by RULE-011 in the all-rules config
    "CON.F.US.ZZZ.H26": 100.0,  # no tick spec known: rules must cope, not guess
}
START = datetime(2026, 3, 6, 13, 0, tzinfo=UTC)  # a Friday; streams run into the DST change of March 8


@cache
def config(name: str) -> LoadedConfig:
    return load_config(CONFIGS[name])


def engine_for(name: str) -> Engine:
    loaded = config(name)
    return Engine(loaded.policy(), loaded.calendar(), loaded.contracts())


def run(name: str, lines: list[ReplayLine], until: datetime | None = None) -> list[dict[str, Any]]:
    return [action.record(t) for t, action in replay(lines, engine_for(name), until)]


# ---- raw gateway messages ---------------------------------------------------------------------

accounts = st.sampled_from([7, 8, 9])
contracts = st.sampled_from(sorted(CONTRACTS))
ticks = st.integers(min_value=-400, max_value=400)
sizes = st.integers(min_value=0, max_value=7)
maybe = st.booleans()


def price(contract: str, tick_offset: int) -> float:
    return CONTRACTS[contract] + tick_offset * 0.25


@st.composite
def account_message(draw: st.DrawFn) -> tuple[str, str, list[Any]]:
    payload: dict[str, Any] = {
        "id": draw(accounts),
        "name": "ACC",
        "balance": draw(st.integers(45000, 55000)),
    }
    if draw(maybe):
        payload["canTrade"] = draw(st.booleans())
    return "user", "GatewayUserAccount", [payload]


@st.composite
def trade_message(draw: st.DrawFn) -> tuple[str, str, list[Any]]:
    contract = draw(contracts)
    pnl = draw(st.none() | st.integers(-800, 800).map(lambda cents: cents * 1.25))
    payload = {
        "id": draw(st.integers(1, 40)),  # small range: duplicate executions happen
        "accountId": draw(accounts),
        "contractId": contract,
        "creationTimestamp": None,
        "price": price(contract, draw(ticks)),
        "profitAndLoss": pnl,
        "fees": draw(st.sampled_from([0.0, 0.37, 1.4, 2.8])),
        "side": draw(st.sampled_from([0, 1])),
        "size": draw(st.integers(1, 5)),
        "voided": draw(st.integers(0, 9)) == 0,
        "orderId": draw(st.none() | st.integers(100, 130)),
    }
    return "user", "GatewayUserTrade", [_maybe_wrapped(draw, payload)]


@st.composite
def position_message(draw: st.DrawFn) -> tuple[str, str, list[Any]]:
    contract = draw(contracts)
    size = draw(sizes)
    payload = {
        "id": draw(st.integers(1, 10)),
        "accountId": draw(accounts),
        "contractId": contract,
        "type": draw(st.sampled_from([1, 2])) if size else draw(st.sampled_from([0, 1, 2])),
        "size": size,
        "averagePrice": price(contract, draw(ticks)),
    }
    return "user", "GatewayUserPosition", [_maybe_wrapped(draw, payload)]


@st.composite
def order_message(draw: st.DrawFn) -> tuple[str, str, list[Any]]:
    contract = draw(contracts)
    order_type = draw(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 0]))
    payload = {
        "id": draw(st.integers(100, 130)),
        "accountId": draw(accounts),
        "contractId": contract,
        "status": draw(st.sampled_from([1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 42])),
        "type": order_type,
        "side": draw(st.sampled_from([0, 1])),
        "size": draw(st.integers(1, 5)),
        "limitPrice": price(contract, draw(ticks)) if order_type in (1, 3) else None,
        "stopPrice": price(contract, draw(ticks)) if order_type in (3, 4, 5) else None,
        "customTag": draw(st.none() | st.just("rm:close")),
    }
    return "user", "GatewayUserOrder", [_maybe_wrapped(draw, payload)]


@st.composite
def quote_message(draw: st.DrawFn) -> tuple[str, str, list[Any]]:
    contract = draw(contracts)
    centre = draw(ticks)
    data: dict[str, Any] = {}
    if draw(maybe):
        data["lastPrice"] = price(contract, centre)
    if draw(maybe):
        data["bestBid"] = price(contract, centre - 1)
    if draw(maybe):
        data["bestAsk"] = price(contract, centre + 1)
    return "market", "GatewayQuote", [contract, data]


def _maybe_wrapped(draw: st.DrawFn, payload: dict[str, Any]) -> Any:
    return {"action": draw(st.integers(0, 2)), "data": payload} if draw(maybe) else payload


messages = st.one_of(
    quote_message(), quote_message(), quote_message(), position_message(), position_message(),
    trade_message(), trade_message(), order_message(), account_message(),
)  # fmt: skip


@st.composite
def raw_lines(draw: st.DrawFn) -> list[bytes]:
    """A recording: messages with the odd clock/connection line; time mostly forward, sometimes back."""
    t = START + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    out: list[bytes] = []
    for _ in range(draw(st.integers(1, 60))):
        step = draw(st.sampled_from([0, 0.05, 1, 5, 30, 120, 900, 4 * 3600, -2]))
        t += timedelta(seconds=step)
        kind = draw(st.integers(0, 19))
        line: dict[str, Any] = {"t": format_time(t)}
        if kind == 0:
            line["clock"] = True
        elif kind == 1:
            line["connection"] = draw(st.sampled_from(["lost", "restored"]))
        elif kind == 2:
            # A burst of executions of distinct orders (the trade-frequency windows).
            for _ in range(draw(st.integers(2, 5))):
                _hub, target, [payload] = draw(trade_message())
                trade = payload.get("data", payload)
                trade["orderId"] = draw(st.integers(100, 130))
                t += timedelta(seconds=draw(st.sampled_from([0.2, 3, 15])))
                out.append(
                    orjson.dumps(
                        {"t": format_time(t), "hub": "user", "target": target, "arguments": [payload]}
                    )
                )
            continue
        else:
            hub, target, arguments = draw(messages)
            line.update(hub=hub, target=target, arguments=arguments)
        out.append(orjson.dumps(line))
    return out


def parse(raw: list[bytes]) -> list[ReplayLine]:
    return [parse_line(line, "<generated>", n) for n, line in enumerate(raw, start=1)]


# ---- properties -------------------------------------------------------------------------------

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(raw=raw_lines(), config_name=st.sampled_from(sorted(CONFIGS)), extra_hours=st.integers(0, 30))
def test_any_well_formed_stream_replays_without_an_engine_failure(
    raw: list[bytes], config_name: str, extra_hours: int
) -> None:
    lines = parse(raw)  # every generated line is valid: the reader accepts it
    until = max(line.t for line in lines) + timedelta(hours=extra_hours)
    records = run(config_name, lines, until)
    # The engine fails closed on an exception inside a rule (rule ENGINE): that is a crash, hidden.
    failures = [r for r in records if r["rule"] == ENGINE_RULE]
    assert failures == []
    times = [r["t"] for r in records]
    assert times == sorted(times), "decisions are reported in time order"
    assert all(r["t"] <= format_time(until) for r in records)


@SETTINGS
@given(raw=raw_lines(), config_name=st.sampled_from(sorted(CONFIGS)))
def test_replaying_the_same_stream_twice_gives_identical_output(raw: list[bytes], config_name: str) -> None:
    assert run(config_name, parse(raw)) == run(config_name, parse(raw))


def test_replaying_the_sample_day_twice_gives_identical_output() -> None:
    recording = SAMPLE / "sample-day.jsonl.gz"
    first = run("sample", list(read_recording(recording)))
    second = run("sample", list(read_recording(recording)))
    assert first == second
    assert len(first) > 20


def test_out_of_order_lines_are_counted_and_replayed_at_the_previous_time() -> None:
    raw = [
        orjson.dumps({"t": "2026-03-02T14:30:00Z", "clock": True}),
        orjson.dumps({"t": "2026-03-02T14:29:00Z", "connection": "lost"}),
        orjson.dumps({"t": "2026-03-02T14:31:00Z", "connection": "restored"}),
    ]
    stats = ReplayStats()
    records = [a.record(t) for t, a in replay(parse(raw), engine_for("sample"), stats=stats)]
    assert stats.out_of_order == 1
    assert stats.last_t == datetime(2026, 3, 2, 14, 31, tzinfo=UTC)
    # No account is known yet, so nothing to decide; the point is the clock never ran backwards.
    assert records == []


class AskingEveryLine:
    """An engine without ``timers_pushed``: the replay asks it for the next deadline before every
    line (the loop as it was before the deadline was kept between lines)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def apply(self, event: Any, now: datetime) -> list[Any]:
        return self._engine.apply(event, now)

    def advance(self, now: datetime) -> list[Any]:
        return self._engine.advance(now)

    def next_deadline(self) -> datetime | None:
        return self._engine.next_deadline()


@SETTINGS
@given(raw=raw_lines(), config_name=st.sampled_from(sorted(CONFIGS)), extra_hours=st.integers(0, 30))
def test_keeping_the_next_deadline_between_lines_fires_every_timer_as_asking_every_line_does(
    raw: list[bytes], config_name: str, extra_hours: int
) -> None:
    lines = parse(raw)
    until = max(line.t for line in lines) + timedelta(hours=extra_hours)
    kept = run(config_name, lines, until)
    asked = [
        action.record(t) for t, action in replay(lines, AskingEveryLine(engine_for(config_name)), until)
    ]
    assert kept == asked
