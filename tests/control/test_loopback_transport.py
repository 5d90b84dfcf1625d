"""The loopback transport (Windows' default, ``admin.control_transport: loopback`` here): one port on
127.0.0.1, a bearer token per role in an endpoint file, the role being the token's."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from control_helpers import call, daemon_with_lockout, refused
from daemon_helpers import ACCOUNT
from sim_helpers import run

from risk_manager.daemon.control.endpoint import Tokens
from risk_manager.daemon.control.roles import Role
from risk_manager.daemon.control.sockets import endpoint_path, socket_path

LOOPBACK = {"control_transport": "loopback"}
ADMIN_CALLS = [
    ("GET", "/v1/daemon", None),
    ("POST", "/v1/reload", {}),
    ("POST", "/v1/shutdown", {}),
    ("POST", "/v1/unlock", {"account": ACCOUNT, "reason": "the trader asks nicely"}),
]


def _endpoint(data: Path, role: Role) -> dict[str, str]:
    loaded: dict[str, str] = json.loads(endpoint_path(data, role).read_text())
    return loaded


def test_the_loopback_transport_listens_on_127_0_0_1_only_and_writes_one_endpoint_file_per_role(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with daemon_with_lockout(tmp_path, admin=LOOPBACK) as (_gw, daemon, data):
            assert not socket_path(data, Role.TRADER).exists() and not socket_path(data, Role.ADMIN).exists()
            trader, admin = _endpoint(data, Role.TRADER), _endpoint(data, Role.ADMIN)
            assert trader["url"] == admin["url"] == daemon.control.url  # type: ignore[union-attr]
            assert trader["url"].startswith("http://127.0.0.1:")
            assert trader["token"] != admin["token"] and len(admin["token"]) >= 40
            assert stat.S_IMODE(endpoint_path(data, Role.ADMIN).stat().st_mode) == 0o600
            assert stat.S_IMODE(endpoint_path(data, Role.TRADER).stat().st_mode) == 0o640
            runner = daemon.control._runners[0]  # type: ignore[union-attr]
            bound = {s.getsockname()[0] for site in runner.sites
                     for s in site._server.sockets}  # type: ignore[union-attr]
            assert bound == {"127.0.0.1"}
            status = await call(data, "trader", "GET", "/v1/status")
            assert [lk["rule"] for lk in status["accounts"][0]["lockouts"]] == ["RULE-011"]
            assert (await call(data, "admin", "GET", "/v1/daemon"))["accounts"][0]["id"] == ACCOUNT
        assert not endpoint_path(data, Role.TRADER).exists() and not endpoint_path(data, Role.ADMIN).exists()

    run(body, timeout=40)


def test_a_trader_token_is_refused_every_admin_call_with_403_and_nothing_changes(tmp_path: Path) -> None:
    async def body() -> None:
        risk = {"admin": {**LOOPBACK, "allow_unlock": True}}
        async with daemon_with_lockout(tmp_path, **risk) as (_gw, daemon, data):
            before = daemon.statuses()[0].lockouts
            rows = len(daemon.persistent.store.audit())  # type: ignore[union-attr]
            for method, path, payload in ADMIN_CALLS:
                exc = await refused(data, "trader", method, path, payload)
                assert exc.status == 403 and "trader token" in exc.message, (path, exc.message)
            assert daemon.statuses()[0].lockouts == before and not daemon.stopping.is_set()
            daemon.persistent.flush()  # type: ignore[union-attr]
            assert len(daemon.persistent.store.audit()) == rows  # type: ignore[union-attr]

    run(body, timeout=40)


def test_a_missing_or_wrong_token_gets_401_with_a_plain_sentence_that_never_echoes_a_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    async def body() -> None:
        async with daemon_with_lockout(tmp_path, admin=LOOPBACK) as (_gw, _daemon, data):
            url = _endpoint(data, Role.TRADER)["url"]
            tokens = [_endpoint(data, role)["token"] for role in Role]
            async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
                wrong = tokens[0][:-4] + "abcd"
                for headers in ({}, {"Authorization": f"Bearer {wrong}"}, {"Authorization": tokens[1]},
                                {"Authorization": f"Basic {tokens[1]}"}):
                    for method, path in (("GET", "/v1/status"), ("POST", "/v1/shutdown")):
                        answer = await http.request(method, path, headers=headers)
                        assert answer.status_code == 401, (headers.keys(), path)
                        message = answer.json()["error"]
                        assert "Authorization: Bearer <token>" in message and "trader.endpoint" in message
                        seen.append(answer.text)
            seen.extend(tokens)

    run(body, timeout=40)
    [*answers, trader_token, admin_token] = seen
    for text in [*answers, caplog.text]:
        assert trader_token not in text and admin_token not in text
    for path in (tmp_path / "d").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert trader_token.encode() not in content and admin_token.encode() not in content, path


def test_tokens_name_their_role_only_for_an_exact_bearer_match() -> None:
    tokens = Tokens()
    assert tokens.role_of(f"Bearer {tokens.token(Role.ADMIN)}") is Role.ADMIN
    assert tokens.role_of(f"bearer {tokens.token(Role.TRADER)}") is Role.TRADER
    for bad in (None, "", "Bearer ", tokens.token(Role.ADMIN), f"Bearer {tokens.token(Role.ADMIN)}x",
                f"Token {tokens.token(Role.ADMIN)}"):
        assert tokens.role_of(bad) is None, bad
    assert tokens.token(Role.ADMIN) not in repr(tokens)


def test_the_trader_and_admin_commands_work_over_the_loopback_transport_and_never_print_a_token(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "risk_manager.cli.main", *args], capture_output=True,
                              text=True, env=env, timeout=60, check=False)

    async def body() -> None:
        async with daemon_with_lockout(tmp_path, admin=LOOPBACK) as (_gw, _daemon, data):
            tokens = [_endpoint(data, role)["token"] for role in Role]
            config = str(tmp_path / "c")
            status = await asyncio.to_thread(cli, "trader", "status", "--json", "--data-dir", str(data))
            assert status.returncode == 0, status.stderr
            answer = json.loads(status.stdout)
            assert answer["daemon"]["running"] is True
            assert [lk["rule"] for lk in answer["accounts"][0]["lockouts"]] == ["RULE-011"]
            text = await asyncio.to_thread(cli, "trader", "lockouts", "--data-dir", str(data))
            assert text.returncode == 0 and "RULE-011" in text.stdout, text.stderr
            admin = await asyncio.to_thread(cli, "admin", "daemon", "status", "--json",
                                            "--data-dir", str(data), "--config", config)
            assert admin.returncode == 0, admin.stderr
            assert json.loads(admin.stdout)["accounts"][0]["id"] == ACCOUNT
            for result in (status, text, admin):
                for token in tokens:
                    assert token not in result.stdout + result.stderr

    run(body, timeout=60)
