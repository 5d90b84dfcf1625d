"""`risk-manager trader …` as a trader runs it: a `risk-manager run` subprocess against a
`risk-manager sim-gateway` subprocess on loopback, every command in both output modes, then the
same commands with the daemon stopped (the store read-only), and `status --live` in a terminal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest
import yaml

from risk_manager.daemon.control import ControlClient, DaemonNotRunning

ACCOUNT = 7
API_KEY = "trader-cli-test-key-0123456789"  # must never appear in any output
RULES = {
    "symbol_blocks": {"enabled": True, "blocked_symbols": ["MNQ"]},
    "daily_realized_loss": {"enabled": True, "limit": -500, "include_unrealized": False},
    "max_contracts": {"enabled": True, "limit": 5},
}
READ_COMMANDS = ["status", "pnl", "rules", "lockouts", "logs", "market-hours"]
CLI = [sys.executable, "-m", "risk_manager.cli.main"]
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}


def eventually(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except DaemonNotRunning:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Setup:
    config: Path
    data: Path
    gateway: str  # the sim's REST base URL
    daemon: subprocess.Popen[bytes] | None = None

    def trader(
        self, *args: str, config: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        extra = ["--data-dir", str(self.data)]
        if config:
            extra += ["--config", str(self.config)]
        return subprocess.run([*CLI, "trader", *args, *extra], capture_output=True, text=True, env=ENV,
                              timeout=timeout, check=False)

    def json(self, *args: str, config: bool = True) -> tuple[int, Any]:
        result = self.trader(*args, "--json", config=config)
        return result.returncode, json.loads(result.stdout) if result.stdout.strip() else None

    def start(self) -> None:
        log = self.data / "logs" / "daemon.log"
        mark = log.read_text().count("running; stop with") if log.exists() else 0
        command = [*CLI, "run", "--config", str(self.config), "--data-dir", str(self.data)]
        self.daemon = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        eventually(lambda: log.exists() and log.read_text().count("running; stop with") > mark,
                   what="the daemon to start")

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.communicate(timeout=15)
        self.daemon = None

    def order(self, contract: str, side: int, size: int) -> None:
        token = httpx.post(f"{self.gateway}/Auth/loginKey", json={"userName": "trader", "apiKey": "x"}).json()
        body = {"accountId": ACCOUNT, "contractId": contract, "type": 2, "side": side, "size": size}
        answer = httpx.post(f"{self.gateway}/Order/place", json=body,
                            headers={"Authorization": f"Bearer {token['token']}"}).json()
        assert answer["success"], answer


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    command = [*CLI, "sim-gateway", "--port", "0", "--always-open", "--accounts", "1", "--seed", "3"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)
    try:
        first = process.stdout.readline()  # type: ignore[union-attr]
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match, first
        yield match.group(0)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)


def _setup(root: Path, sim_url: str, **risk: Any) -> Setup:
    config = root / "config"
    config.mkdir(parents=True)
    (config / "risk_config.yaml").write_text(yaml.safe_dump({"rules": RULES, **risk}))
    accounts = {"monitor": "listed", "accounts": [{"id": ACCOUNT}]}
    (config / "accounts.yaml").write_text(yaml.safe_dump(accounts))
    api = config / "api_config.yaml"
    api.write_text(yaml.safe_dump({"projectx": {
        "api_url": f"{sim_url}/api", "user_hub_url": f"{sim_url}/hubs/user",
        "market_hub_url": f"{sim_url}/hubs/market", "username": "trader", "api_key": API_KEY,
    }}))
    api.chmod(0o600)
    return Setup(config, root / "data", f"{sim_url}/api")


def _status(setup: Setup) -> dict[str, Any]:
    with ControlClient(setup.data) as client:
        return client.get("/v1/status")


@pytest.fixture(scope="module")
def running(sim: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """A daemon that has closed an MNQ position (RULE-011 lockout) and holds one MES contract."""
    setup = _setup(tmp_path_factory.mktemp("live"), sim)
    setup.start()
    try:
        setup.order("CON.F.US.MES.Z26", 0, 2)
        setup.order("CON.F.US.MES.Z26", 1, 1)
        setup.order("CON.F.US.MNQ.Z26", 0, 1)
        eventually(lambda: _status(setup)["accounts"][0]["lockouts"], what="the MNQ lockout")
        eventually(lambda: _status(setup)["accounts"][0]["trade_count"] >= 4, what="the trades counted")
        yield setup
    finally:
        setup.stop()


def _no_wider_than_80(text: str) -> None:
    widest = max((len(line) for line in text.splitlines()), default=0)
    assert widest <= 80, f"{widest} columns:\n{text}"


# ---- with the daemon running --------------------------------------------------------------------------


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_each_read_command_answers_from_the_running_daemon_as_text_within_80_columns(
    running: Setup, command: str
) -> None:
    result = running.trader(command)
    assert result.returncode == 0, result.stderr
    _no_wider_than_80(result.stdout)
    assert "NOT RUNNING" not in result.stdout
    expected = {
        "status": ["daemon running", f"Account {ACCOUNT}", "REDUCING", "RULE-003", "LOCKED RULE-011 MNQ",
                   "Next reset in", "Market:"],
        "pnl": ["MES", "MNQ", "total", "realized"],
        "rules": ["RULE-001", "RULE-003", "max_contracts"],
        "lockouts": ["RULE-011 symbol MNQ", "reason", "since", "symbol_blocked"],
        "logs": ["RULE-011", "lockout", "close_position"],
        "market-hours": ["Next daily reset in", "always open", "No holiday"],
    }[command]
    for words in expected:
        assert words in result.stdout, (words, result.stdout)
    assert re.search(r"\b(CST|CDT)\b", result.stdout), "times are shown in the configured zone"


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_each_read_command_answers_from_the_running_daemon_as_json(running: Setup, command: str) -> None:
    code, answer = running.json(command)
    assert code == 0
    assert answer["daemon"]["running"] is True
    if command == "status":
        [account] = answer["accounts"]
        assert account["account_id"] == ACCOUNT and account["trading_state"] == "reducing"
        assert [lk["rule"] for lk in account["lockouts"]] == ["RULE-011"]
        assert {g["rule"] for g in account["gauges"]} == {"RULE-001", "RULE-003"}
        assert [p["symbol"] for p in account["positions"]] == ["MES"]
        assert answer["market_hours"]["session"]["open"] is True
    elif command == "pnl":
        [account] = answer["accounts"]
        assert {s["symbol"]: s["trades"] for s in account["symbols"]} == {"MES": 2, "MNQ": 2}
        assert account["trade_count"] == 4
    elif command == "rules":
        assert answer["accounts"][0]["gauges"][0]["rule"] == "RULE-001"
    elif command == "lockouts":
        [lockout] = answer["accounts"][0]["lockouts"]
        assert (lockout["rule"], lockout["symbol"], lockout["remaining_s"]) == ("RULE-011", "MNQ", None)
    elif command == "logs":
        assert {"lockout", "close_position"} <= {r["kind"] for r in answer["rows"]}
    else:
        assert answer["session"]["configured"] is False and answer["next_reset"].endswith("Z")


def test_logs_filter_by_rule_level_text_time_and_count(running: Setup) -> None:
    _code, by_rule = running.json("logs", "--rule", "RULE-011")
    assert by_rule["rows"] and {r["rule"] for r in by_rule["rows"]} == {"RULE-011"}
    _code, loud = running.json("logs", "--level", "warning")
    assert loud["rows"] and all(r["level"] in ("warning", "error", "critical") for r in loud["rows"])
    _code, found = running.json("logs", "--search", "BLOCKED SYMBOL")
    assert found["rows"] and all("blocked symbol" in (r["reason"] or "") for r in found["rows"])
    _code, last = running.json("logs", "--tail", "1")
    assert len(last["rows"]) == 1
    _code, recent = running.json("logs", "--since", "1h")
    _code, future = running.json("logs", "--since", "2099-01-01T00:00:00Z")
    assert recent["rows"] and future["rows"] == []
    bad = running.trader("logs", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since 'last tuesday'" in bad.stderr and "90m" in bad.stderr
    bad_level = running.trader("logs", "--level", "loud")
    assert bad_level.returncode == 2 and "info, warning, error, critical" in bad_level.stderr


def test_clock_in_then_clock_out_reports_the_session_in_both_modes(running: Setup) -> None:
    started = running.trader("clock-in", config=False)
    assert started.returncode == 0, started.stderr
    assert f"Clocked in on account {ACCOUNT}" in started.stdout
    again = running.trader("clock-in", config=False)
    assert again.returncode == 1 and "clocked in already" in again.stderr
    code, ended = running.json("clock-out", config=False)
    assert code == 0 and ended["clock"]["clock_out"] is not None
    assert ended["trades"] == 0 and ended["pnl"] == "0.00" and ended["duration_s"] >= 0
    code, _ = running.json("clock-in", config=False)
    assert code == 0
    text = running.trader("clock-out", config=False)
    assert text.returncode == 0 and "Session" in text.stdout and "trade(s), P&L" in text.stdout


def test_daemon_status_names_the_pid_and_each_accounts_feed(running: Setup) -> None:
    result = running.trader("daemon-status", config=False)
    assert result.returncode == 0
    assert running.daemon is not None and f"pid {running.daemon.pid}" in result.stdout
    assert f"account {ACCOUNT}" in result.stdout and "feed connected" in result.stdout
    code, answer = running.json("daemon-status", config=False)
    assert code == 0 and answer["daemon"]["pid"] == running.daemon.pid
    assert answer["accounts"] == [{"account_id": ACCOUNT, "connection": "connected"}]


def _ctrl_c_as_in_a_terminal() -> None:
    # A shell that starts the suite in the background (no job control) ignores SIGINT, and its children
    # inherit that; a trader's terminal does not, so Ctrl-C is restored for the CLI under test.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_status_live_redraws_and_its_countdown_moves(running: Setup) -> None:
    _watch_the_countdown_move(["trader", "status", "--live", "--data-dir", str(running.data)], readings=2)


def _watch_the_countdown_move(args: list[str], readings: int, banner: str | None = None) -> None:
    """Run ``trader status --live`` in a terminal until the reset countdown shows ``readings``
    different values (after ``banner``, if given), then stop it with Ctrl-C: it must exit 0."""
    child = pexpect.spawn(CLI[0], [*CLI[1:], *args],
                          env={**ENV, "TERM": "xterm", "COLUMNS": "80", "LINES": "40"}, dimensions=(40, 80),
                          encoding="utf-8", timeout=20, preexec_fn=_ctrl_c_as_in_a_terminal,
                          # Ctrl-C can cut a box-drawing character in two: the text read is what
                          # matters, not a half character at the very end
                          codec_errors="replace")
    try:
        if banner is not None:
            child.expect(banner)
        seen: list[str] = []
        while len(set(seen)) < readings:
            child.expect(r"Next reset in ([0-9hms ]+s)")
            seen.append(str(child.match.group(1)))
        assert seen[0] != seen[-1]
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_the_trader_socket_refuses_what_would_change_risk(running: Setup) -> None:
    from risk_manager.daemon.control import ControlRefused

    with ControlClient(running.data, "trader") as client:
        for path in ("/v1/unlock", "/v1/reload", "/v1/shutdown"):
            with pytest.raises(ControlRefused) as refused:
                client.post(path, {"account": ACCOUNT, "reason": "please"})
            assert refused.value.status == 403 and "nothing was changed" in refused.value.message
    assert _status(running)["accounts"][0]["lockouts"] and running.daemon is not None
    assert running.daemon.poll() is None


# ---- with the daemon stopped ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stopped(sim: str, tmp_path_factory: pytest.TempPathFactory, running: Setup) -> Iterator[Setup]:
    """The first daemon, stopped through the admin socket's shutdown (`run` exits as on SIGTERM)."""
    assert running.daemon is not None
    with ControlClient(running.data, "admin") as admin:
        assert admin.post("/v1/shutdown") == {"stopping": True}
    running.daemon.communicate(timeout=15)
    assert running.daemon.returncode == 0
    running.daemon = None
    yield running


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_each_read_command_with_the_daemon_stopped_reads_the_store_and_says_so(
    stopped: Setup, command: str
) -> None:
    result = stopped.trader(command)
    assert result.returncode == 0, result.stderr
    _no_wider_than_80(result.stdout)
    assert "THE DAEMON IS NOT RUNNING" in result.stdout
    code, answer = stopped.json(command)
    assert code == 0 and answer["daemon"]["running"] is False
    if command in ("status", "lockouts"):
        assert answer["accounts"][0]["lockouts"][0]["rule"] == "RULE-011"
    if command == "pnl":
        assert answer["accounts"][0]["trade_count"] == 4
    if command == "logs":
        assert "lockout" in {r["kind"] for r in answer["rows"]}


