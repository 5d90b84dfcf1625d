"""Crash safety: a driver process streaming a trading day is killed with SIGKILL again and again
(inside commits, between events, during recovery, and at random moments from outside); after each
restart it resumes the feed. The end result must be exactly a clean run's.

"Exactly": the same engine state (snapshot dict equality: P&L, counters, positions, lockouts,
deduplicated trade ids, breach markers), the same lockout history, the same audit decisions (none
lost, none recorded twice), each execution recorded once. And at every crash, each lockout the
driver had acknowledged is in the lockout table with the same start and end.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from stream import stream

from risk_manager.domain.events import TradeEvent
from risk_manager.store.codec import iso
from risk_manager.store.sqlite import Store

DRIVER = Path(__file__).with_name("crash_driver.py")
EVENTS = 3000


def run_driver(db: Path, *args: str) -> tuple[int, list[str]]:
    proc = subprocess.run(
        [sys.executable, str(DRIVER), str(db), "--events", str(EVENTS), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"driver failed ({proc.returncode}):\n{proc.stderr}")
    return proc.returncode, proc.stdout.splitlines()


def acks(lines: list[str]) -> list[dict[str, Any]]:
    return [orjson.loads(line.split(" ", 2)[2]) for line in lines if line.startswith("ACK ")]


def outcome(db: Path) -> dict[str, Any]:
    """Everything a restart must preserve, read from the file as the trader view would."""
    with Store.open(db, readonly=True) as store:
        latest = store.snapshots()[0]
        assert latest.journal_seq == store.last_seq  # a clean close snapshots everything
        return {
            "engine": latest.load(),
            "lockouts": sorted(
                (r.account, r.rule, r.scope, r.symbol, r.since, r.until, r.condition, r.cleared_at)
                for r in store.lockouts()
            ),
            "audit": Counter((r.t, r.account, r.rule, r.kind) for r in store.audit()),
            "trades": sorted(
                (r.account, r.trade_id, r.day, r.pnl, r.fees, r.counted) for r in store.trades()
            ),
            "days": sorted((r.account, r.day, r.realized, r.fees, r.trade_count) for r in store.day_pnl()),
            "resets": sorted((r.account, r.day, r.previous_day) for r in store.resets()),
        }


def lockout_rows(db: Path) -> dict[tuple[Any, ...], Any]:
    with Store.open(db, readonly=True) as store:
        return {
            (r.account, r.rule, r.scope, r.symbol, iso(r.since), None if r.until is None else iso(r.until)): r
            for r in store.lockouts()
        }


def assert_acknowledged_present(db: Path, acknowledged: list[dict[str, Any]]) -> None:
    rows = lockout_rows(db)
    for ack in acknowledged:
        key = (ack["account"], ack["rule"], ack["scope"], ack["symbol"], ack["since"], ack["until"])
        assert key in rows, f"acknowledged lockout lost after a crash: {ack}"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    db = tmp_path_factory.mktemp("clean") / "clean.db"
    code, lines = run_driver(db)
    assert code == 0 and lines[-1].startswith("DONE")
    return outcome(db), acks(lines)


def compare(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["engine"] == want["engine"], "engine state after the crashes differs from a clean run"
    assert got["trades"] == want["trades"], "an execution was lost or recorded twice"
    assert got["days"] == want["days"], "day P&L differs from a clean run"
    assert got["lockouts"] == want["lockouts"]
    assert got["resets"] == want["resets"]
    missing = want["audit"] - got["audit"]
    extra = got["audit"] - want["audit"]
    assert not missing and not extra, (
        f"audit decisions lost {list(missing)[:5]} or repeated {list(extra)[:5]}"
    )


def test_the_clean_run_trips_lockouts_counts_trades_and_crosses_a_reset(
    clean: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    result, acknowledged = clean
    assert len(acknowledged) > 50
    assert {a["rule"] for a in acknowledged} >= {"RULE-003", "RULE-006", "RULE-007", "RULE-010"}
    assert len(result["resets"]) == 3  # one per account at 23:00 UTC
    delivered = [e for _, e in stream(EVENTS) if isinstance(e, TradeEvent)]
    assert len(delivered) > len({(e.account_id, e.trade_id) for e in delivered}) > 500  # duplicates sent
    assert len(result["trades"]) == len({(e.account_id, e.trade_id) for e in delivered})  # each once
    by_day: dict[Any, Decimal] = {}
    for account, _tid, day, pnl, _fees, counted in result["trades"]:
        if counted:
            by_day[(account, day)] = by_day.get((account, day), Decimal(0)) + (pnl or 0)
    assert by_day == {(account, day): realized for account, day, realized, _f, _n in result["days"]}


def test_sigkill_at_fifty_five_points_loses_no_acknowledged_lockout_and_ends_like_a_clean_run(
    tmp_path: Path, clean: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    want, _ = clean
    db = tmp_path / "crashy.db"
    rng = random.Random(20260302)
    acknowledged: list[dict[str, Any]] = []
    kills = Counter[str]()
    # Kill during recovery early on as well as mid-stream.
    plan = ["event:200", "before_commit:1", "after_commit:1", "event:5"]
    finished = False
    while kills.total() < 55:
        if plan:
            spec = plan.pop(0)
        else:
            phase = rng.choice(("event", "event", "before_commit", "after_commit"))
            spec = f"{phase}:{rng.randint(1, 90) if phase == 'event' else rng.randint(1, 12)}"
        code, lines = run_driver(db, "--kill", spec, "--redeliver", str(rng.randint(0, 6)))
        acknowledged += acks(lines)
        if code == 0:
            finished = True
            break
        kills[spec.split(":")[0]] += 1
        assert_acknowledged_present(db, acknowledged)
    assert kills.total() >= 55, f"the stream ended after only {kills.total()} kills: {kills}"
    assert min(kills.values()) >= 5, kills
    if not finished:
        code, lines = run_driver(db)
        acknowledged += acks(lines)
        assert code == 0 and lines[-1].startswith("DONE")
    assert_acknowledged_present(db, acknowledged)
    compare(outcome(db), want)


def test_sigkill_from_outside_at_random_moments_ends_like_a_clean_run(
    tmp_path: Path, clean: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    want, _ = clean
    db = tmp_path / "killed.db"
    rng = random.Random(7)
    acknowledged: list[dict[str, Any]] = []
    killed = 0
    for _ in range(15):
        proc = subprocess.Popen(
            [
                sys.executable,
                str(DRIVER),
                str(db),
                "--events",
                str(EVENTS),
                "--redeliver",
                "4",
                "--pace",
                "0.0002",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Start-up takes ~0.15 s: some kills land while opening or recovering, most mid-stream.
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        lines = out.splitlines()
        acknowledged += acks(lines)
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, err
        killed += 1
        if db.exists():
            assert_acknowledged_present(db, acknowledged)
    code, lines = run_driver(db)
    acknowledged += acks(lines)
    assert code == 0
    assert killed >= 10, f"only {killed} runs were killed before the stream ended"
    assert_acknowledged_present(db, acknowledged)
    compare(outcome(db), want)
