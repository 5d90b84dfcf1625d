"""What a hot reload does to the engine, on an explicit clock: a loosened limit keeps the lockout
already taken, a new reset time moves the next reset, and both survive a restart (the reload is
snapshotted, so recovery never replays old events under the new config)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from risk_manager.config.loader import LoadedConfig, load_config_texts
from risk_manager.daemon.persistent import PersistentEngine
from risk_manager.daemon.recovery import recover
from risk_manager.engine.engine import Engine
from risk_manager.engine.timers import TimerKind
from risk_manager.store.sqlite import Store

from engine_helpers import ACCOUNT, MNQ, T0, trade

RISK = "rules:\n  daily_realized_loss: {{enabled: true, limit: {limit}, include_unrealized: false}}\n"
TIMERS = 'daily_reset: {{time: "{time}", timezone: America/Chicago}}\n'


def config(limit: int, reset: str) -> LoadedConfig:
    return load_config_texts({"risk_config.yaml": RISK.format(limit=limit),
                              "timers.yaml": TIMERS.format(time=reset)})


def engine_of(loaded: LoadedConfig) -> Engine:
    return Engine(loaded.policy(), loaded.calendar(), loaded.contracts())


def next_reset(engine: Engine) -> str:
    return engine.calendar.show(min(t.when for t in engine.timers() if t.kind == TimerKind.RESET))


def test_a_loosened_limit_keeps_the_lockout_and_a_new_reset_time_holds_after_a_restart(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "risk.db")
    persistent = PersistentEngine(engine_of(config(-500, "17:00")), store)
    persistent.decide(trade(1, MNQ, "21000", pnl="-600"), T0)
    [lockout] = list(persistent.engine.accounts[ACCOUNT].lockouts)
    assert lockout.rule == "RULE-003" and "17:00" in next_reset(persistent.engine)

    looser = config(-1000, "16:00")
    later = T0 + timedelta(minutes=5)
    persistent.engine.update_calendar(looser.calendar(), later)
    decisions = persistent.update_policy(looser.policy(), later)

    assert decisions == []  # nothing ends, nothing is enforced
    assert list(persistent.engine.accounts[ACCOUNT].lockouts) == [lockout]
    assert "16:00" in next_reset(persistent.engine)
    persistent.close()

    restarted, _report = recover(Store.open(tmp_path / "risk.db"), lambda: engine_of(looser), later)
    try:
        assert list(restarted.engine.accounts[ACCOUNT].lockouts) == [lockout]
        assert "16:00" in next_reset(restarted.engine)
    finally:
        restarted.close()