def test_daemon_status_is_loud_and_exits_1_when_the_daemon_is_down(stopped: Setup) -> None:
    result = stopped.trader("daemon-status", config=False)
    assert result.returncode == 1
    assert "THE DAEMON IS NOT RUNNING" in result.stdout and "NOT guarded" in result.stdout
    code, answer = stopped.json("daemon-status", config=False)
    assert code == 1 and answer["daemon"]["running"] is False


@pytest.mark.parametrize("command", ["clock-in", "clock-out"])
def test_clocking_in_or_out_with_the_daemon_down_is_refused_plainly(stopped: Setup, command: str) -> None:
    for extra in ((), ("--json",)):
        result = stopped.trader(command, *extra, config=False)
        assert result.returncode == 1 and "the daemon is not running" in result.stderr
        assert result.stdout == ""


def test_no_output_of_any_command_holds_the_api_key(stopped: Setup) -> None:
    outputs = []
    for command in [*READ_COMMANDS, "daemon-status", "clock-in"]:
        for extra in ((), ("--json",)):
            result = stopped.trader(command, *extra)
            outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert "RULE-011" in text and API_KEY not in text


def test_status_live_with_the_daemon_down_says_so_and_its_countdown_moves(stopped: Setup) -> None:
    args = ["trader", "status", "--live", "--data-dir", str(stopped.data), "--config", str(stopped.config)]
    _watch_the_countdown_move(args, readings=3, banner="THE DAEMON IS NOT RUNNING")


