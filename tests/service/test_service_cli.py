"""`risk-manager service install|status|uninstall` run as a user runs them, into a temporary root
(--root: no systemctl, no useradd), with existing system accounts as the service user and group."""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="setting file owners needs root")

USER, GROUP = "nobody", "users"  # on every Debian-like system


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "risk_manager.cli.main", "service", *args],
                          capture_output=True, text=True, timeout=60)


def config_dir(tmp_path: Path) -> Path:
    source = tmp_path / "mine"
    source.mkdir()
    (source / "risk_config.yaml").write_text("rules: {}\n")
    (source / "api_config.yaml").write_text("projectx: {api_key: SECRET}\n")
    return source


def test_install_status_uninstall_under_a_root(tmp_path: Path) -> None:
    user, group = pwd.getpwnam(USER), grp.getgrnam(GROUP)
    root = tmp_path / "root"
    args = ("--root", str(root))
    done = cli("install", *args, "--user", USER, "--trader-group", GROUP, "--from", str(config_dir(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert "(skipped under --root: systemctl enable --now risk-manager.service)" in done.stdout
    assert "SECRET" not in done.stdout + done.stderr
    secret = (root / "etc/risk-manager/api_config.yaml").stat()
    assert (secret.st_uid, secret.st_gid, stat.S_IMODE(secret.st_mode)) == (user.pw_uid, user.pw_gid, 0o600)
    config = (root / "etc/risk-manager/risk_config.yaml").stat()
    assert (config.st_uid, config.st_gid, stat.S_IMODE(config.st_mode)) == (user.pw_uid, group.gr_gid, 0o640)

    status = cli("status", *args, "--json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["installed"] is True and shown["permission_drift"] == []
    assert (shown["user"], shown["trader_group"]) == (USER, GROUP)
    assert shown["data_dir"] == "/var/lib/risk-manager"

    (root / "etc/risk-manager/api_config.yaml").chmod(0o644)
    text = cli("status", *args).stdout
    assert "PERMISSIONS CHANGED since install" in text and "api_config.yaml" in text

    removed = cli("uninstall", *args)
    assert removed.returncode == 0, removed.stderr
    assert not (root / "etc/systemd/system/risk-manager.service").exists()
    assert "NOT installed" in cli("status", *args).stdout


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    source = config_dir(tmp_path)
    done = cli("install", "--root", str(root), "--dry-run", "--user", USER, "--from", str(source))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Would (--dry-run, nothing changed):")
    assert "write /etc/systemd/system/risk-manager.service (root, 0644)" in done.stdout
    assert list(root.iterdir()) == []


def test_an_unknown_trader_group_is_refused_with_the_fix(tmp_path: Path) -> None:
    done = cli("install", "--root", str(tmp_path / "root"), "--user", USER,
               "--trader-group", "no-such-group-12c", "--from", str(config_dir(tmp_path)))
    assert done.returncode == 1
    assert "groupadd no-such-group-12c" in done.stderr
