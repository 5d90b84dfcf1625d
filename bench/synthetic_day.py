"""Synthetic but realistic recorded trading days (FORMATS.md lines), for benchmarks.

``synthetic_day``: 50 accounts trade six front-month contracts during the regular session, one open
position per account at a time; about 90 % of the lines are quotes (a random walk on the tick grid
with bursts), the rest the user-hub traffic of round trips: order placed and filled, the execution
(with profitAndLoss on closing fills), the position snapshot, the account balance, and a protective
stop for most positions.

``busy_day``: the same traffic, but each account holds up to four positions at once in different
contracts, so about 25 positions are open in every contract at any time.

``copier_day``: N copy-traded accounts all long MNQ and ES from the same entry, with protective stops;
then quotes that wander a few ticks around a centre, and now and then break out (a run of 30 ticks
that moves breakeven and trailing stops) to a new centre.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson

CONTRACTS = {  # contract id -> (start price, tick size, tick value)
    "CON.F.US.MNQ.H26": (Decimal("21000.00"), Decimal("0.25"), Decimal("0.50")),
    "CON.F.US.ENQ.H26": (Decimal("21000.00"), Decimal("0.25"), Decimal("5.00")),
    "CON.F.US.EP.H26": (Decimal("5800.00"), Decimal("0.25"), Decimal("12.50")),
    "CON.F.US.MES.H26": (Decimal("5800.00"), Decimal("0.25"), Decimal("1.25")),
    "CON.F.US.CLE.J26": (Decimal("71.50"), Decimal("0.01"), Decimal("10.00")),
    "CON.F.US.GCE.J26": (Decimal("2650.0"), Decimal("0.1"), Decimal("10.00")),
}
COPIER_CONTRACTS = ("CON.F.US.MNQ.H26", "CON.F.US.EP.H26")
START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 08:30 CT
SESSION_SECONDS = 6.5 * 3600


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class DayWriter:
    """Builds the recording lines of one day; ``t`` is the time stamped on the next line."""

    def __init__(self, accounts: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.prices = {cid: spec[0] for cid, spec in CONTRACTS.items()}
        self.t = START
        self.ids = {"order": 1000, "trade": 5000, "position": 100}
        self.balance = {7 + a: Decimal(50000) for a in range(accounts)}
        self.pending: list[bytes] = []

    def user(self, target: str, payload: dict[str, object]) -> bytes:
        return orjson.dumps({"t": _ts(self.t), "hub": "user", "target": target, "arguments": [payload]})

    def quote(self, cid: str) -> bytes:
        _, tick, _ = CONTRACTS[cid]
        p = float(self.prices[cid])
        t = _ts(self.t)
        return orjson.dumps(
            {
                "t": t,
                "hub": "market",
                "target": "GatewayQuote",
                "arguments": [
                    cid,
                    {
                        "symbol": "F.US." + cid.split(".")[3],
                        "lastPrice": p,
                        "bestBid": p - float(tick),
                        "bestAsk": p,
                        "timestamp": t,
                    },
                ],
            }
        )

    def order_msg(
        self,
        acc: int,
        oid: int,
        cid: str,
        status: int,
        typ: int,
        side: int,
        size: int,
        stop: Decimal | None = None,
        filled: Decimal | None = None,
    ) -> bytes:
        return self.user(
            "GatewayUserOrder",
            {
                "id": oid,
                "accountId": acc,
                "contractId": cid,
                "symbolId": "F.US." + cid.split(".")[3],
                "creationTimestamp": _ts(self.t),
                "updateTimestamp": _ts(self.t),
                "status": status,
                "type": typ,
                "side": side,
                "size": size,
                "limitPrice": None,
                "stopPrice": None if stop is None else float(stop),
                "fillVolume": size if status == 2 else 0,
                "filledPrice": None if filled is None else float(filled),
                "customTag": None,
            },
        )

    def fill(self, acc: int, cid: str, side: int, size: int, pnl: Decimal | None) -> None:
        ids = self.ids
        ids["order"] += 1
        ids["trade"] += 1
        price = self.prices[cid]
        oid = ids["order"]
        self.pending.append(self.order_msg(acc, oid, cid, 1, 2, side, size))
        self.pending.append(self.order_msg(acc, oid, cid, 2, 2, side, size, filled=price))
        self.pending.append(
            self.user(
                "GatewayUserTrade",
                {
                    "id": ids["trade"],
                    "accountId": acc,
                    "contractId": cid,
                    "creationTimestamp": _ts(self.t),
                    "price": float(price),
                    "profitAndLoss": None if pnl is None else float(pnl),
                    "fees": 0.37 * size,
                    "side": side,
                    "size": size,
                    "voided": False,
                    "orderId": oid,
                },
            )
        )

    def position(self, acc: int, cid: str, size: int, entry: Decimal, long: bool) -> None:
        """The position snapshot (``size`` unsigned, 0 = closed)."""
        self.ids["position"] += 1
        self.pending.append(
            self.user(
                "GatewayUserPosition",
                {
                    "id": self.ids["position"],
                    "accountId": acc,
                    "contractId": cid,
                    "creationTimestamp": _ts(self.t),
                    "type": 1 if long else 2,
                    "size": size,
                    "averagePrice": float(entry),
                },
            )
        )

    def account(self, acc: int) -> None:
        self.pending.append(
            self.user(
                "GatewayUserAccount",
                {
                    "id": acc,
                    "name": f"50K-{acc}",
                    "balance": float(self.balance[acc]),
                    "canTrade": True,
                    "isVisible": True,
                    "simulated": True,
                },
            )
        )

    def random_quote(self, cids: list[str]) -> bytes:
        rng = self.rng
        cid = rng.choice(cids)
        _, tick, _ = CONTRACTS[cid]
        burst = 3 if rng.random() < 0.05 else 1
        self.prices[cid] += tick * rng.choice((-1, 1)) * burst
        return self.quote(cid)

    def close(self, acc: int, cid: str, size: int, entry: Decimal, stop_id: int | None) -> None:
        _, tick, tick_value = CONTRACTS[cid]
        pnl = (self.prices[cid] - entry) / tick * tick_value * size
        self.fill(acc, cid, 1 if size > 0 else 0, abs(size), pnl)
        if stop_id is not None:
            self.pending.append(self.order_msg(acc, stop_id, cid, 3, 4, 1 if size > 0 else 0, abs(size)))
        self.position(acc, cid, 0, entry, size > 0)
        self.balance[acc] += pnl - Decimal("0.37") * abs(size)
        self.account(acc)

    def open(self, acc: int, cid: str, size: int) -> tuple[Decimal, int | None]:
        """Fill, position and (most of the time) a protective stop 40 ticks away: (entry, stop id)."""
        entry = self.prices[cid]
        self.fill(acc, cid, 0 if size > 0 else 1, abs(size), None)
        self.position(acc, cid, abs(size), entry, size > 0)
        stop_id = None
        if self.rng.random() < 0.8:
            self.ids["order"] += 1
            stop_id = self.ids["order"]
            _, tick, _ = CONTRACTS[cid]
            stop = entry - 40 * tick if size > 0 else entry + 40 * tick
            self.pending.append(
                self.order_msg(acc, stop_id, cid, 1, 4, 1 if size > 0 else 0, abs(size), stop=stop)
            )
        return entry, stop_id


def synthetic_day(lines: int, accounts: int = 50, seed: int = 7, quote_share: float = 0.9) -> Iterator[bytes]:
    """Yield ``lines`` recording lines (bytes, no newline) of one trading day."""
    w = DayWriter(accounts, seed)
    rng = w.rng
    cids = list(CONTRACTS)
    step = timedelta(seconds=SESSION_SECONDS / lines)
    # account -> (contract, signed size, entry price, stop order id) of its open position
    open_pos: dict[int, tuple[str, int, Decimal, int | None]] = {}
    # A round trip writes about 6.5 user lines per decision; pick decisions so that quotes make up
    # ``quote_share`` of all lines.
    decision_share = (1 - quote_share) / 6.5
    for _ in range(lines):
        w.t += step
        if w.pending:
            yield w.pending.pop(0)
            continue
        if rng.random() >= decision_share:
            yield w.random_quote(cids)
            continue
        acc = 7 + rng.randrange(accounts)
        if acc in open_pos:  # close the position
            w.close(acc, *open_pos.pop(acc))
        else:  # open one
            cid = rng.choice(cids)
            size = rng.choice((1, 1, 2, 3)) * rng.choice((1, -1))
            entry, stop_id = w.open(acc, cid, size)
            open_pos[acc] = (cid, size, entry, stop_id)
        yield w.pending.pop(0)


def busy_day(
    lines: int, accounts: int = 50, per_account: int = 4, seed: int = 11, quote_share: float = 0.9
) -> Iterator[bytes]:
    """Like synthetic_day, but each account holds up to ``per_account`` positions in different
    contracts (three on average: about 25 open positions per contract with 50 accounts)."""
    w = DayWriter(accounts, seed)
    rng = w.rng
    cids = list(CONTRACTS)
    step = timedelta(seconds=SESSION_SECONDS / lines)
    # account -> contract -> (signed size, entry price, stop order id)
    open_pos: dict[int, dict[str, tuple[int, Decimal, int | None]]] = {7 + a: {} for a in range(accounts)}
    decision_share = (1 - quote_share) / 6.5
    for _ in range(lines):
        w.t += step
        if w.pending:
            yield w.pending.pop(0)
            continue
        if rng.random() >= decision_share:
            yield w.random_quote(cids)
            continue
        acc = 7 + rng.randrange(accounts)
        held = open_pos[acc]
        if len(held) < per_account and (not held or rng.random() < 0.75):
            cid = rng.choice([c for c in cids if c not in held])
            size = rng.choice((1, 1, 2, 3)) * rng.choice((1, -1))
            entry, stop_id = w.open(acc, cid, size)
            held[cid] = (size, entry, stop_id)
        else:
            cid = rng.choice(sorted(held))
            w.close(acc, cid, *held.pop(cid))
        yield w.pending.pop(0)


def copier_day(accounts: int, quotes: int, seed: int = 3, breakout_every: int = 5000) -> Iterator[bytes]:
    """``accounts`` accounts long 1 MNQ and 1 ES from the same prices with stops 40 ticks away, then
    ``quotes`` quotes: a walk within 6 ticks of a centre, and about every ``breakout_every`` quotes a
    30-tick run in one direction, after which the walk goes on around a centre 16 ticks further."""
    w = DayWriter(accounts, seed)
    rng = w.rng
    for cid in COPIER_CONTRACTS:
        yield w.quote(cid)
    for a in range(accounts):
        for cid in COPIER_CONTRACTS:
            w.open(7 + a, cid, 1)
            yield from w.pending
            w.pending.clear()
    centre = {cid: w.prices[cid] for cid in COPIER_CONTRACTS}
    offset = dict.fromkeys(COPIER_CONTRACTS, 0)
    run: dict[str, int] = {}  # contract -> ticks still to go in the current breakout (signed)
    step = timedelta(milliseconds=50)
    for _ in range(quotes):
        w.t += step
        cid = rng.choice(COPIER_CONTRACTS)
        _, tick, _ = CONTRACTS[cid]
        if cid in run:
            direction = 1 if run[cid] > 0 else -1
            w.prices[cid] += tick * direction
            run[cid] -= direction
            if run[cid] == 0:
                del run[cid]
                centre[cid] = w.prices[cid] - 14 * tick * direction
                offset[cid] = 0
                w.prices[cid] = centre[cid]
        elif rng.random() < 1 / breakout_every:
            run[cid] = 30 * rng.choice((1, -1))
        else:
            offset[cid] = max(-6, min(6, offset[cid] + rng.choice((-1, 1))))
            w.prices[cid] = centre[cid] + offset[cid] * tick
        yield w.quote(cid)