def test_status_with_the_daemon_down_replays_the_store_only_when_its_files_change(stopped: Setup) -> None:
    from risk_manager.cli.trader_cmd import Answers

    answers = Answers(stopped.data, stopped.config)
    first = answers.ask("/v1/status")
    for _ in range(3):
        again = answers.ask("/v1/status")
        assert again["accounts"][0]["lockouts"] == first["accounts"][0]["lockouts"]
        assert again["daemon"]["as_of"] >= first["daemon"]["as_of"]
    assert answers.rebuilds == 1
    db = stopped.data / "risk.db"
    later = db.stat().st_mtime_ns + 1_000_000_000
    os.utime(db, ns=(later, later))  # the store changed (as when a daemon wrote to it)
    assert answers.ask("/v1/status")["accounts"][0]["lockouts"] == first["accounts"][0]["lockouts"]
    assert answers.rebuilds == 2


def test_a_restarted_daemon_still_holds_the_lockout(stopped: Setup) -> None:
    stopped.start()
    try:
        code, answer = stopped.json("lockouts")
        assert code == 0 and answer["daemon"]["running"] is True
        assert [lk["rule"] for lk in answer["accounts"][0]["lockouts"]] == ["RULE-011"]
    finally:
        stopped.stop()


def test_clock_out_counts_the_trades_made_since_clock_in_and_their_net_pnl(stopped: Setup) -> None:
    stopped.start()
    try:
        # --json: the numbers; one contract was held already, so the close realizes an older lot too
        (code, ended), sim = _session(stopped, lambda: stopped.json("clock-out", config=False),
                                      [("CON.F.US.MES.Z26", 0, 1), ("CON.F.US.MES.Z26", 1, 2)])
        assert code == 0, ended
        assert len(sim) == 2 and ended["trades"] == 2
        assert _net(sim) != 0 and Decimal(ended["pnl"]) == _net(sim)
        # text: the same summary as a trader reads it
        text, sim = _session(stopped, lambda: stopped.trader("clock-out", config=False),
                             [("CON.F.US.MES.Z26", 0, 1), ("CON.F.US.MES.Z26", 1, 1)])
        assert text.returncode == 0, text.stderr
        net = _net(sim)
        shown = f"{net:+,.2f}" if net else "0.00"
        assert len(sim) == 2 and f"2 trade(s), P&L {shown}" in text.stdout, (text.stdout, sim)
    finally:
        stopped.stop()


