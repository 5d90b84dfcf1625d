"""The help of the service and admin daemon commands reads like the rest: 80 columns, nothing cut."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

COMMANDS = [
    [],
    ["admin"],
    ["admin", "daemon"],
    ["admin", "daemon", "start"],
    ["admin", "daemon", "stop"],
    ["admin", "daemon", "restart"],
    ["admin", "daemon", "status"],
    ["service"],
    ["service", "install"],
    ["service", "uninstall"],
    ["service", "status"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "risk-manager")
def test_help_fits_80_columns_and_no_summary_is_cut_short(command: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "risk_manager.cli.main", *command, "--help"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: risk-manager")
    assert "..." not in result.stdout.replace("[ARGS]...", "")
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
