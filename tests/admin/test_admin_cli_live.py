"""`risk-manager admin …` against a daemon running on the simulated gateway: an edit is applied at
once and says so, a credentials change says it needs a restart, a hand edit the loader refuses is
reported by `config reload` while the running config stays, and `unlock` goes through the control API."""

from __future__ import annotations

from pathlib import Path

from admin_cli import admin_async
from control_helpers import daemon_with_lockout
from daemon_helpers import ACCOUNT, live_gateway, running, write_config
from sim_helpers import run

from risk_manager.daemon.app import Daemon

RULES = {"daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False}}


def loss_limit(daemon: Daemon) -> object:
    return daemon.config.risk.rules.daily_realized_loss.limit  # type: ignore[attr-defined]


def test_config_set_on_a_running_daemon_is_applied_now_and_says_so(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "config", RULES)
            data = tmp_path / "data"
            async with running(gw, config, data) as daemon:
                code, out, err = await admin_async(config, data, "config", "set", "daily_realized_loss.limit",
                                                   "-1000")

                assert code == 0, err
                assert out.splitlines() == [
                    "changed rules.daily_realized_loss.limit: -500 → -1000",
                    "applied now: rules.daily_realized_loss.limit: -500 → -1000",
                ]
                assert loss_limit(daemon) == -1000
                rule_set = daemon.persistent.engine.policy.rules_for(ACCOUNT)  # type: ignore[union-attr]
                assert rule_set is not None and any("-1000" in r.describe() for r in rule_set.rules)

    run(body, timeout=60)


def test_new_credentials_on_a_running_daemon_say_they_need_a_restart(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "config", RULES)
            data = tmp_path / "data"
            async with running(gw, config, data):
                empty = await admin_async(config, data, "api", "set-credentials", "--username", "trader2",
                                          "--api-key-stdin")
                assert empty[0] == 2 and "both a username and an API key are needed" in empty[2]
                assert not (config / "api_config.yaml").exists()  # refused before anything is written

                code, out, err = await admin_async(config, data, "api", "set-credentials", "--username",
                                                   "trader2", "--api-key-stdin", stdin="n3w-k3y\n")

                assert code == 0, err
                assert "n3w-k3y" not in out + err
                later = "not in effect until the daemon restarts: api_config.yaml projectx"
                assert out.splitlines()[-2:] == [
                    f"{later}.username: null → trader2 (needs a restart)",
                    f"{later}.api_key: null → *** (needs a restart)",
                ]

    run(body, timeout=60)


def test_config_reload_reports_a_refused_hand_edit_and_applies_the_fixed_one(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "config", RULES)
            data = tmp_path / "data"
            async with running(gw, config, data) as daemon:
                daemon.reloader.debounce_ms = 60_000  # only the command reloads in this test
                await daemon.reloader.stop()
                path = config / "risk_config.yaml"
                text = path.read_text()
                path.write_text(text.replace("-500", "500"))

                code, _out, err = await admin_async(config, data, "config", "reload")
                assert code == 1
                assert "keeps the running one" in err and "limit must be negative" in err
                assert loss_limit(daemon) == -500

                path.write_text(text.replace("-500", "-300"))
                code, out, err = await admin_async(config, data, "config", "reload")
                assert code == 0, err
                assert out.splitlines() == ["applied now: rules.daily_realized_loss.limit: -500 → -300"]
                assert loss_limit(daemon) == -300

    run(body, timeout=60)


def test_unlock_goes_through_the_control_api_only_when_allowed(tmp_path: Path) -> None:
    async def refused() -> None:
        async with daemon_with_lockout(tmp_path / "off") as (_gw, daemon, data):
            config = tmp_path / "off" / "c"
            code, _out, err = await admin_async(config, data, "unlock", str(ACCOUNT), "--reason", "coach ok")
            assert code == 1 and "admin.allow_unlock" in err
            assert daemon.persistent.engine.accounts[ACCOUNT].lockouts  # type: ignore[union-attr]

    async def allowed() -> None:
        async with daemon_with_lockout(tmp_path / "on", admin={"allow_unlock": True}) as (_gw, daemon, data):
            config = tmp_path / "on" / "c"
            why = "fat finger, checked with the coach"
            code, out, err = await admin_async(config, data, "unlock", str(ACCOUNT), "--reason", why,
                                               "--rule", "symbol_blocks")
            assert code == 0, err
            assert f"account {ACCOUNT}: RULE-011 MNQ lockout ended" in out
            assert not daemon.persistent.engine.accounts[ACCOUNT].lockouts  # type: ignore[union-attr]

    run(refused, timeout=60)
    run(allowed, timeout=60)