def _session(setup: Setup, clock_out: Callable[[], Any], orders: list[tuple[str, int, int]]
             ) -> tuple[Any, list[dict[str, Any]]]:
    """Clock in, place ``orders`` (market: the sim fills them), wait until the daemon counted them,
    clock out; the clock-out's result and the gateway's own record of the session's executions."""
    code, started = setup.json("clock-in", config=False)
    assert code == 0, started
    before = _status(setup)["accounts"][0]["trade_count"]
    for order in orders:
        setup.order(*order)
    eventually(lambda: _status(setup)["accounts"][0]["trade_count"] >= before + len(orders),
               what="the session's trades counted")
    result = clock_out()
    return result, _sim_trades(setup, since=started["clock"]["clock_in"])


def _net(trades: list[dict[str, Any]]) -> Decimal:
    """Net P&L of gateway trades: after the exchange fees and the commissions charged beside them."""
    return sum((Decimal(str(t["profitAndLoss"] or 0)) - Decimal(str(t["fees"]))
                - Decimal(str(t.get("commissions") or 0)) for t in trades), Decimal(0))


def _sim_trades(setup: Setup, since: str) -> list[dict[str, Any]]:
    """The gateway's own record of the executions since ``since`` (not voided)."""
    token = httpx.post(f"{setup.gateway}/Auth/loginKey", json={"userName": "trader", "apiKey": "x"}).json()
    answer = httpx.post(f"{setup.gateway}/Trade/search", json={"accountId": ACCOUNT, "startTimestamp": since},
                        headers={"Authorization": f"Bearer {token['token']}"}).json()
    assert answer["success"], answer
    return [t for t in answer["trades"] if not t.get("voided")]


def test_trader_help_reads_plainly_within_80_columns() -> None:
    for command in ([], *([c] for c in [*READ_COMMANDS, "clock-in", "clock-out", "daemon-status"])):
        result = subprocess.run([*CLI, "trader", *command, "--help"], capture_output=True, text=True,
                                env={**ENV, "COLUMNS": "80"}, timeout=60, check=False)
        assert result.returncode == 0 and result.stdout.startswith("Usage: risk-manager trader")
        assert re.search(r"<[a-z][a-z\[\], |]*>", result.stdout) is None
        _no_wider_than_80(result.stdout)
