"""The control API against a daemon on the simulated gateway: what each socket answers and refuses."""

from __future__ import annotations

import os
import stat
from decimal import Decimal
from pathlib import Path

from control_helpers import call, daemon_with_lockout, refused
from daemon_helpers import ACCOUNT, eventually, live_gateway, positions, running, write_config
from projectx_helpers import API_KEY
from sim_helpers import Api, run

from risk_manager.daemon.control.roles import Role
from risk_manager.daemon.control.sockets import socket_path
from risk_manager.domain.actions import format_time

ADMIN_CALLS = [
    ("GET", "/v1/daemon", None),
    ("POST", "/v1/reload", {}),
    ("POST", "/v1/shutdown", {}),
    ("POST", "/v1/unlock", {"account": ACCOUNT, "reason": "the trader asks nicely"}),
]


def test_the_trader_socket_serves_the_read_model_the_log_and_market_hours(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path) as (_gw, daemon, data):
            status = await call(data, "trader", "GET", "/v1/status")
            assert status["daemon"]["running"] is True and status["daemon"]["pid"] == os.getpid()
            [account] = status["accounts"]
            [expected] = [s.to_json() for s in daemon.statuses()]
            assert {k: v for k, v in account.items() if k != "as_of"} == {
                k: v for k, v in expected.items() if k != "as_of"
            }
            assert [lk["rule"] for lk in account["lockouts"]] == ["RULE-011"]
            [again] = (await call(data, "trader", "GET", "/v1/status", account=ACCOUNT))["accounts"]
            assert again["account_id"] == ACCOUNT and again["lockouts"] == account["lockouts"]
            logs = await call(data, "trader", "GET", "/v1/logs", rule="RULE-011")
            assert "lockout" in {r["kind"] for r in logs["rows"]}
            assert all(r["rule"] == "RULE-011" for r in logs["rows"])
            one = await call(data, "trader", "GET", "/v1/logs", tail=1)
            assert len(one["rows"]) == 1
            assert (await call(data, "trader", "GET", "/v1/logs", search="no such text"))["rows"] == []
            hours = await call(data, "trader", "GET", "/v1/market-hours")
            assert hours["next_reset"] == format_time(daemon.statuses()[0].next_reset)
            assert hours["session"]["configured"] is False and hours["session"]["open"] is True

    run(body, timeout=40)


def test_the_trader_socket_refuses_every_admin_call_with_403_and_nothing_changes(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path, admin={"allow_unlock": True}) as (_gw, daemon, data):
            before = daemon.statuses()[0].lockouts
            audit_rows = len(daemon.persistent.store.audit())  # type: ignore[union-attr]
            for method, path, payload in ADMIN_CALLS:
                exc = await refused(data, "trader", method, path, payload)
                assert exc.status == 403, (path, exc.message)
                assert "admin role" in exc.message and "nothing was changed" in exc.message
            assert daemon.statuses()[0].lockouts == before
            assert not daemon.stopping.is_set()
            daemon.persistent.flush()  # type: ignore[union-attr]
            assert len(daemon.persistent.store.audit()) == audit_rows  # type: ignore[union-attr]

    run(body, timeout=40)


def test_the_admin_socket_is_the_owners_alone_and_the_trader_socket_its_groups(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "c", {"daily_realized_loss": {"enabled": True, "limit": -500}})
            async with running(gw, config, tmp_path / "d"):
                admin = os.stat(socket_path(tmp_path / "d", Role.ADMIN))
                trader = os.stat(socket_path(tmp_path / "d", Role.TRADER))
                assert stat.S_ISSOCK(admin.st_mode) and stat.S_IMODE(admin.st_mode) == 0o600
                assert stat.S_ISSOCK(trader.st_mode) and stat.S_IMODE(trader.st_mode) == 0o660
            assert not socket_path(tmp_path / "d", Role.ADMIN).exists()

    run(body, timeout=30)


def test_unlock_is_refused_while_not_allowed_and_the_lockout_holds(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path) as (_gw, daemon, data):
            ask = {"account": ACCOUNT, "reason": "why not"}
            exc = await refused(data, "admin", "POST", "/v1/unlock", ask)
            assert exc.status == 403 and "admin.allow_unlock" in exc.message
            assert [lk.rule for lk in daemon.statuses()[0].lockouts] == ["RULE-011"]

    run(body, timeout=40)


def test_unlock_needs_a_reason_then_clears_the_lockout_with_an_audit_row_naming_it(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path, admin={"allow_unlock": True}) as (_gw, daemon, data):
            for payload in ({"account": ACCOUNT}, {"account": ACCOUNT, "reason": "   "}):
                exc = await refused(data, "admin", "POST", "/v1/unlock", payload)
                assert exc.status == 400 and "reason" in exc.message
            assert daemon.statuses()[0].lockouts
            answer = await call(data, "admin", "POST", "/v1/unlock",
                                {"account": ACCOUNT, "reason": "broker glitch, checked with the coach"})
            assert [u["rule"] for u in answer["unlocked"]] == ["RULE-011"]
            assert daemon.statuses()[0].lockouts == ()
            daemon.persistent.flush()  # type: ignore[union-attr]
            store = daemon.persistent.store  # type: ignore[union-attr]
            rows = [r for r in store.audit(ACCOUNT) if r.kind == "unlock"]
            assert rows and "broker glitch, checked with the coach" in (rows[-1].reason or "")
            again = await refused(data, "admin", "POST", "/v1/unlock", {"account": ACCOUNT, "reason": "more"})
            assert again.status == 409

    run(body, timeout=40)


