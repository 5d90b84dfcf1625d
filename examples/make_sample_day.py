#!/usr/bin/env python3
"""Generate the sample trading day shipped with risk-manager (``risk-manager demo``).

    python examples/make_sample_day.py            # writes src/risk_manager/examples/sample-day.jsonl.gz
    python examples/make_sample_day.py --check    # regenerate in memory, compare with the shipped file

The output is a recording in the format of FORMATS.md: the gateway messages of one session
(2026-03-02, a Monday in US winter time, so 17:00 Chicago = 23:00 UTC) as a daemon would have
received them. Two accounts (7 and 8) trade MNQ and ES over a seeded random-walk market.

The recording must be *consistent*: when the daemon decides to close a position, the gateway's later
events (the daemon's market order, the closing fill with its profitAndLoss, the flat position, the
new balance) must be in the file, as they would be in a real recording. So this script runs the real
engine with the sample config while it generates, and a small paper broker answers each decision as
the gateway would. The resulting file contains only gateway messages; replaying it reproduces the
decisions.

The story (times UTC; Chicago = UTC-6 that day):

- 14:30 account 7 buys 4 MNQ; 14:38 it buys 2 ES: 6 contracts > 5, RULE-001 closes 1 ES.
- 14:55 account 7 takes profit on everything.
- 15:05 account 8 buys 2 ES; the market slides; at -300 unrealized RULE-004 closes the position;
  the losing fill (< -200) starts RULE-007's 15-minute cooldown.
- 15:20 account 7 buys 2 MNQ, stops out by hand at ~-160: RULE-007 starts a 5-minute cooldown;
  15:34 it places a limit order while locked: cancelled (LOCKOUT); the cooldown ends (unlock).
- 15:45 account 8 buys 1 ES; the day's P&L with the open loss reaches -500: RULE-003 flattens,
  cancels and locks the account until the daily reset (the closing loss also starts a cooldown).
- 16:40 the market hub drops for 25 s (RULE-010 alerts).
- 17:30 account 8 buys 1 MNQ from another platform while locked: closed at once (LOCKOUT).
- 23:00 the daily reset (17:00 Chicago) starts a new trading day and unlocks account 8.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import io
import itertools
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from risk_manager.config.loader import load_config
from risk_manager.domain.actions import Action, CancelOrders, ClosePosition, Flatten, format_time
from risk_manager.domain.contracts import root_of
from risk_manager.engine.engine import Engine
from risk_manager.replay.reader import parse_line, read_recording
from risk_manager.replay.runner import by_account, replay, run_clock

REPO = Path(__file__).resolve().parents[1]
PACKAGE_EXAMPLES = REPO / "src" / "risk_manager" / "examples"
OUTPUT = PACKAGE_EXAMPLES / "sample-day.jsonl.gz"
CONFIG = PACKAGE_EXAMPLES / "sample-config"

SEED = 20260302
DAY = datetime(2026, 3, 2, tzinfo=UTC)
MNQ = "CON.F.US.MNQ.H26"
ES = "CON.F.US.EP.H26"
BUY, SELL = 0, 1


def T(hms: str) -> datetime:
    """A time of the sample day, UTC: T("14:30:05.318")."""
    h, m, s = hms.split(":")
    seconds = float(s)
    whole = int(seconds)
    return DAY.replace(hour=int(h), minute=int(m), second=whole, microsecond=round((seconds - whole) * 1e6))


@dataclass(frozen=True)
class Instrument:
    contract_id: str
    symbol: str  # ProjectX symbolId
    symbol_name: str
    tick: Decimal
    point_value: Decimal
    fee: Decimal  # per contract per fill
    sigma: float  # random-walk step, in points
    waypoints: tuple[tuple[str, str], ...]  # (time, price) the walk passes through


# fmt: off
INSTRUMENTS = (
    Instrument(
        MNQ, "F.US.MNQ", "/MNQ", Decimal("0.25"), Decimal(2), Decimal("0.37"), 0.9,
        (
            ("14:29:00", "21000.00"), ("14:30:30", "21002.00"), ("14:55:00", "21024.50"),
            ("15:20:00", "21010.00"), ("15:31:30", "20969.75"), ("15:45:00", "20985.00"),
            ("16:30:00", "20992.00"), ("17:30:00", "21006.25"), ("18:30:00", "20981.00"),
            ("20:00:00", "21012.50"), ("21:59:59", "21001.00"), ("23:00:00", "21003.00"),
            ("23:05:00", "21005.50"),
        ),
    ),
    Instrument(
        ES, "F.US.EP", "/ES", Decimal("0.25"), Decimal(50), Decimal("1.40"), 0.09,
        (
            ("14:29:00", "5900.00"), ("14:38:00", "5901.50"), ("14:55:00", "5905.00"),
            ("15:05:00", "5906.00"), ("15:21:00", "5902.25"), ("15:45:00", "5903.00"),
            ("16:06:00", "5898.75"), ("16:30:00", "5900.50"), ("18:00:00", "5897.25"),
            ("20:00:00", "5903.25"), ("21:59:59", "5900.00"), ("23:00:00", "5901.00"),
            ("23:05:00", "5901.75"),
        ),
    ),
)
# fmt: on
BY_CONTRACT = {i.contract_id: i for i in INSTRUMENTS}

# CME maintenance halt, 16:00-17:00 Chicago: no quotes.
HALT = (T("22:00:00"), T("23:00:00"))
BUSY_UNTIL = T("16:30:00")  # a quote every ~4 s before, every ~25 s after (a quiet afternoon)


# ---- the market -------------------------------------------------------------------------------


def quote_path(inst: Instrument, rng: random.Random) -> list[tuple[datetime, Decimal]]:
    """(time, last price) ticks: a Brownian bridge through the waypoints, on the tick grid."""
    points = [(T(t), Decimal(p)) for t, p in inst.waypoints]
    ticks: list[tuple[datetime, Decimal]] = []
    for (t0, p0), (t1, p1) in itertools.pairwise(points):
        times: list[datetime] = []
        t = t0
        while t < t1:
            if not (HALT[0] <= t < HALT[1]):
                times.append(t)
            mean = 4.0 if t < BUSY_UNTIL else 25.0
            t += timedelta(milliseconds=max(40, round(rng.expovariate(1 / mean) * 1000)))
        if not times:
            continue
        walk = [0.0]
        for _ in times[1:]:
            walk.append(walk[-1] + rng.gauss(0, inst.sigma))
        total = walk[-1] + rng.gauss(0, inst.sigma)
        n = len(times)
        for k, when in enumerate(times):
            frac = k / n
            price = float(p0) + float(p1 - p0) * frac + walk[k] - frac * total
            ticks.append((when, _on_grid(price, inst.tick)))
    return ticks


def _on_grid(price: float, tick: Decimal) -> Decimal:
    return (Decimal(repr(price)) / tick).to_integral_value() * tick


# ---- the recording ----------------------------------------------------------------------------


def gw_time(t: datetime) -> str:
    """The gateway's REST/user-hub timestamp style: 7 fractional digits and +00:00."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}0+00:00"


