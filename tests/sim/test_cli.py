"""`risk-manager sim-gateway`: starts, prints its URLs, serves, stops cleanly; refuses unsafe binds."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from risk_manager.cli import sim_cmd

LAUNCH = (
    "import typer; from risk_manager.cli import sim_cmd; app = typer.Typer(); sim_cmd.register(app); app()"
)


def _app() -> typer.Typer:
    app = typer.Typer()
    sim_cmd.register(app)

    @app.callback()
    def _root() -> None:  # keeps `sim-gateway` a named sub-command, as under the real `risk-manager`
        pass

    return app


@pytest.mark.parametrize(("flags", "mode"), [((), "live"), (("--bare",), "bare")])
def test_sim_gateway_prints_urls_serves_and_stops_on_sigterm(flags: tuple[str, ...], mode: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LAUNCH,
            "--port",
            "0",
            "--seed",
            "5",
            "--always-open",
            "--accounts",
            "3",
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 15
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("Ctrl-C"):
                break
        text = "\n".join(lines)
        assert "seed 5, 3 account(s): 7..9" in text, text
        rest = next(line.split()[-1] for line in lines if line.strip().startswith("REST"))
        assert next(line.split()[-1] for line in lines if "user hub" in line).endswith("/hubs/user")
        assert next(line.split()[-1] for line in lines if "market hub" in line).endswith("/hubs/market")
        assert rest.startswith("http://127.0.0.1:") and rest.endswith("/api")
        assert httpx.get(f"{rest}/Status/ping", timeout=5).text == "pong"
        login = httpx.post(f"{rest}/Auth/loginKey", json={"userName": "a", "apiKey": "b"}, timeout=5).json()
        accounts = httpx.post(
            f"{rest}/Account/search",
            json={"onlyActiveAccounts": True},
            headers={"Authorization": f"Bearer {login['token']}"},
            timeout=5,
        ).json()["accounts"]
        assert [a["id"] for a in accounts] == [7, 8, 9]
        assert httpx.get(f"{rest[: -len('/api')]}/__sim__/state", timeout=5).json()["mode"] == mode
        assert ("behaviour   bare" in text) == (mode == "bare"), text
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "Stopped." in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_refuses_a_non_loopback_bind_without_allow_remote() -> None:
    result = CliRunner().invoke(_app(), ["sim-gateway", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "Refusing to bind 0.0.0.0" in result.output and "--allow-remote" in result.output


def test_bad_credentials_file_is_a_usage_error(tmp_path: Path) -> None:
    creds = tmp_path / "creds.yaml"
    creds.write_text("[not, a, mapping]\n")
    result = CliRunner().invoke(_app(), ["sim-gateway", "--credentials", str(creds), "--port", "0"])
    assert result.exit_code == 2 and "must be a non-empty mapping" in result.output


def test_port_in_use_is_reported() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(_app(), ["sim-gateway", "--port", str(port)])
    assert result.exit_code == 1 and f"Cannot listen on 127.0.0.1:{port}" in result.output
