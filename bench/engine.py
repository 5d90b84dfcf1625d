"""Engine throughput on a synthetic day: 50 accounts, all 13 rules enabled, ~90 % quotes.

Prints: decode-only (orjson) rate, normalization rate, events/s through ``Engine.apply`` alone, the
engine's cost relative to decoding, and the wall time of a full replay (decode + normalize + engine,
through the real replay runner) of a recording of --replay-lines lines.

    python bench/engine.py [--lines 300000] [--replay-lines 1000000]

Targets (issue 2): >= 200,000 events/s through apply; engine cost <= 3x decode-only cost;
a 1,000,000-line recording replays in under 15 s. Every quote is evaluated: no throttling.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_day import synthetic_day

from risk_manager.broker.normalize import normalize_message, parse_timestamp
from risk_manager.domain.contracts import ContractTable
from risk_manager.engine.calendar import TradingCalendar
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.replay.reader import read_recording
from risk_manager.replay.runner import replay
from risk_manager.rules.registry import RULE_KEYS, rule_class

# Every rule on, with limits a busy day crosses now and then.
ALL_RULES: dict[str, dict[str, Any]] = {
    "max_contracts": {"limit": 5},
    "max_contracts_per_instrument": {"default_limit": 3, "instrument_limits": {"MNQ": 3, "ES": 2}},
    "daily_realized_loss": {"limit": -2000},
    "daily_unrealized_loss": {"limit": -300},
    "max_unrealized_profit": {"target": 1500},
    "trade_frequency_limit": {"per_minute": 5, "per_hour": 60, "per_session": 400},
    "cooldown_after_loss": {"tiers": [{"loss": -250, "cooldown": "1m"}, {"loss": -500, "cooldown": "5m"}]},
    "no_stop_loss_grace": {"grace_period_seconds": 10},
    "session_block_outside": {},
    "auth_loss_guard": {},
    "symbol_blocks": {"blocked_symbols": ["RTY"]},
    "trade_management": {},
    "daily_realized_profit": {"target": 3000},
}


def build_engine(fast_path: bool = True) -> Engine:
    rules = [
        rule_class(k)(rule_class(k).config_model.model_validate({"enabled": True, **ALL_RULES[k]}))
        for k in RULE_KEYS
    ]
    return Engine(Policy.uniform(rules), TradingCalendar(), ContractTable(), fast_path=fast_path)


def decode(lines: list[bytes]) -> list[tuple[datetime, list[Any]]]:
    out = []
    for line in lines:
        msg = orjson.loads(line)
        out.append(
            (parse_timestamp(msg["t"]), normalize_message(msg["hub"], msg["target"], msg["arguments"]))
        )
    return out


def best_of(runs: int, fn: Any) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--replay-lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    lines = list(synthetic_day(args.lines))
    quotes = sum(1 for line in lines if b'"GatewayQuote"' in line)
    print(f"synthetic day: {len(lines):,} lines, {quotes / len(lines):.0%} quotes, 50 accounts, all 13 rules")

    t_decode = best_of(args.runs, lambda: [orjson.loads(line) for line in lines])
    t_decode_norm = best_of(args.runs, lambda: decode(lines))
    events = decode(lines)
    n_events = sum(len(evs) for _, evs in events)

    def run_engine() -> None:
        engine = build_engine()
        apply = engine.apply
        for t, evs in events:
            for ev in evs:
                apply(ev, t)

    t_engine = best_of(args.runs, run_engine)
    engine = build_engine()
    n_actions = sum(len(engine.apply(ev, t)) for t, evs in events for ev in evs)

    def row(label: str, value: str, note: str = "") -> None:
        print(f"{label:<32}{value:>24}   {note}")

    row(
        "decode only (orjson)",
        f"{len(lines) / t_decode:,.0f} lines/s",
        f"{t_decode * 1e6 / len(lines):.2f} us/line",
    )
    row(
        "decode + normalize",
        f"{len(lines) / t_decode_norm:,.0f} lines/s",
        f"{t_decode_norm * 1e6 / len(lines):.2f} us/line",
    )
    row("engine.apply alone", f"{n_events / t_engine:,.0f} events/s", "target >= 200,000")
    row("engine cost / decode cost", f"{t_engine / t_decode:.2f} x", "target <= 3")
    row("actions decided", f"{n_actions:,}")

    if args.replay_lines:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "day.jsonl"
            with path.open("wb") as fh:
                for line in synthetic_day(args.replay_lines):
                    fh.write(line + b"\n")
            gc.collect()
            start = time.perf_counter()
            count = sum(1 for _ in replay(read_recording(path), build_engine()))
            elapsed = time.perf_counter() - start
            row(
                f"replay of {args.replay_lines:,} lines",
                f"{elapsed:.2f} s",
                f"target < 15 s ({count:,} actions)",
            )


if __name__ == "__main__":
    main()