_PRICE_FIELDS = re.compile(
    rb'"(averagePrice|filledPrice|limitPrice|stopPrice|price)":(-?\d+(?:\.\d+)?)(?=[,}])'
)


def _nine_decimals(match: re.Match[bytes]) -> bytes:
    # The gateway sends prices with 9 decimals (5138.000000000); JSON numbers either way.
    return b'"' + match.group(1) + b'":' + f"{Decimal(match.group(2).decode()):.9f}".encode()


@dataclass(order=True)
class Item:
    t: datetime
    seq: int
    run: Callable[[], None] = field(compare=False)


class Day:
    """The scheduler: every line goes through the engine in time order, as in a replay."""

    def __init__(self) -> None:
        loaded = load_config(CONFIG)
        self.engine = Engine(loaded.policy(), loaded.calendar(), loaded.contracts())
        self.rng = random.Random(SEED)
        self.queue: list[Item] = []
        self.seq = 0
        self.now = T("14:29:00")
        self.lines: list[bytes] = []
        self.decisions: list[tuple[datetime, Action]] = []
        self.broker = Broker(self)
        self.last: dict[str, tuple[Decimal, Decimal, Decimal]] = {}  # contract -> last, bid, ask

    def at(self, t: datetime, run: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, Item(t, self.seq, run))

    def emit(self, t: datetime, line: dict[str, Any], nine_decimals: bool = False) -> None:
        """Schedule one recording line at receive time ``t``."""

        def write() -> None:
            raw = orjson.dumps({"t": format_time(t), **line})
            if nine_decimals:
                raw = _PRICE_FIELDS.sub(_nine_decimals, raw)
            self.lines.append(raw)
            parsed = parse_line(raw, "<generated>", len(self.lines))
            actions = [(when, a) for when, fired in run_clock(self.engine, parsed.t) for a in fired]
            applied = []
            for event in parsed.events:
                applied += self.engine.apply(event, parsed.t)
            actions.extend((parsed.t, a) for a in by_account(applied))  # as the replay lists them
            for when, action in actions:
                self.decisions.append((when, action))
                self.broker.react(when, action)

        self.at(t, write)

    def user(self, t: datetime, target: str, payload: dict[str, Any], wrapped: bool) -> None:
        argument: dict[str, Any] = {"action": 1, "data": payload} if wrapped else payload
        self.emit(t, {"hub": "user", "target": target, "arguments": [argument]}, nine_decimals=True)

    def run(self, end: datetime) -> None:
        while self.queue and self.queue[0].t <= end:
            item = heapq.heappop(self.queue)
            self.now = item.t
            item.run()
        for when, fired in run_clock(self.engine, end):
            self.decisions.extend((when, action) for action in fired)

    # ---- market data ----

    def schedule_quotes(self) -> None:
        for inst in INSTRUMENTS:
            high = low = None
            open_price: Decimal | None = None
            volume = 0
            previous: Decimal | None = None
            for when, last in quote_path(inst, self.rng):
                on_bid = self.rng.random() < 0.5
                bid, ask = (last, last + inst.tick) if on_bid else (last - inst.tick, last)
                volume += self.rng.randint(1, 40) if last != previous else 0
                if open_price is None:
                    open_price = last
                changed_range = high is None or low is None or last > high or last < low
                high = last if high is None or last > high else high
                low = last if low is None or last < low else low
                data: dict[str, Any]
                if previous is None:  # the first quote of a subscription is complete
                    data = {
                        "symbol": inst.symbol,
                        "symbolName": inst.symbol_name,
                        "lastPrice": float(last),
                        "bestBid": float(bid),
                        "bestAsk": float(ask),
                        "change": 0.0,
                        "changePercent": 0.0,
                        "open": float(open_price),
                        "high": float(high),
                        "low": float(low),
                        "volume": volume,
                        "lastUpdated": format_time(when),
                        "timestamp": format_time(when),
                    }
                elif last == previous:  # only the book moved: a partial update
                    data = {
                        "symbol": inst.symbol,
                        "bestBid": float(bid),
                        "bestAsk": float(ask),
                        "timestamp": format_time(when),
                    }
                else:
                    change = last - open_price
                    data = {
                        "symbol": inst.symbol,
                        "lastPrice": float(last),
                        "bestBid": float(bid),
                        "bestAsk": float(ask),
                        "change": float(change),
                        "changePercent": round(float(change / open_price * 100), 4),
                        "volume": volume,
                        "timestamp": format_time(when),
                    }
                    if changed_range:
                        data["high"], data["low"] = float(high), float(low)
                previous = last
                receive = when + timedelta(milliseconds=self.rng.randint(3, 25))
                self.at(receive, self._quote_seen(inst.contract_id, last, bid, ask))
                self.emit(
                    receive,
                    {"hub": "market", "target": "GatewayQuote", "arguments": [inst.contract_id, data]},
                )

    def _quote_seen(self, contract_id: str, last: Decimal, bid: Decimal, ask: Decimal) -> Callable[[], None]:
        def seen() -> None:
            self.last[contract_id] = (last, bid, ask)

        return seen