def test_clock_in_and_out_are_recorded_in_the_store_and_summarised(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path) as (_gw, daemon, data):
            before = daemon.statuses()[0]
            started = await call(data, "trader", "POST", "/v1/clock-in", {})
            assert started["clock"]["account"] == ACCOUNT and started["clock"]["clock_out"] is None
            twice = await refused(data, "trader", "POST", "/v1/clock-in", {})
            assert twice.status == 409 and "clocked in already" in twice.message
            ended = await call(data, "trader", "POST", "/v1/clock-out", {"account": ACCOUNT})
            assert ended["clock"]["clock_out"] is not None and ended["duration_s"] >= 0
            assert ended["trades"] == 0 and ended["pnl"] == "0.00"
            [row] = daemon.persistent.store.clock_sessions(ACCOUNT)  # type: ignore[union-attr]
            assert row.clock_out is not None
            after = daemon.statuses()[0]
            assert (after.lockouts, after.gauges) == (before.lockouts, before.gauges)  # no risk change
            out = await refused(data, "trader", "POST", "/v1/clock-out", {})
            assert out.status == 409 and "not clocked in" in out.message

    run(body, timeout=40)


def test_the_admin_socket_describes_the_daemon_and_shutdown_asks_it_to_stop(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path) as (_gw, daemon, data):
            info = await call(data, "admin", "GET", "/v1/daemon")
            assert info["pid"] == os.getpid() and info["uptime_s"] >= 0
            assert info["accounts"] == [{"id": ACCOUNT, "connection": "connected"}]
            assert any("RULE-011" in line for line in info["rules"][str(ACCOUNT)])
            assert info["enforcements_today"] >= 2 and info["db_size_bytes"] > 0
            assert info["last_event_age_s"] is not None
            if not hasattr(daemon, "reload_config"):
                exc = await refused(data, "admin", "POST", "/v1/reload", {})
                assert exc.status == 501 and "restart" in exc.message
            assert (await call(data, "admin", "POST", "/v1/shutdown", {})) == {"stopping": True}
            assert daemon.stopping.is_set()

    run(body, timeout=40)


def test_bad_requests_get_a_plain_sentence_saying_how_to_fix_them(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path) as (_gw, _daemon, data):
            cases = [
                ("GET", "/v1/logs?since=yesterday", "ISO-8601"),
                ("GET", "/v1/logs?level=loud", "info, warning, error, critical"),
                ("GET", "/v1/logs?tail=0", "between 1 and"),
                ("GET", "/v1/status?account=99", "not monitored"),
                ("GET", "/v1/nothing", "no endpoint"),
                ("POST", "/v1/status", "does not take POST"),
            ]
            for method, path, words in cases:
                exc = await refused(data, "trader", method, path)
                assert 400 <= exc.status < 500 and words in exc.message, (path, exc.message)

    run(body, timeout=40)


def test_no_answer_of_either_socket_holds_the_api_key(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path, admin={"allow_unlock": True}) as (_gw, _daemon, data):
            seen = []
            for role in ("trader", "admin"):
                for path in ("/v1/status", "/v1/logs", "/v1/market-hours", "/v1/daemon"):
                    try:
                        seen.append(repr(await call(data, role, "GET", path)))
                    except Exception as exc:
                        seen.append(repr(exc))
                for path in ("/v1/clock-in", "/v1/clock-out", "/v1/reload", "/v1/unlock"):
                    try:
                        seen.append(repr(await call(data, role, "POST", path, {"account": ACCOUNT})))
                    except Exception as exc:
                        seen.append(repr(exc))
            text = "\n".join(seen)
            assert "RULE-011" in text and API_KEY not in text

    run(body, timeout=60)


def test_clock_out_counts_the_trades_of_the_session_and_their_net_pnl(tmp_path: Path) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path) as (gw, daemon, data), Api(gw) as trader:
            await trader.login()
            mes = gw.contract_id("MES")
            gw.set_price(mes, "6000.00")
            before = daemon.statuses()[0].net  # flat: the MNQ position was closed
            await call(data, "trader", "POST", "/v1/clock-in", {})
            await trader.place(account=ACCOUNT, contract=mes, size=1)
            await eventually(lambda: positions(gw) == {mes: 1}, what="the MES position")
            gw.set_price(mes, "6002.00")
            await trader.place(account=ACCOUNT, contract=mes, side=1, size=1)
            await eventually(lambda: daemon.statuses()[0].trade_count >= 4, what="both fills counted")
            ended = await call(data, "trader", "POST", "/v1/clock-out", {})
            assert ended["trades"] == 2
            # flat again: the session's net P&L is what the day's net moved by meanwhile
            assert Decimal(ended["pnl"]) == daemon.statuses()[0].net - before != 0

    run(body, timeout=40)


def test_a_data_directory_too_deep_for_a_socket_address_still_serves_both_sockets(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "c", {"daily_realized_loss": {"enabled": True, "limit": -500}})
            data = tmp_path / ("deep-" * 20) / "data"
            assert len(str(socket_path(data, Role.TRADER))) > 108
            async with running(gw, config, data):
                status = await call(data, "trader", "GET", "/v1/status")
                info = await call(data, "admin", "GET", "/v1/daemon")
                assert status["accounts"][0]["account_id"] == info["accounts"][0]["id"] == ACCOUNT

    run(body, timeout=30)
