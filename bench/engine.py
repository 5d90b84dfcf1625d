"""Engine throughput on synthetic days. Every quote is evaluated: no throttling.

``--profile default``: 50 accounts, all 13 rules enabled, ~90 % quotes, one position per account.
Prints: decode-only (orjson) rate, normalization rate, events/s through ``Engine.apply`` alone, the
engine's cost relative to decoding, and the wall time of a full replay (decode + normalize + engine,
through the real replay runner) of a recording of --replay-lines lines: in one process, and split
by account over the available cores as `risk-manager replay` does with a recording that large
(replay/split.py; the same decisions, checked by count here and byte for byte in the tests), and
end to end as a user runs it: `risk-manager replay --json` in a new process, every decision written.
Targets (issue 2): >= 200,000 events/s through apply; engine cost <= 3x decode-only cost;
a 1,000,000-line recording replays in under 15 s.

``--profile busy``: the same figures for 50 accounts holding about 25 open positions per contract
(breakeven and trailing on, all 13 rules, ~90 % quotes). Targets (issue 9): engine cost <= 10x
decode-only (moonshot 3x); a 1,000,000-line recording replays in under 15 s.

``--profile copier``: N accounts all long MNQ and ES with rules 003/004/005/012, quotes wandering
inside the quiet bands with a breakout now and then, N = 10, 100, 500, 1000: the engine's cost per quote.
Target (issue 9): at 1,000 positions (500 accounts) within 3x of the cost at 10. The 1,000-account row
(2,000 positions) is printed beside it: with breakouts, every account's trailing stop moves on each
tick of a breakout, so the decisions, and the cost of a quote, grow with N there; the "extra cost per
decision" rows show that a decision costs the same at 100, 500 and 1,000 accounts. Also the resident
memory of an engine holding 5,000 accounts with two positions each (target < 1 GB).

    python bench/engine.py [--profile default|busy|copier] [--lines 300000] [--replay-lines 1000000]
"""

from __future__ import annotations

import argparse
import compileall
import gc
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_day import busy_day, copier_day, synthetic_day

import risk_manager
from risk_manager.broker.normalize import normalize_message, parse_timestamp
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractTable
from risk_manager.domain.events import QuoteEvent
from risk_manager.engine.engine import Engine
from risk_manager.engine.policy import Policy
from risk_manager.replay.reader import read_recording
from risk_manager.replay.runner import replay
from risk_manager.replay.split import SplitReplay, workers_for
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


# The copy-trader set: daily loss with unrealized P&L, per-position stop-loss and take-profit in
# dollars, breakeven and trailing stops.
COPIER_RULES = ("daily_realized_loss", "daily_unrealized_loss", "max_unrealized_profit", "trade_management")