# ---- the paper broker (the gateway's side) ------------------------------------------------------


@dataclass
class Held:
    position_id: int
    size: int  # signed
    average: Decimal
    opened: datetime


@dataclass
class Working:
    order_id: int
    account_id: int
    contract_id: str
    side: int
    size: int
    type: int
    limit_price: Decimal | None
    created: datetime
    tag: str | None


class Broker:
    """Fills market orders at the touch, cancels working orders, and sends the gateway's events."""

    def __init__(self, day: Day) -> None:
        self.day = day
        self.balance = {7: Decimal("50000.00"), 8: Decimal("48710.50")}
        self.names = {7: "50K-COMBINE-A", 8: "50K-COMBINE-B"}
        self.positions: dict[tuple[int, str], Held] = {}
        self.orders: dict[int, Working] = {}
        self.next_order = 5501
        self.next_trade = 90001
        self.next_position = 3101

    def wrapped(self, account_id: int) -> bool:
        # Account 8's events use the {"action", "data"} wrapper the SDK reports; account 7's are bare.
        return account_id == 8

    def account_event(self, t: datetime, account_id: int) -> None:
        payload = {
            "id": account_id,
            "name": self.names[account_id],
            "balance": float(self.balance[account_id]),
            "canTrade": True,
            "isVisible": True,
            "simulated": True,
        }
        self.day.user(t, "GatewayUserAccount", payload, wrapped=False)

    def order_event(self, t: datetime, order: Working, status: int, filled: Decimal | None = None) -> None:
        payload = {
            "id": order.order_id,
            "accountId": order.account_id,
            "contractId": order.contract_id,
            "symbolId": BY_CONTRACT[order.contract_id].symbol,
            "creationTimestamp": gw_time(order.created),
            "updateTimestamp": gw_time(t),
            "status": status,
            "type": order.type,
            "side": order.side,
            "size": order.size,
            "limitPrice": None if order.limit_price is None else float(order.limit_price),
            "stopPrice": None,
            "fillVolume": order.size if status == 2 else 0,
            "filledPrice": None if filled is None else float(filled),
            "customTag": order.tag,
        }
        self.day.user(t, "GatewayUserOrder", payload, self.wrapped(order.account_id))

    def market(
        self, t: datetime, account_id: int, contract_id: str, side: int, size: int, tag: str | None = None
    ) -> None:
        """Place and fill a market order at ``t``; its events arrive over the next ~50 ms."""
        if size <= 0:
            return
        inst = BY_CONTRACT[contract_id]
        _last, bid, ask = self.day.last[contract_id]
        price = ask if side == BUY else bid
        order = Working(self.next_order, account_id, contract_id, side, size, 2, None, t, tag)
        self.next_order += 1
        key = (account_id, contract_id)
        held = self.positions.get(key)
        signed = size if side == BUY else -size
        pnl: Decimal | None = None
        if held is not None and (held.size > 0) != (signed > 0):
            closing = min(abs(signed), abs(held.size))
            direction = 1 if held.size > 0 else -1
            pnl = (price - held.average) * closing * direction * inst.point_value
        fees = inst.fee * size
        rng = self.day.rng
        t_open = t + timedelta(milliseconds=rng.randint(8, 20))
        t_fill = t_open + timedelta(milliseconds=rng.randint(10, 30))
        self.order_event(t_open, order, 1)
        trade = {
            "id": self.next_trade,
            "accountId": account_id,
            "contractId": contract_id,
            "creationTimestamp": gw_time(t_fill - timedelta(milliseconds=4)),
            "price": float(price),
            "profitAndLoss": None if pnl is None else float(pnl),
            "fees": float(fees),
            "side": side,
            "size": size,
            "voided": False,
            "orderId": order.order_id,
        }
        self.next_trade += 1
        self.day.user(t_fill, "GatewayUserTrade", trade, self.wrapped(account_id))
        # The position after the fill.
        if held is None:
            held = Held(self.next_position, signed, price, t_fill)
            self.next_position += 1
            self.positions[key] = held
        elif (held.size > 0) == (signed > 0):
            total = held.size + signed
            held.average = (held.average * abs(held.size) + price * size) / abs(total)
            held.size = total
        else:
            held.size += signed
        position = {
            "id": held.position_id,
            "accountId": account_id,
            "contractId": contract_id,
            "creationTimestamp": gw_time(held.opened),
            "type": 1 if held.size > 0 else 2 if held.size < 0 else 0,
            "size": abs(held.size),
            "averagePrice": float(held.average),
        }
        self.day.user(
            t_fill + timedelta(milliseconds=1), "GatewayUserPosition", position, self.wrapped(account_id)
        )
        if held.size == 0:
            del self.positions[key]
        self.order_event(t_fill + timedelta(milliseconds=2), order, 2, filled=price)
        if pnl is not None:
            self.balance[account_id] += pnl - fees
            self.account_event(t_fill + timedelta(milliseconds=6), account_id)
        else:
            self.balance[account_id] -= fees

    def close(
        self, t: datetime, account_id: int, contract_id: str, size: int | None = None, tag: str | None = None
    ) -> None:
        held = self.positions.get((account_id, contract_id))
        if held is None:
            return
        quantity = abs(held.size) if size is None else min(size, abs(held.size))
        self.market(t, account_id, contract_id, SELL if held.size > 0 else BUY, quantity, tag)

    def limit(
        self, t: datetime, account_id: int, contract_id: str, side: int, size: int, price: Decimal
    ) -> None:
        order = Working(self.next_order, account_id, contract_id, side, size, 1, price, t, None)
        self.next_order += 1
        self.orders[order.order_id] = order
        self.order_event(t + timedelta(milliseconds=11), order, 1)

    def cancel(self, t: datetime, account_id: int, contract_id: str | None, symbol: str | None) -> None:
        for order in list(self.orders.values()):
            if order.account_id != account_id:
                continue
            if contract_id is not None and order.contract_id != contract_id:
                continue
            if symbol is not None and root_of(order.contract_id) != symbol:
                continue
            del self.orders[order.order_id]
            self.order_event(t + timedelta(milliseconds=9), order, 3)

    def react(self, decided: datetime, action: Action) -> None:
        """The daemon's enforcer executing a decision ~100 ms later (cancel first, then close)."""
        when = decided + timedelta(milliseconds=self.day.rng.randint(60, 140))
        tag = f"rm:{action.rule}"
        account = action.account_id
        if isinstance(action, CancelOrders):
            self.day.at(when, lambda: self.cancel(when, account, action.contract_id, action.symbol))
        elif isinstance(action, ClosePosition):
            self.day.at(when, lambda: self.close(when, account, action.contract_id, action.size, tag))
        elif isinstance(action, Flatten):

            def flatten() -> None:
                self.cancel(when, account, None, None)
                for acct, contract in sorted(self.positions):
                    if acct == account:
                        self.close(when + timedelta(milliseconds=5), account, contract, None, tag)

            self.day.at(when, flatten)


