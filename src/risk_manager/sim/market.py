"""Market simulator: front-month contracts, a seeded random walk with bursts, quotes/trades/depth, bars.

Prices live as integer ticks, so every price the simulator produces is on the contract's tick grid by
construction; they become Decimal (money) or float (JSON) only at the edges. Time comes from the
injected clock: ``step()`` generates the quotes for the clock time elapsed since the previous step, so a
test with a ManualClock and a seed gets the same market every run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ..domain.contracts import DEFAULT_SPECS, MONTH_CODES, ContractSpec, contract_id_for, parse_contract_id
from ..domain.contracts import ROOT_TO_PRODUCT as _ROOT_TO_PRODUCT
from .clock import Clock
from .hours import MarketHours
from .wire import Stamp, iso

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

QUARTERLY = (3, 6, 9, 12)
GOLD_MONTHS = (2, 4, 6, 8, 10, 12)


@dataclass(frozen=True, slots=True)
class Profile:
    """How a root trades in the simulator: start price and quote activity."""

    base: Decimal  # typical price level
    calm_rate: float  # quote updates per second in a calm market
    burst_rate: float  # quote updates per second during a burst
    move_p: float  # probability that one update moves bid/ask by a tick


PROFILES: Mapping[str, Profile] = {
    "MNQ": Profile(Decimal("21000"), 8, 250, 0.35),
    "NQ": Profile(Decimal("21000"), 12, 350, 0.35),
    "ES": Profile(Decimal("6000"), 12, 350, 0.22),
    "MES": Profile(Decimal("6000"), 8, 250, 0.22),
    "YM": Profile(Decimal("44000"), 6, 180, 0.3),
    "MYM": Profile(Decimal("44000"), 4, 120, 0.3),
    "RTY": Profile(Decimal("2300"), 6, 180, 0.3),
    "M2K": Profile(Decimal("2300"), 4, 120, 0.3),
    "CL": Profile(Decimal("70.00"), 10, 300, 0.3),
    "MCL": Profile(Decimal("70.00"), 5, 150, 0.3),
    "GC": Profile(Decimal("3300.0"), 8, 250, 0.3),
    "MGC": Profile(Decimal("3300.0"), 5, 150, 0.3),
}
DEFAULT_PROFILE = Profile(Decimal("1000"), 5, 150, 0.3)


@dataclass(frozen=True, slots=True)
class SimContract:
    """One listed contract, with the ProjectX naming (id, symbolId, name)."""

    id: str  # CON.F.US.MNQ.H26
    root: str  # CME root, MNQ
    product: str  # ProjectX product code, MNQ / ENQ / EP ...
    month: int
    year: int  # four digits
    tick_size: Decimal
    tick_value: Decimal
    description: str

    @property
    def name(self) -> str:
        return f"{self.root}{MONTH_CODES[self.month - 1]}{self.year % 100:02d}"

    @property
    def symbol_id(self) -> str:
        return f"F.US.{self.product}"

    @property
    def symbol_name(self) -> str:
        return f"/{self.root}"

    @property
    def decimals(self) -> int:
        exponent = self.tick_size.normalize().as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else 0

    def price(self, ticks: int) -> Decimal:
        return Decimal(ticks) * self.tick_size

    def ticks_of(self, price: Decimal) -> int | None:
        """Integer ticks of a price, or None when it is off the tick grid."""
        q = price / self.tick_size
        return int(q) if q == q.to_integral_value() else None

    def payload(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "tickSize": float(self.tick_size),
            "tickValue": float(self.tick_value),
            "activeContract": True,
            "symbolId": self.symbol_id,
        }


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + timedelta(days=offset + 14)


def _months_from(today: date) -> Iterable[tuple[int, int]]:
    y, m = today.year, today.month
    for _ in range(30):
        yield y, m
        m += 1
        if m > 12:
            y, m = y + 1, 1


def _prev_month(year: int, month: int) -> tuple[int, int]:
    return (year, month - 1) if month > 1 else (year - 1, 12)


def front_month(root: str, today: date) -> tuple[int, int]:
    """(month, year) of the contract most traders hold on ``today``.

    Equity indices (quarterly H M U Z) roll 8 days before the third-Friday expiry; crude oil rolls to
    the next month around the 15th of the month before delivery (expiry is ~20th); gold (G J M Q V Z)
    rolls around the 25th of the month before delivery. Approximations good enough for a simulator.
    """
    if root in ("CL", "MCL"):
        for y, m in _months_from(today):
            py, pm = _prev_month(y, m)
            if today < date(py, pm, 15):
                return m, y
    elif root in ("GC", "MGC"):
        for y, m in _months_from(today):
            py, pm = _prev_month(y, m)
            if m in GOLD_MONTHS and today < date(py, pm, 25):
                return m, y
    else:
        for y, m in _months_from(today):
            if m in QUARTERLY and today < _third_friday(y, m) - timedelta(days=8):
                return m, y
    raise AssertionError(f"no front month found for {root} on {today}")  # pragma: no cover


def build_contracts(today: date, specs: Mapping[str, ContractSpec] = DEFAULT_SPECS) -> dict[str, SimContract]:
    """Front-month contracts of every root in the table, keyed by contract id."""
    out: dict[str, SimContract] = {}
    for root, spec in specs.items():
        month, year = front_month(root, today)
        cid = contract_id_for(root, month, year)
        product = _ROOT_TO_PRODUCT.get(root, root)
        desc = f"{spec.description}: {MONTH_NAMES[month - 1]} {year}" if spec.description else cid
        out[cid] = SimContract(cid, root, product, month, year, spec.tick_size, spec.tick_value, desc)
    return out


# ---- order book state ------------------------------------------------------------------------------


class Book:
    """Top of book and session statistics of one contract, in ticks."""

    __slots__ = (
        "acc",
        "ask",
        "ask_size",
        "bid",
        "bid_size",
        "burst_until",
        "contract",
        "digits",
        "drift",
        "high",
        "last",
        "low",
        "open",
        "profile",
        "session",
        "settle",
        "tick_f",
        "updated",
        "volume",
    )

    def __init__(
        self, contract: SimContract, profile: Profile, ticks: int, when: datetime, session: date
    ) -> None:
        self.contract = contract
        self.profile = profile
        self.tick_f = float(contract.tick_size)
        self.digits = contract.decimals
        self.bid = ticks
        self.ask = ticks + 1
        self.last = ticks
        self.bid_size = 10
        self.ask_size = 10
        self.open = ticks
        self.high = ticks
        self.low = ticks
        self.settle = ticks  # prior session close: reference of change / changePercent
        self.volume = 0
        self.updated = when
        self.session = session
        self.acc = 0.0  # fractional quote count carried between steps
        self.burst_until: datetime | None = None
        self.drift = 0.0

    def pf(self, ticks: int) -> float:
        """Ticks as a JSON float printing as the short decimal on the grid (21000.25, 70.23)."""
        return round(ticks * self.tick_f, self.digits)

    def quote_payload(self, stamp: Stamp = iso) -> dict[str, object]:
        pf = self.pf
        ts = stamp(self.updated)
        return {
            "symbol": self.contract.symbol_id,
            "symbolName": self.contract.symbol_name,
            "lastPrice": pf(self.last),
            "bestBid": pf(self.bid),
            "bestAsk": pf(self.ask),
            "change": pf(self.last - self.settle),
            "changePercent": round((self.last - self.settle) / self.settle * 100, 2) if self.settle else 0.0,
            "open": pf(self.open),
            "high": pf(self.high),
            "low": pf(self.low),
            "volume": self.volume,
            "lastUpdated": ts,
            "timestamp": ts,
        }

    def depth_snapshot(self, rng: random.Random, stamp: Stamp = iso) -> list[dict[str, object]]:
        ts = stamp(self.updated)
        pf = self.pf
        entries: list[dict[str, object]] = [
            {"timestamp": ts, "type": 6, "price": 0.0, "volume": 0, "currentVolume": 0}  # Reset
        ]
        for level in range(10):
            vol = self.ask_size if level == 0 else 5 + int(rng.random() * 40)
            entries.append(
                {
                    "timestamp": ts,
                    "type": 1,
                    "price": pf(self.ask + level),
                    "volume": vol,
                    "currentVolume": vol,
                }
            )
        for level in range(10):
            vol = self.bid_size if level == 0 else 5 + int(rng.random() * 40)
            entries.append(
                {
                    "timestamp": ts,
                    "type": 2,
                    "price": pf(self.bid - level),
                    "volume": vol,
                    "currentVolume": vol,
                }
            )
        entries.append(
            {
                "timestamp": ts,
                "type": 3,
                "price": pf(self.ask),
                "volume": self.ask_size,
                "currentVolume": self.ask_size,
            }
        )
        entries.append(
            {
                "timestamp": ts,
                "type": 4,
                "price": pf(self.bid),
                "volume": self.bid_size,
                "currentVolume": self.bid_size,
            }
        )
        return entries


@dataclass(slots=True)
class MarketUpdate:
    """One change of a contract's market: a quote, maybe with a trade print."""

    contract_id: str
    book: Book
    when: datetime
    trade_price: int | None = None  # ticks
    trade_size: int = 0
    trade_type: int = 0  # TradeLogType: 0 buy, 1 sell (aggressor)
    moved: bool = True  # bid/ask changed

    def trade_payload(self, stamp: Stamp = iso) -> list[dict[str, object]]:
        assert self.trade_price is not None
        return [
            {
                "symbolId": self.book.contract.symbol_id,
                "price": self.book.pf(self.trade_price),
                "timestamp": stamp(self.when),
                "type": self.trade_type,
                "volume": self.trade_size,
            }
        ]

    def depth_payload(self, stamp: Stamp = iso) -> list[dict[str, object]]:
        b = self.book
        ts = stamp(self.when)
        out: list[dict[str, object]] = []
        if self.trade_price is not None:
            out.append(
                {
                    "timestamp": ts,
                    "type": 5,
                    "price": b.pf(self.trade_price),
                    "volume": self.trade_size,
                    "currentVolume": 0,
                }
            )
        out.append(
            {
                "timestamp": ts,
                "type": 3,
                "price": b.pf(b.ask),
                "volume": b.ask_size,
                "currentVolume": b.ask_size,
            }
        )
        out.append(
            {
                "timestamp": ts,
                "type": 4,
                "price": b.pf(b.bid),
                "volume": b.bid_size,
                "currentVolume": b.bid_size,
            }
        )
        return out


