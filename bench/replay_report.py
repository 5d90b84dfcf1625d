"""What `replay FILE --html OUT.html` costs on a big day: wall time of the CLI with and without the
report, the report's size, and the points per account on its charts.

The day is bench/synthetic_day.py's (50 accounts, six contracts, about 90 % quotes), replayed with a
config holding the rules a trader would run (RULE-001, RULE-003 with a profit target, RULE-007).

    python bench/replay_report.py [--lines 1000000] [--profile default|busy]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_day import busy_day, synthetic_day

CONFIG = """\
general: {timezone: America/Chicago, warn_at: [0.5, 0.9]}
rules:
  max_contracts: {enabled: true, limit: 5, count_type: gross, enforcement: reduce_to_limit}
  daily_realized_loss: {enabled: true, limit: -500, include_unrealized: true, include_fees: true}
  daily_realized_profit: {enabled: true, target: 1000}
  cooldown_after_loss: {enabled: true, close_positions: false, tiers: [{loss: -100, cooldown: 5m}]}
"""


def row(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<38} {value:>16}  {note}")


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "risk_manager.cli.main", *args], capture_output=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"replay failed: {done.stderr.decode(errors='replace')}")
    return elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--profile", choices=("default", "busy"), default="default")
    args = parser.parse_args()
    make = synthetic_day if args.profile == "default" else busy_day
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "config").mkdir()
        (root / "config" / "risk_config.yaml").write_text(CONFIG, encoding="utf-8")
        day = root / "day.jsonl"
        with day.open("wb") as fh:
            for line in make(args.lines):
                fh.write(line + b"\n")
        base = ("replay", str(day), "--config", str(root / "config"), "--json", "--summary")
        print(f"replay --html, {args.profile} synthetic day of {args.lines:,} lines")
        plain, _ = timed(*base)
        out = root / "report.html"
        with_html, _ = timed(*base, "--html", str(out))
        row("replay (--json --summary)", f"{plain:.2f} s")
        row("same with --html", f"{with_html:.2f} s", f"+{(with_html / plain - 1) * 100:.0f} %")
        row("report size", f"{out.stat().st_size / 1e6:.2f} MB")
        html = out.read_text(encoding="utf-8")
        found = re.search(r'id="report-data">(.*?)</script>', html, re.S)
        assert found is not None
        data = orjson.loads(found.group(1))
        points = [len(a["t"]) for a in data["accounts"]]
        row("accounts charted", f"{len(points)}")
        row("points per account (max / mean)", f"{max(points):,} / {sum(points) // len(points):,}")
        row("decisions in the report", f"{data['decision_count']:,}")


if __name__ == "__main__":
    main()