# ---- the story ----------------------------------------------------------------------------------


def script(day: Day) -> None:
    b = day.broker

    def at(hms: str, run: Callable[[datetime], None]) -> None:
        t = T(hms)
        day.at(t, lambda: run(t))

    at("14:29:00.050", lambda t: b.account_event(t, 7))
    at("14:29:00.061", lambda t: b.account_event(t, 8))
    at("14:30:05.318", lambda t: b.market(t, 7, MNQ, BUY, 4))
    at("14:38:12.140", lambda t: b.market(t, 7, ES, BUY, 2))  # 6 contracts: over the limit of 5
    at("14:55:30.512", lambda t: b.close(t, 7, MNQ))  # take profit
    at("14:55:31.907", lambda t: b.close(t, 7, ES))
    at("15:05:02.210", lambda t: b.market(t, 8, ES, BUY, 2))  # the market then slides
    at("15:20:10.404", lambda t: b.market(t, 7, MNQ, BUY, 2))
    at("15:31:41.733", lambda t: b.close(t, 7, MNQ))  # a stop-out by hand: a losing trade
    at("15:34:20.090", lambda t: b.limit(t, 7, MNQ, BUY, 2, Decimal("20955.00")))  # while in cooldown
    at("15:45:03.377", lambda t: b.market(t, 8, ES, BUY, 1))
    day.emit(T("16:40:00.000"), {"connection": "lost", "hub": "market"})
    day.emit(T("16:40:25.000"), {"connection": "restored", "hub": "market"})
    at("17:30:07.641", lambda t: b.market(t, 8, MNQ, BUY, 1))  # from another platform, while locked


