"""Decision fingerprints of the benchmark streams: the count and a sha256 of every action's repr.

A change meant to make the engine faster must leave every decision, reason and input byte for byte
as it was: run this before and after and compare the lines.

- busy: the busy day (``--lines``) through ``Engine.apply``;
- default: the default synthetic day (``--lines``);
- copier: 1,000 accounts, 20,000 quotes, a breakout about every 500 quotes of a contract;
- replay: the busy day (``--replay-lines``) written to a file and read back through the real
  reader and replay runner;
- split: the same file replayed split by account over two worker processes: the same line as
  replay.

    python bench/fingerprint.py [--lines 100000] [--replay-lines 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from engine import COPIER_RULES, build_engine, decode
from synthetic_day import busy_day, copier_day, synthetic_day

from risk_manager.engine.engine import Engine
from risk_manager.replay.reader import read_recording
from risk_manager.replay.runner import replay
from risk_manager.replay.split import SplitReplay


def fingerprint(decisions: Iterable[Any]) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    for decision in decisions:
        digest.update(repr(decision).encode())
        count += 1
    return count, digest.hexdigest()[:16]


def applied(events: list[tuple[Any, list[Any]]], engine: Engine) -> Iterator[Any]:
    for t, evs in events:
        for ev in evs:
            yield from engine.apply(ev, t)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--replay-lines", type=int, default=100_000)
    args = parser.parse_args()
    print("busy   ", *fingerprint(applied(decode(list(busy_day(args.lines))), build_engine())))
    print("default", *fingerprint(applied(decode(list(synthetic_day(args.lines))), build_engine())))
    copier = decode(list(copier_day(1000, 20_000, breakout_every=500)))
    print("copier ", *fingerprint(applied(copier, build_engine(keys=COPIER_RULES))))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.jsonl"
        with path.open("wb") as fh:
            for line in busy_day(args.replay_lines):
                fh.write(line + b"\n")
        print("replay ", *fingerprint(replay(read_recording(path), build_engine())))
        print("split  ", *fingerprint(SplitReplay(path, build_engine(), 2)))


if __name__ == "__main__":
    main()
