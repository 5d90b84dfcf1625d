"""Hot reload in a daemon running against the simulated gateway: a valid change applies at once and
leaves an audit row saying what changed, an invalid one keeps the running config, a loosened limit
keeps a lockout already taken, and the watcher picks up an edit by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, running, write_config
from notify_fakes import ChatApi
from sim_helpers import Api, run

from risk_manager.config.edit import parse_typed_value, set_values, write_edits
from risk_manager.daemon.app import Daemon
from risk_manager.domain.actions import Alert
from risk_manager.engine.timers import TimerKind

LOSS_RULES = {"daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False}}


def edit(config: Path, name: str, dotted: tuple[str | int, ...], raw: str) -> None:
    write_edits(config, [set_values(config, name, [(dotted, parse_typed_value(raw), raw)])])


def reload_rows(daemon: Daemon) -> list[object]:
    store = daemon.persistent.store  # type: ignore[union-attr]
    return [r for r in store.audit(0, rule="config") if r.kind == "config_reload"]


def describe_loss_rule(daemon: Daemon) -> str:
    rule_set = daemon.persistent.engine.policy.rules_for(ACCOUNT)  # type: ignore[union-attr]
    assert rule_set is not None
    return next(r.describe() for r in rule_set.rules if r.id == "RULE-003")


def test_a_loosened_loss_limit_applies_at_once_and_keeps_the_lockout_already_taken(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw, Api(gw) as trader:
            es = gw.contract_id("ES")
            gw.set_price(es, "6000.00")
            config = write_config(tmp_path / "config", LOSS_RULES)
            async with running(gw, config, tmp_path / "data") as daemon:
                await trader.login()
                await trader.place(account=ACCOUNT, contract=es, size=1)
                await eventually(lambda: positions(gw) == {es: 1}, what="the position open")
                gw.set_price(es, "5985.00")  # -750 USD
                await trader.place(account=ACCOUNT, contract=es, side=1, size=1)
                engine = daemon.persistent.engine  # type: ignore[union-attr]
                await eventually(lambda: engine.accounts[ACCOUNT].lockouts, what="the RULE-003 lockout")
                [before] = list(engine.accounts[ACCOUNT].lockouts)

                edit(config, "risk_config.yaml", ("rules", "daily_realized_loss", "limit"), "-1000")
                outcome = await daemon.reload_config("test")

                assert outcome.applied and outcome.error is None
                assert outcome.changes == ["rules.daily_realized_loss.limit: -500 → -1000"]
                assert "-1000" in describe_loss_rule(daemon)
                assert list(engine.accounts[ACCOUNT].lockouts) == [before]  # same rule, same end
                [row] = reload_rows(daemon)
                assert row.reason == "rules.daily_realized_loss.limit: -500 → -1000"  # type: ignore[attr-defined]
                assert row.outcome == "applied" and row.note == "test"  # type: ignore[attr-defined]
                await trader.place(account=ACCOUNT, contract=es, size=1)  # still locked: closed at once
                await eventually(lambda: positions(gw) == {}, what="the position opened while locked closed")

    run(body, timeout=30)


def test_an_invalid_change_keeps_the_running_config_and_says_why(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "config", LOSS_RULES)
            async with running(gw, config, tmp_path / "data") as daemon:
                running_rule = describe_loss_rule(daemon)
                path = config / "risk_config.yaml"
                path.write_text(path.read_text().replace("-500", "250"))  # a loss limit must be negative

                outcome = await daemon.reload_config("test")

                assert not outcome.applied and outcome.changes == []
                assert outcome.error is not None
                assert "risk_config.yaml:" in outcome.error and "daily_realized_loss.limit" in outcome.error
                assert describe_loss_rule(daemon) == running_rule
                assert daemon.config.risk.rules.daily_realized_loss.limit == -500  # type: ignore[attr-defined]
                [row] = reload_rows(daemon)
                assert row.outcome.startswith("refused: risk_config.yaml:")  # type: ignore[attr-defined]

    run(body, timeout=30)


def test_a_new_daily_reset_time_moves_the_engines_next_reset(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "config", LOSS_RULES)
            async with running(gw, config, tmp_path / "data") as daemon:
                engine = daemon.persistent.engine  # type: ignore[union-attr]

                def next_reset() -> str:
                    when = min(t.when for t in engine.timers() if t.kind == TimerKind.RESET)
                    return engine.calendar.show(when)

                assert "17:00" in next_reset()
                edit(config, "timers.yaml", ("daily_reset", "time"), "16:15")
                outcome = await daemon.reload_config("test")

                assert outcome.applied
                assert outcome.changes == ["timers.yaml daily_reset.time: 17:00 → 16:15"]
                assert "16:15" in next_reset()

    run(body, timeout=30)


def test_gateway_settings_are_reported_as_needing_a_restart_not_applied(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "config", LOSS_RULES, gw)
            async with running(gw, config, tmp_path / "data") as daemon:
                edit(config, "api_config.yaml", ("connection", "request_timeout"), "5")
                edit(config, "api_config.yaml", ("projectx", "api_key"), "another-key")

                outcome = await daemon.reload_config("test")

                assert not outcome.applied and outcome.error is None
                assert outcome.changes == [
                    "api_config.yaml projectx.api_key: *** → *** (changed) (needs a restart)",
                    "api_config.yaml connection.request_timeout: 2 → 5 (needs a restart)",
                ]
                assert "another-key" not in repr(outcome) + repr(reload_rows(daemon))

    run(body, timeout=30)


def test_the_watcher_reloads_an_edited_file_by_itself(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "config", LOSS_RULES)
            async with running(gw, config, tmp_path / "data") as daemon:
                await daemon.reloader.stop()  # again with a short debounce, for a quick test
                daemon.reloader.debounce_ms = 50
                daemon.reloader.start()
                await asyncio.sleep(0.2)  # the watch is set up
                edit(config, "risk_config.yaml", ("rules", "daily_realized_loss", "limit"), "-250")

                await eventually(lambda: "-250" in describe_loss_rule(daemon), timeout=10, what="the reload")
                [row] = reload_rows(daemon)
                assert row.note == "watch" and row.outcome == "applied"  # type: ignore[attr-defined]

    run(body, timeout=30)


def test_a_new_notification_channel_is_used_at_once_and_hears_of_a_refused_change(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw, ChatApi() as chat:
            config = write_config(tmp_path / "config", LOSS_RULES)
            async with running(gw, config, tmp_path / "data") as daemon:
                alerts: list[Alert] = []
                daemon.alert = alerts.append
                before = daemon.notifications
                webhook = ("general", "notifications", "discord_webhook")
                edit(config, "risk_config.yaml", webhook, chat.discord_url)

                outcome = await daemon.reload_config("test")

                assert outcome.changes == ["general.notifications.discord_webhook: null → ***"]
                assert chat.discord_url not in repr(outcome)  # the webhook embeds a token: a secret
                await eventually(lambda: daemon.notifications is not before, what="the channels rebuilt")
                edit(config, "risk_config.yaml", ("rules", "daily_realized_loss", "limit"), "0")
                refused = await daemon.reload_config("test")

                assert refused.error is not None and not refused.applied
                [alert] = alerts
                assert alert.level == "warning" and "the running config stays" in alert.message
                await eventually(
                    lambda: "the running config stays" in orjson.dumps(chat.delivered("discord")).decode(),
                    timeout=10, what="the refusal notified",
                )

    run(body, timeout=30)
