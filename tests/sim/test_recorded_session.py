"""A session recorded from the simulator in the live shape, and its bare twin, replayed.

``tests/data/live-session/live.jsonl`` carries what the live gateway does differently (PROJECTX.md
§2b): wrapped arguments, absent fields, repeated trades and account updates, Pending orders, Suspended
bracket legs, a rejected order, commissions. ``bare.jsonl`` is the same scripted session with
``--bare``. Both must lead to the same decisions, and in both the day's P&L must equal the change of
the account balance. (A recording of the simulator, not of a real account: the simulator's fidelity to
the real session is what test_live_behaviour.py pins.)
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import orjson
import pytest
from session_recorder import DATA, FILES, dump, record
from sim_helpers import run

from risk_manager.config.loader import load_config
from risk_manager.domain.actions import Alert
from risk_manager.engine.engine import Engine
from risk_manager.replay.reader import read_recording
from risk_manager.replay.runner import replay

CONFIG = DATA / "config"


def lines(mode: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in FILES[mode].read_bytes().splitlines()]


@pytest.mark.parametrize("mode", ["live", "bare"])
def test_the_committed_recordings_are_what_the_simulator_sends_today(mode: str) -> None:
    recorded = run(lambda: record(bare=mode == "bare"), timeout=60)
    assert dump(recorded) == FILES[mode].read_bytes(), (
        f"the simulator changed: regenerate with `python tests/sim/session_recorder.py` if meant ({mode})"
    )


def test_the_live_recording_has_everything_the_live_gateway_does_differently() -> None:
    user = [line for line in lines("live") if line["hub"] == "user"]
    data = [(line["target"], line["arguments"][0]) for line in user]
    assert all(set(arg) == {"action", "data"} for _, arg in data)
    trades = [arg["data"] for target, arg in data if target == "GatewayUserTrade"]
    orders = [arg["data"] for target, arg in data if target == "GatewayUserOrder"]
    assert any("profitAndLoss" not in t for t in trades) and all(t["commissions"] > 0 for t in trades)
    ids = [t["id"] for t in trades]
    assert len(ids) > len(set(ids))  # the repeated trade after each close
    statuses = {o["status"] for o in orders}
    assert {6, 8, 5, 2, 1, 3} <= statuses  # Pending, Suspended, Rejected, Filled, Open, Cancelled
    targets = [target for target, _ in data]
    assert any(a == b == "GatewayUserAccount" for a, b in itertools.pairwise(targets))
    quotes = [line["arguments"][1] for line in lines("live") if line["hub"] == "market"]
    assert quotes and all("open" not in q for q in quotes)  # partial: the session open never changes


def _replay_cli(mode: str) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "risk_manager.cli.main", "replay", str(FILES[mode])]
    result = subprocess.run(
        [*command, "--config", str(CONFIG), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_the_live_and_bare_twins_replay_to_the_same_decisions() -> None:
    live, bare = _replay_cli("live"), _replay_cli("bare")

    def decision(record: dict[str, Any]) -> dict[str, Any]:
        # Reasons name order ids (the live gateway creates the refused order, so ids shift by one)
        # and P&L figures (the live one has commissions); the decision itself must be the same.
        return {k: v for k, v in record.items() if k not in ("reason", "message")}

    assert [decision(r) for r in live] == [decision(r) for r in bare]
    rules = {(r["rule"], r["action"]) for r in live}
    assert {("RULE-001", "close_position"), ("RULE-003", "flatten"), ("RULE-007", "lockout")} <= rules
    assert ("LOCKOUT", "cancel_orders") in rules and ("LOCKOUT", "close_position") in rules


@pytest.mark.parametrize("mode", ["live", "bare"])
def test_the_replayed_day_pnl_equals_the_balance_change(mode: str) -> None:
    loaded = load_config(CONFIG)
    engine = Engine(loaded.policy(), loaded.calendar(), loaded.contracts())
    actions = [action for _, action in replay(read_recording(FILES[mode]), engine)]
    assert not [a for a in actions if isinstance(a, Alert) and a.rule == "BALANCE"]
    balances = [
        Decimal(str(line["arguments"][0].get("data", line["arguments"][0])["balance"]))
        for line in lines(mode)
        if line["target"] == "GatewayUserAccount"
    ]
    day = engine.accounts[7].day
    assert day.net_realized(True) == balances[-1] - balances[0]
    assert day.opening_balance == balances[0]
    assert (day.commissions > 0) == (mode == "live")