def build_engine(fast_path: bool = True, keys: tuple[str, ...] = RULE_KEYS) -> Engine:
    rules = [
        rule_class(k)(rule_class(k).config_model.model_validate({"enabled": True, **ALL_RULES[k]}))
        for k in keys
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


def row(label: str, value: str, note: str = "") -> None:
    print(f"{label:<42}{value:>18}   {note}")


def rss_mb() -> float:
    """Resident set size of this process now (Linux), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_positions_per_contract(events: list[tuple[datetime, list[Any]]]) -> float:
    """Average number of positions open in the quoted contract when a quote arrives."""
    engine = build_engine()
    total = samples = 0
    for n, (t, evs) in enumerate(events):
        for ev in evs:
            engine.apply(ev, t)
        if n % 997 == 0 and evs and type(evs[0]).__name__ == "QuoteEvent":
            cid = evs[0].contract_id
            total += sum(1 for a in engine.accounts.values() if cid in a.positions)
            samples += 1
    return total / max(samples, 1)


def throughput(lines: list[bytes], runs: int, description: str, *, busy: bool) -> None:
    quotes = sum(1 for line in lines if b'"GatewayQuote"' in line)
    print(f"{description}: {len(lines):,} lines, {quotes / len(lines):.0%} quotes")

    t_decode = best_of(runs, lambda: [orjson.loads(line) for line in lines])
    t_decode_norm = best_of(runs, lambda: decode(lines))
    events = decode(lines)
    n_events = sum(len(evs) for _, evs in events)

    def run_engine() -> None:
        engine = build_engine()
        apply = engine.apply
        for t, evs in events:
            for ev in evs:
                apply(ev, t)

    t_engine = best_of(runs, run_engine)
    engine = build_engine()
    n_actions = sum(len(engine.apply(ev, t)) for t, evs in events for ev in evs)

    if busy:
        row("open positions per quoted contract", f"{open_positions_per_contract(events):.1f}", "about 25")
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
    row("engine.apply alone", f"{n_events / t_engine:,.0f} events/s", "" if busy else "target >= 200,000")
    row(
        "engine cost / decode cost",
        f"{t_engine / t_decode:.2f} x",
        "target <= 10 (moonshot 3)" if busy else "target <= 3",
    )
    row("actions decided", f"{n_actions:,}")


def replay_figure(replay_lines: int, make_lines: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.jsonl"
        with path.open("wb") as fh:
            for line in make_lines(replay_lines):
                fh.write(line + b"\n")
        gc.collect()
        start = time.perf_counter()
        count = sum(1 for _ in replay(read_recording(path), build_engine()))
        serial = time.perf_counter() - start
        workers = workers_for(path, None)
        if workers < 2:
            row(f"replay of {replay_lines:,} lines", f"{serial:.2f} s", f"target < 15 s ({count:,} actions)")
            return
        row(f"replay of {replay_lines:,} lines, 1 process", f"{serial:.2f} s", f"({count:,} actions)")
        # what `risk-manager replay` does with such a file: split by account over the cores
        gc.collect()
        start = time.perf_counter()
        split = SplitReplay(path, build_engine(), workers)
        split_count = sum(1 for _ in split)
        elapsed = time.perf_counter() - start
        assert split_count == count, (split_count, count)
        row(
            f"replay of {replay_lines:,} lines, {workers} workers",
            f"{elapsed:.2f} s",
            f"target < 15 s; {serial / elapsed:.2f}x faster than 1 process",
        )
        row("  CPU time of each worker", ", ".join(f"{s:.2f} s" for s in split.worker_seconds))
        cli_figure(path, count, Path(tmp))


def write_config(directory: Path) -> Path:
    """A config directory holding the rules of ``build_engine`` (the same decisions), for running
    the CLI on a generated day."""
    config = directory / "config"
    config.mkdir()
    rules = {key: {"enabled": True, **settings} for key, settings in ALL_RULES.items()}
    # The engine's session rule has no session hours and decides nothing on these days; a config
    # file must give it hours, so it is left off (the same decisions).
    rules["session_block_outside"]["enabled"] = False
    (config / "risk_config.yaml").write_text(
        yaml.safe_dump({"general": {"timezone": "America/Chicago"}, "rules": rules})
    )
    return config


def compile_package() -> None:
    """Compile the package to bytecode, as `pip install .` leaves it, before timing the CLI: an
    editable checkout under PYTHONDONTWRITEBYTECODE would compile every module from source at each
    start instead."""
    compileall.compile_dir(Path(risk_manager.__file__).parent, quiet=1)


def run_replay_cli(recording: Path, config: Path, out: BinaryIO, *options: str) -> None:
    """`risk-manager replay` in a new process, its output into ``out``; exits on a failure."""
    command = ["replay", str(recording), "-c", str(config), *options]
    done = subprocess.run(
        [sys.executable, "-m", "risk_manager.cli.main", *command],
        stdout=out,
        stderr=subprocess.PIPE,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"replay failed: {done.stderr.decode(errors='replace')}")


def cli_figure(path: Path, count: int, tmp: Path) -> None:
    """The same replay end to end as a user runs it: `risk-manager replay --json` in a new process
    (start-up, config, the split replay, every decision written), with each rule's config as here."""
    config = write_config(tmp)
    out = tmp / "decisions.jsonl"
    compile_package()
    start = time.perf_counter()
    with out.open("wb") as sink:
        run_replay_cli(path, config, sink, "--json")
    elapsed = time.perf_counter() - start
    with out.open("rb") as written:
        printed = sum(1 for _ in written)
    assert printed == count, (printed, count)
    row(
        "  end to end: risk-manager replay --json",
        f"{elapsed:.2f} s",
        "target < 15 s (a new process; every decision written)",
    )


def copier(quotes: int, runs: int, memory_accounts: int) -> None:
    keys = COPIER_RULES
    print(f"copier: N accounts long 1 MNQ + 1 ES, rules {', '.join(keys)}, {quotes:,} quotes")
    if memory_accounts:
        # First, while the process is small: the engine's footprint at scale.
        before = rss_mb()
        engine = build_engine(keys=keys)
        for line in copier_day(memory_accounts, 20_000):
            msg = orjson.loads(line)
            t = parse_timestamp(msg["t"])
            for ev in normalize_message(msg["hub"], msg["target"], msg["arguments"]):
                engine.apply(ev, t)
        positions = sum(len(a.positions) for a in engine.accounts.values())
        after = rss_mb()
        row(
            f"memory, {memory_accounts:,} accounts",
            f"{after:,.0f} MB RSS",
            f"target < 1024 MB ({positions:,} positions; engine share {after - before:,.0f} MB)",
        )
        del engine
        gc.collect()
    inside: dict[int, float] = {}  # per-quote cost with quotes inside the bands only, by N
    for label, breakout_every in (("quotes inside the bands only", 10**12), ("with breakouts", 5000)):
        every = "" if breakout_every > quotes else f" (about one per {breakout_every:,} quotes of a contract)"
        print(f"{label}{every}:")
        streams = {n: _copier_stream(n, quotes, breakout_every) for n in COPIER_ACCOUNTS}
        # Round robin: each N runs once per round, so that a slow spell of a shared machine falls on
        # every N alike; the best of the rounds is kept for each.
        best: dict[int, tuple[float, int]] = {}
        for _ in range(runs):
            for n, (setup, stream) in streams.items():
                elapsed, decided = _run_copier(keys, setup, stream)
                if n not in best or elapsed < best[n][0]:
                    best[n] = (elapsed, decided)
        per_quote: dict[int, float] = {}
        for n, (_, stream) in streams.items():
            n_quotes = sum(len(evs) for _, evs in stream)
            elapsed, decided = best[n]
            per_quote[n] = elapsed / n_quotes
            ratio = per_quote[n] / per_quote[10]
            target = {500: " (target <= 3: the issue's '1,000 positions')"}.get(n, "")
            row(
                f"  per quote, {n:,} accounts ({2 * n:,} pos.)",
                f"{per_quote[n] * 1e6:.2f} us",
                f"{ratio:.2f} x the cost at 10{target}; {decided:,} actions",
            )
            if n not in inside:
                inside[n] = per_quote[n]
            elif decided:
                # what a decision costs: the extra time over quotes that stay inside, per action
                extra = (per_quote[n] - inside[n]) * n_quotes / decided
                if decided < 1000 or extra * decided < 0.1 * per_quote[n] * n_quotes:
                    # the decisions' share of the run is smaller than the machine's run-to-run noise
                    # (at 10 accounts a few hundred decisions cost ~5 ms of a 0.2 s run)
                    row("    extra cost per decision", "within noise", f"{decided:,} actions: too few")
                else:
                    row("    extra cost per decision", f"{extra * 1e6:.1f} us")


# Accounts in the copier runs. The target names "1,000 positions" against N = 10, 100, 1,000
# accounts of two positions each: the 500-account row (1,000 positions) carries the target, and the
# 1,000-account row (2,000 positions) is printed beside it.
COPIER_ACCOUNTS = (10, 100, 500, 1000)


def _copier_stream(n: int, quotes: int, breakout_every: int) -> tuple[list[Any], list[Any]]:
    """The copier day of ``n`` accounts, decoded: (the opening: positions, fills, stops; the quotes)."""
    events = decode(list(copier_day(n, quotes, breakout_every=breakout_every)))
    split = 1 + max(i for i, (_, evs) in enumerate(events) if any(type(e) is not QuoteEvent for e in evs))
    return events[:split], events[split:]


def _run_copier(keys: tuple[str, ...], setup: list[Any], stream: list[Any]) -> tuple[float, int]:
    """(seconds the quote stream took through a fresh engine after the opening, actions decided)."""
    engine = build_engine(keys=keys)
    for t, evs in setup:
        for ev in evs:
            engine.apply(ev, t)
    gc.collect()
    decided = 0
    start = time.perf_counter()
    apply = engine.apply
    for t, evs in stream:
        for ev in evs:
            decided += len(apply(ev, t))
    return time.perf_counter() - start, decided


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=("default", "busy", "copier"), default="default")
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--replay-lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--copier-quotes", type=int, default=200_000)
    parser.add_argument("--memory-accounts", type=int, default=5_000)
    args = parser.parse_args()

    if args.profile == "copier":
        copier(args.copier_quotes, args.runs, args.memory_accounts)
        return
    make_lines = busy_day if args.profile == "busy" else synthetic_day
    lines = list(make_lines(args.lines))
    day = "busy day" if args.profile == "busy" else "synthetic day"
    description = f"{day}, 50 accounts, all 13 rules"
    throughput(lines, args.runs, description, busy=args.profile == "busy")
    if args.replay_lines:
        replay_figure(args.replay_lines, make_lines)


if __name__ == "__main__":
    main()
