"""Run `risk-manager admin …` as a user would: a subprocess, on a copy of the sample config."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import risk_manager

SAMPLE = Path(risk_manager.__file__).parent / "examples" / "sample-config"


def sample_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SAMPLE, target)
    return target


def command(config: Path, data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "risk_manager.cli.main", "admin", *args,
            "--config", str(config), "--data-dir", str(data)]


def admin(config: Path, data: Path, *args: str, stdin: str | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(config, data, *args), capture_output=True, text=True, timeout=120, input=stdin,
        env={**os.environ, "NO_COLOR": "1", **(env or {})}, check=False,
    )


async def admin_async(config: Path, data: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """The same from inside a running event loop (the daemon under test runs in it)."""
    process = await asyncio.create_subprocess_exec(
        *command(config, data, *args), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file in the directory by name, as bytes (temp files included, if any were left)."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}
