"""A synthetic but realistic recorded trading day (FORMATS.md lines), for benchmarks.

50 accounts trade six front-month contracts during the regular session; about 90 % of the lines are
quotes (a random walk on the tick grid with bursts), the rest the user-hub traffic of round trips:
order placed and filled, the execution (with profitAndLoss on closing fills), the position snapshot,
the account balance, and a protective stop for most positions.
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
START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 08:30 CT
SESSION_SECONDS = 6.5 * 3600


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def synthetic_day(lines: int, accounts: int = 50, seed: int = 7, quote_share: float = 0.9) -> Iterator[bytes]:
    """Yield ``lines`` recording lines (bytes, no newline) of one trading day."""
    rng = random.Random(seed)
    prices = {cid: spec[0] for cid, spec in CONTRACTS.items()}
    cids = list(CONTRACTS)
    step = timedelta(seconds=SESSION_SECONDS / lines)
    t = START
    ids = {"order": 1000, "trade": 5000, "position": 100}
    # account -> (contract, signed size, entry price, stop order id) of its open position
    open_pos: dict[int, tuple[str, int, Decimal, int | None]] = {}
    balance = {7 + a: Decimal(50000) for a in range(accounts)}
    pending: list[bytes] = []

    def user(target: str, payload: dict[str, object]) -> bytes:
        return orjson.dumps({"t": _ts(t), "hub": "user", "target": target, "arguments": [payload]})

    def order_msg(
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
        return user(
            "GatewayUserOrder",
            {
                "id": oid,
                "accountId": acc,
                "contractId": cid,
                "symbolId": "F.US." + cid.split(".")[3],
                "creationTimestamp": _ts(t),
                "updateTimestamp": _ts(t),
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

    def fill(acc: int, cid: str, side: int, size: int, pnl: Decimal | None) -> None:
        ids["order"] += 1
        ids["trade"] += 1
        price = prices[cid]
        oid = ids["order"]
        pending.append(order_msg(acc, oid, cid, 1, 2, side, size))
        pending.append(order_msg(acc, oid, cid, 2, 2, side, size, filled=price))
        pending.append(
            user(
                "GatewayUserTrade",
                {
                    "id": ids["trade"],
                    "accountId": acc,
                    "contractId": cid,
                    "creationTimestamp": _ts(t),
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

    # A round trip writes about 6.5 user lines per decision; pick decisions so that quotes make up
    # ``quote_share`` of all lines.
    decision_share = (1 - quote_share) / 6.5
    for _ in range(lines):
        t += step
        if pending:
            yield pending.pop(0)
            continue
        if rng.random() >= decision_share:
            cid = rng.choice(cids)
            _, tick, _ = CONTRACTS[cid]
            burst = 3 if rng.random() < 0.05 else 1
            prices[cid] += tick * rng.choice((-1, 1)) * burst
            p = float(prices[cid])
            yield orjson.dumps(
                {
                    "t": _ts(t),
                    "hub": "market",
                    "target": "GatewayQuote",
                    "arguments": [
                        cid,
                        {
                            "symbol": "F.US." + cid.split(".")[3],
                            "lastPrice": p,
                            "bestBid": p - float(tick),
                            "bestAsk": p,
                            "timestamp": _ts(t),
                        },
                    ],
                }
            )
            continue
        acc = 7 + rng.randrange(accounts)
        if acc in open_pos:  # close the position
            cid, size, entry, stop_id = open_pos.pop(acc)
            _, tick, tick_value = CONTRACTS[cid]
            pnl = (prices[cid] - entry) / tick * tick_value * size
            fill(acc, cid, 1 if size > 0 else 0, abs(size), pnl)
            if stop_id is not None:
                pending.append(order_msg(acc, stop_id, cid, 3, 4, 1 if size > 0 else 0, abs(size)))
            ids["position"] += 1
            pending.append(
                user(
                    "GatewayUserPosition",
                    {
                        "id": ids["position"],
                        "accountId": acc,
                        "contractId": cid,
                        "creationTimestamp": _ts(t),
                        "type": 1 if size > 0 else 2,
                        "size": 0,
                        "averagePrice": float(entry),
                    },
                )
            )
            balance[acc] += pnl - Decimal("0.37") * abs(size)
            pending.append(
                user(
                    "GatewayUserAccount",
                    {
                        "id": acc,
                        "name": f"50K-{acc}",
                        "balance": float(balance[acc]),
                        "canTrade": True,
                        "isVisible": True,
                        "simulated": True,
                    },
                )
            )
            yield pending.pop(0)
        else:  # open one
            cid = rng.choice(cids)
            size = rng.choice((1, 1, 2, 3)) * rng.choice((1, -1))
            entry = prices[cid]
            fill(acc, cid, 0 if size > 0 else 1, abs(size), None)
            ids["position"] += 1
            pending.append(
                user(
                    "GatewayUserPosition",
                    {
                        "id": ids["position"],
                        "accountId": acc,
                        "contractId": cid,
                        "creationTimestamp": _ts(t),
                        "type": 1 if size > 0 else 2,
                        "size": abs(size),
                        "averagePrice": float(entry),
                    },
                )
            )
            stop_id = None
            if rng.random() < 0.8:
                ids["order"] += 1
                stop_id = ids["order"]
                _, tick, _ = CONTRACTS[cid]
                stop = entry - 40 * tick if size > 0 else entry + 40 * tick
                pending.append(order_msg(acc, stop_id, cid, 1, 4, 1 if size > 0 else 0, abs(size), stop=stop))
            open_pos[acc] = (cid, size, entry, stop_id)
            yield pending.pop(0)