class PriceError(ValueError):
    """A requested price that the contract cannot trade at (off the tick grid, not positive, crossed)."""


class MarketSimulator:
    """Seeded random walk per contract, calm most of the time, with bursts of hundreds of quotes/s."""

    MAX_CATCH_UP = 2.0  # seconds of quotes generated at most for one step (clock jumps in tests)
    MEAN_CALM = 45.0  # mean seconds between bursts
    TRADE_P = 0.55  # probability that an update carries a trade print

    def __init__(
        self,
        contracts: Mapping[str, SimContract],
        clock: Clock,
        hours: MarketHours,
        seed: int = 0,
        profiles: Mapping[str, Profile] = PROFILES,
        stamp: Stamp = iso,
    ) -> None:
        self.contracts = dict(contracts)
        self.stamp = stamp  # how hub payload timestamps are written (the live gateway's style or ours)
        self.clock = clock
        self.hours = hours
        self.seed = seed
        self.rng = random.Random(seed)
        self.on_update: Callable[[MarketUpdate], None] | None = None
        self._rate_override: dict[str, float] = {}
        now = clock.now()
        session = hours.session_date(now)
        self.books: dict[str, Book] = {}
        for cid in sorted(self.contracts):
            c = self.contracts[cid]
            profile = profiles.get(c.root, DEFAULT_PROFILE)
            jitter = Decimal(str(round(self.rng.uniform(-0.01, 0.01), 6)))
            start = profile.base * (1 + jitter)
            ticks = max(1, int(start / c.tick_size))
            self.books[cid] = Book(c, profile, ticks, now, session)
        self._last_step = now
        self.updates = 0

    # ---- reading --------------------------------------------------------------------------------

    def book(self, contract_id: str) -> Book:
        try:
            return self.books[contract_id]
        except KeyError:
            raise KeyError(
                f"unknown contract {contract_id!r}; listed: {', '.join(sorted(self.books))}"
            ) from None

    def is_open(self, now: datetime | None = None) -> bool:
        return self.hours.is_open(now or self.clock.now())

    # ---- moving the market ------------------------------------------------------------------------

    def set_rate(self, contract_id: str, rate: float | None) -> None:
        """Force a contract's quote rate (updates/s), e.g. a firehose for benchmarks; None restores."""
        self.book(contract_id)
        if rate is None:
            self._rate_override.pop(contract_id, None)
        elif rate < 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be a finite number >= 0, got {rate!r}")
        else:
            self._rate_override[contract_id] = rate

    def step(self, now: datetime | None = None) -> int:
        """Generate the quotes for the clock time elapsed since the last step; returns how many."""
        now = now or self.clock.now()
        dt = (now - self._last_step).total_seconds()
        if dt <= 0:
            return 0
        start = self._last_step
        self._last_step = now
        session = self.hours.session_date(now)
        is_open = self.hours.is_open(now)
        count = 0
        for cid, book in self.books.items():
            if book.session != session:
                self._new_session(book, session)
            if not is_open:
                book.acc = 0.0
                continue
            count += self._step_book(cid, book, start, now, dt)
        self.updates += count
        return count

    def _new_session(self, book: Book, session: date) -> None:
        book.session = session
        book.settle = book.last
        book.open = book.high = book.low = book.last
        book.volume = 0

    def _step_book(self, cid: str, book: Book, start: datetime, now: datetime, dt: float) -> int:
        rng = self.rng
        override = self._rate_override.get(cid)
        if override is None:
            if book.burst_until is not None and now >= book.burst_until:
                book.burst_until = None
                book.drift = 0.0
            if book.burst_until is None and rng.random() < 1.0 - math.exp(-dt / self.MEAN_CALM):
                book.burst_until = now + timedelta(seconds=rng.uniform(1.0, 6.0))
                book.drift = rng.uniform(-0.2, 0.2)
            rate = book.profile.burst_rate if book.burst_until is not None else book.profile.calm_rate
        else:
            rate = override
        span = min(dt, self.MAX_CATCH_UP)
        book.acc += rate * span
        n = int(book.acc)
        if n <= 0:
            return 0
        book.acc -= n
        first = now - timedelta(seconds=span) if span < dt else start
        step = (now - first) / n
        on_update = self.on_update
        for i in range(1, n + 1):
            update = self._walk(cid, book, first + step * i)
            if on_update is not None:
                on_update(update)
        return n

    def _walk(self, cid: str, book: Book, when: datetime) -> MarketUpdate:
        r = self.rng.random
        moved = False
        if r() < book.profile.move_p:
            moved = True
            if book.ask - book.bid > 1 and r() < 0.5:
                # a wide spread (after a manual price set) closes in one tick at a time
                if r() < 0.5:
                    book.ask -= 1
                else:
                    book.bid += 1
            elif r() < 0.5 + book.drift:
                book.bid += 1
                book.ask += 1
            elif book.bid > 1:
                book.bid -= 1
                book.ask -= 1
        book.bid_size = 1 + int(r() * 30)
        book.ask_size = 1 + int(r() * 30)
        update = MarketUpdate(cid, book, when, moved=moved)
        if r() < self.TRADE_P:
            buy = r() < 0.5 + book.drift
            size = 1 + int(r() * r() * 8)
            price = book.ask if buy else book.bid
            book.last = price
            book.volume += size
            if price > book.high:
                book.high = price
            if price < book.low:
                book.low = price
            update.trade_price, update.trade_size, update.trade_type = price, size, 0 if buy else 1
        book.updated = when
        return update

    def set_price(
        self, contract_id: str, price: Decimal, bid: Decimal | None = None, ask: Decimal | None = None
    ) -> MarketUpdate:
        """Move a contract's market to ``price`` now (a one-lot print there); bid = price and
        ask = price + 1 tick unless given. Raises PriceError for prices the contract cannot have."""
        book = self.book(contract_id)
        c = book.contract

        def ticks(value: Decimal, what: str) -> int:
            t = c.ticks_of(value)
            if t is None:
                raise PriceError(f"{what} {value} is not a multiple of {c.id} tick size {c.tick_size}")
            if t <= 0:
                raise PriceError(f"{what} {value} must be positive")
            return t

        last = ticks(price, "price")
        b = ticks(bid, "bid") if bid is not None else last
        a = ticks(ask, "ask") if ask is not None else (b + 1 if bid is not None else last + 1)
        if b >= a:
            raise PriceError(f"bid {c.price(b)} must be below ask {c.price(a)}")
        when = self.clock.now()
        trade_type = 0 if last >= book.last else 1
        book.bid, book.ask, book.last = b, a, last
        book.volume += 1
        book.high = max(book.high, last)
        book.low = min(book.low, last)
        book.updated = when
        update = MarketUpdate(contract_id, book, when, last, 1, trade_type, True)
        self.updates += 1
        if self.on_update is not None:
            self.on_update(update)
        return update

    # ---- history --------------------------------------------------------------------------------

    def bars(
        self,
        contract_id: str,
        start: datetime,
        end: datetime,
        unit: int,
        unit_number: int,
        limit: int,
        include_partial: bool,
    ) -> list[dict[str, object]]:
        """Synthetic OHLCV bars, newest first, ending at the live price; deterministic per seed."""
        book = self.book(contract_id)
        now = self.clock.now()
        stop = min(end, now)
        history = _History(self.seed, book, now)
        out: list[dict[str, object]] = []
        bar_start = _bar_start(stop if stop < now else now, unit, unit_number)
        guard = 0
        while len(out) < limit and guard < limit * 4 + 1000:
            guard += 1
            bar_end = _bar_end(bar_start, unit, unit_number)
            if bar_end <= start:
                break
            partial = bar_end > now
            if bar_start >= end or (partial and not include_partial) or bar_start > stop:
                bar_start = _bar_start(bar_start - timedelta(microseconds=1), unit, unit_number)
                continue
            if unit <= 3 and not self._any_open(bar_start, bar_end):
                last_open = self._last_open_before(bar_start)
                if last_open is None or last_open <= start:
                    break
                bar_start = _bar_start(last_open, unit, unit_number)
                continue
            out.append(history.bar(bar_start, min(bar_end, now)))
            bar_start = _bar_start(bar_start - timedelta(microseconds=1), unit, unit_number)
        return out

    def _any_open(self, a: datetime, b: datetime) -> bool:
        if self.hours.always_open:
            return True
        span = (b - a).total_seconds()
        probes = 1 if span <= 60 else min(48, int(span // 1800) + 2)
        return any(
            self.hours.is_open(a + (b - a) * (i / probes)) for i in range(probes)
        ) or self.hours.is_open(b - timedelta(microseconds=1))

    def _last_open_before(self, t: datetime) -> datetime | None:
        """Latest instant before ``t`` with the market open (just before the latest 16:00 CT close)."""
        from .hours import CHICAGO, SESSION_CLOSE

        local = t.astimezone(CHICAGO)
        day = local.date() if local.time() >= SESSION_CLOSE else local.date() - timedelta(days=1)
        for _ in range(10):
            close = datetime.combine(day, SESSION_CLOSE, tzinfo=CHICAGO).astimezone(UTC)
            probe = close - timedelta(microseconds=1)
            if probe < t and self.hours.is_open(probe):
                return probe
            day -= timedelta(days=1)
        return None


_UNIT_SECONDS = {1: 1, 2: 60, 3: 3600}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)


def _bar_start(t: datetime, unit: int, n: int) -> datetime:
    t = t.astimezone(UTC)
    if unit in _UNIT_SECONDS:
        size = _UNIT_SECONDS[unit] * n
        secs = math.floor((t - _EPOCH).total_seconds() / size) * size
        return _EPOCH + timedelta(seconds=secs)
    if unit == 4:
        days = (t - _EPOCH).days // n * n
        return _EPOCH + timedelta(days=days)
    if unit == 5:
        weeks = math.floor((t - _MONDAY).total_seconds() / (7 * 86400 * n)) * n
        return _MONDAY + timedelta(days=7 * weeks)
    if unit == 6:
        months = ((t.year - 1970) * 12 + t.month - 1) // n * n
        return datetime(1970 + months // 12, months % 12 + 1, 1, tzinfo=UTC)
    raise ValueError(f"bar unit {unit} is not 1..6")


def _bar_end(start: datetime, unit: int, n: int) -> datetime:
    if unit in _UNIT_SECONDS:
        return start + timedelta(seconds=_UNIT_SECONDS[unit] * n)
    if unit == 4:
        return start + timedelta(days=n)
    if unit == 5:
        return start + timedelta(days=7 * n)
    months = start.year * 12 + start.month - 1 + n
    return datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)


_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a fast, well-spread integer hash for reproducible per-bar noise."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


class _History:
    """A smooth deterministic price path P(t): waves + hashed noise, shifted to end at the live price."""

    def __init__(self, seed: int, book: Book, now: datetime) -> None:
        self.book = book
        self.key = _mix(
            seed * 1_000_003 + sum(ord(ch) * 31**i for i, ch in enumerate(book.contract.id)) & _M64
        )
        base_ticks = book.settle or book.last
        self.amps = (base_ticks * 0.006, base_ticks * 0.002, base_ticks * 0.0006)
        self.periods = (86400.0, 3600.0 * 3.7, 420.0)
        self.phases = tuple((_mix(self.key + i) % 6283) / 1000.0 for i in range(3))
        self.offset = book.last - self._wave(now.timestamp())

    def _wave(self, t: float) -> float:
        return sum(
            a * math.sin(2 * math.pi * t / p + ph)
            for a, p, ph in zip(self.amps, self.periods, self.phases, strict=True)
        )

    def _noise(self, t: float, salt: int) -> float:
        return (_mix(self.key ^ (int(t) * 7919 + salt)) % 10_000) / 10_000.0

    def price(self, t: float) -> int:
        return max(1, round(self.offset + self._wave(t) + (self._noise(t, 1) - 0.5) * 4))

    def bar(self, start: datetime, end: datetime) -> dict[str, object]:
        a, b = start.timestamp(), end.timestamp()
        pts = [self.price(a + (b - a) * k / 3) for k in range(4)]
        if b - a <= 1:
            pts = [self.price(a)] * 2
        o, c = pts[0], pts[-1]
        spread = max(1, int(self._noise(a, 2) * 3))
        h = max(pts) + (spread if b - a > 1 else 0)
        low = min(pts) - (spread if b - a > 1 else 0)
        pf = self.book.pf
        volume = max(1, int((b - a) * (0.5 + self._noise(a, 3)) * self.book.profile.calm_rate * 0.6))
        return {"t": iso(start), "o": pf(o), "h": pf(h), "l": pf(max(1, low)), "c": pf(c), "v": volume}


def parse_listed(contract_id: str, contracts: Mapping[str, SimContract]) -> tuple[SimContract | None, bool]:
    """(contract, well_formed): the listed contract for an id, and whether the id parses at all."""
    c = contracts.get(contract_id)
    if c is not None:
        return c, True
    try:
        parse_contract_id(contract_id)
    except ValueError:
        return None, False
    return None, True