# What the story must make the rules do; the script fails loudly when a change breaks the story.
EXPECTED: tuple[tuple[int, str, str, str], ...] = (
    (7, "RULE-001", "close_position", "max contracts breach reduced"),
    (8, "RULE-004", "close_position", "unrealized-loss limit closes the position"),
    (7, "RULE-007", "lockout", "a losing trade starts a cooldown"),
    (7, "LOCKOUT", "cancel_orders", "an order placed while locked is cancelled"),
    (7, "RULE-007", "unlock", "the cooldown ends"),
    (8, "RULE-003", "flatten", "the daily loss limit flattens"),
    (8, "RULE-003", "lockout", "the daily loss limit locks until the reset"),
    (8, "LOCKOUT", "close_position", "a position opened while locked is closed"),
    (8, "RULE-003", "unlock", "the daily reset unlocks"),
)
END = T("23:05:00")


def generate() -> tuple[bytes, list[tuple[datetime, Action]]]:
    day = Day()
    day.schedule_quotes()
    script(day)
    day.run(END)
    seen = {(a.account_id, a.rule, a.kind) for _, a in day.decisions}
    missing = [why for account, rule, kind, why in EXPECTED if (account, rule, kind) not in seen]
    if missing:
        raise SystemExit("the sample day no longer tells its story; missing: " + "; ".join(missing))
    unlock = [t for t, a in day.decisions if (a.account_id, a.rule, a.kind) == (8, "RULE-003", "unlock")]
    if unlock != [T("23:00:00")]:
        raise SystemExit(f"account 8 should be unlocked by the 17:00 CT reset, got {unlock}")
    buffer = io.BytesIO()
    # mtime=0 and no file name in the header: the same input gives the same bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(b"".join(line + b"\n" for line in day.lines))
    return buffer.getvalue(), day.decisions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the shipped file instead of writing"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    data, decisions = generate()
    if args.check:
        if not args.output.exists() or args.output.read_bytes() != data:
            print(
                f"{args.output} differs from what this script generates (the engine's decisions, and so "
                "the gateway's answers in the recording, changed); regenerate it with "
                "`python examples/make_sample_day.py` and review the demo",
                file=sys.stderr,
            )
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_bytes(data)
    # Replaying the file must give exactly the decisions made while generating it.
    loaded = load_config(CONFIG)
    engine = Engine(loaded.policy(), loaded.calendar(), loaded.contracts())
    replayed = list(replay(read_recording(args.output), engine, until=END))
    if [(t, a.record(t)) for t, a in replayed] != [(t, a.record(t)) for t, a in decisions]:
        print("replaying the written file does not reproduce the generation's decisions", file=sys.stderr)
        return 1
    lines = gzip.decompress(data).count(b"\n")
    kinds: dict[str, int] = {}
    for _, action in decisions:
        kinds[f"{action.rule} {action.kind}"] = kinds.get(f"{action.rule} {action.kind}", 0) + 1
    print(f"wrote {args.output} ({len(data)} bytes, {lines} lines, {len(decisions)} decisions)")
    for key in sorted(kinds):
        print(f"  {key}: {kinds[key]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
