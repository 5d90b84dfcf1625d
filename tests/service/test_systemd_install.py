"""The Linux service installed into a temporary root: the unit's text, and the owner, group and mode
of every file read back with os.stat (systemd is absent here; commands are recorded, not run)."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from risk_manager.daemon.service.systemd import (
    InstallError,
    LinuxInstaller,
    LinuxPlan,
    read_plan,
    unit_text,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="setting file owners needs root")

SERVICE_UID, SERVICE_GID, TRADER_GID = 4242, 4243, 4300
CONFIG, DATA = Path("/etc/risk-manager"), Path("/var/lib/risk-manager")


class Identities:
    """The accounts of the machine being installed on (the temporary root's, not this one's)."""

    def __init__(self, users: dict[str, tuple[int, int]], groups: dict[str, int]) -> None:
        self.users, self.groups = users, groups

    def user(self, name: str) -> tuple[int, int] | None:
        return self.users.get(name)

    def gid(self, group: str) -> int | None:
        return self.groups.get(group)


class Commands:
    """useradd and systemctl as recorded; useradd creates the user in ``identities``."""

    def __init__(self, identities: Identities) -> None:
        self.identities = identities
        self.run: list[list[str]] = []

    def __call__(self, command: Sequence[str]) -> None:
        self.run.append(list(command))
        if command[0] == "useradd":
            self.identities.users[command[-1]] = (SERVICE_UID, SERVICE_GID)


def machine() -> Identities:
    return Identities({"risk-manager": (SERVICE_UID, SERVICE_GID)}, {"traders": TRADER_GID})


def source_config(tmp_path: Path) -> Path:
    source = tmp_path / "my-config"
    source.mkdir()
    for name in ("risk_config.yaml", "accounts.yaml", "timers.yaml"):
        (source / name).write_text("# test\n")
    (source / "api_config.yaml").write_text("projectx: {api_key: SECRET}\n")
    return source


def owner(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def test_the_unit_restarts_always_runs_as_the_service_user_and_is_sealed_off() -> None:
    text = unit_text(LinuxPlan(CONFIG, DATA, "risk-manager", "traders", "/opt/rm/bin/python"))
    lines = text.splitlines()
    for expected in (
        "User=risk-manager", "Group=risk-manager", "SupplementaryGroups=traders", "Restart=always",
        "RestartSec=2", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=read-only",
        "ReadWritePaths=/var/lib/risk-manager", "UMask=0027", "CapabilityBoundingSet=",
        "WantedBy=multi-user.target",
        "ExecStart=/opt/rm/bin/python -m risk_manager.cli.main run --config /etc/risk-manager "
        "--data-dir /var/lib/risk-manager",
    ):
        assert expected in lines, expected


def test_exec_start_quotes_paths_with_spaces_and_escapes_systemd_specifiers() -> None:
    plan = LinuxPlan(Path("/srv/risk manager/conf%1"), Path("/srv/data $x"), "svc", None, "/usr/bin/python3")
    text = unit_text(plan)
    assert "--config \"/srv/risk manager/conf%%1\"" in text
    assert "SupplementaryGroups" not in text


def test_the_plan_of_an_installed_unit_is_read_back_from_its_text(tmp_path: Path) -> None:
    plan = LinuxPlan(Path("/srv/risk manager/conf%1"), Path("/srv/data $x"), "svc", "traders", "/usr/bin/py")
    unit = tmp_path / "risk-manager.service"
    unit.write_text(unit_text(plan))
    assert read_plan(unit) == plan


def test_install_sets_the_owner_group_and_mode_of_every_file_and_enables_the_unit(tmp_path: Path) -> None:
    root = tmp_path / "root"
    identities = machine()
    commands = Commands(identities)
    (root / "var/lib/risk-manager/logs").mkdir(parents=True)
    (root / "var/lib/risk-manager/risk.db").write_bytes(b"db")
    (root / "var/lib/risk-manager/logs/daemon.log").write_text("log\n")
    installer = LinuxInstaller(root, identities, commands)
    installer.install(LinuxPlan(CONFIG, DATA, "risk-manager", "traders"), source_config(tmp_path))

    config, data = root / "etc/risk-manager", root / "var/lib/risk-manager"
    assert owner(config) == (SERVICE_UID, TRADER_GID, 0o750)
    for name in ("risk_config.yaml", "accounts.yaml", "timers.yaml"):
        assert owner(config / name) == (SERVICE_UID, TRADER_GID, 0o640), name
    # the credentials: the service user only, and not even the trader group as the file's group
    assert owner(config / "api_config.yaml") == (SERVICE_UID, SERVICE_GID, 0o600)
    for directory in (data, data / "logs"):
        assert owner(directory) == (SERVICE_UID, TRADER_GID, 0o2750), directory
    assert owner(data / "control") == (SERVICE_UID, TRADER_GID, 0o755)  # as the daemon sets it
    for file in (data / "risk.db", data / "logs/daemon.log"):
        assert owner(file) == (SERVICE_UID, TRADER_GID, 0o640), file
    unit = root / "etc/systemd/system/risk-manager.service"
    assert owner(unit) == (0, 0, 0o644)
    assert "ExecStart=" in unit.read_text()
    assert commands.run == [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now",
                                                             "risk-manager.service"]]
    assert installer.drift(LinuxPlan(CONFIG, DATA, "risk-manager", "traders")) == []


def test_without_a_trader_group_everything_is_the_service_users_alone(tmp_path: Path) -> None:
    root = tmp_path / "root"
    installer = LinuxInstaller(root, machine(), Commands(machine()))
    installer.install(LinuxPlan(CONFIG, DATA), source_config(tmp_path))
    assert owner(root / "etc/risk-manager/risk_config.yaml") == (SERVICE_UID, SERVICE_GID, 0o640)
    assert owner(root / "var/lib/risk-manager") == (SERVICE_UID, SERVICE_GID, 0o2750)
    assert "SupplementaryGroups" not in (root / "etc/systemd/system/risk-manager.service").read_text()


def test_a_missing_service_user_is_created_as_a_system_user_without_a_login(tmp_path: Path) -> None:
    identities = Identities({}, {})
    commands = Commands(identities)
    LinuxInstaller(tmp_path / "root", identities, commands).install(LinuxPlan(CONFIG, DATA),
                                                                     source_config(tmp_path))
    assert commands.run[0] == ["useradd", "--system", "--user-group", "--home-dir", "/var/lib/risk-manager",
                               "--no-create-home", "--shell", "/usr/sbin/nologin", "risk-manager"]
    assert owner(tmp_path / "root/etc/risk-manager")[0] == SERVICE_UID


def test_dry_run_says_what_it_would_do_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    identities = machine()
    commands = Commands(identities)
    lines = LinuxInstaller(root, identities, commands).install(
        LinuxPlan(CONFIG, DATA, "risk-manager", "traders"), source_config(tmp_path), dry_run=True)
    assert list(root.iterdir()) == []
    assert commands.run == []
    text = "\n".join(lines)
    assert "write /etc/systemd/system/risk-manager.service (root, 0644)" in text
    assert f"/etc/risk-manager/api_config.yaml: owner {SERVICE_UID}, group {SERVICE_GID}, mode 0600" in text
    assert "run systemctl enable --now risk-manager.service" in text


def test_an_unknown_trader_group_is_refused_with_how_to_create_it_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(InstallError, match=r"groupadd traders.*usermod -aG traders"):
        LinuxInstaller(root, Identities({}, {}), Commands(machine())).install(
            LinuxPlan(CONFIG, DATA, "risk-manager", "traders"), source_config(tmp_path))
    assert list(root.iterdir()) == []


def test_a_config_dir_without_risk_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match=r"no risk_config\.yaml: give --from DIR"):
        LinuxInstaller(tmp_path / "root", machine(), Commands(machine())).install(LinuxPlan(CONFIG, DATA))


def test_drift_reports_a_file_whose_mode_was_changed_after_install(tmp_path: Path) -> None:
    root = tmp_path / "root"
    plan = LinuxPlan(CONFIG, DATA, "risk-manager", "traders")
    installer = LinuxInstaller(root, machine(), Commands(machine()))
    installer.install(plan, source_config(tmp_path))
    (root / "etc/risk-manager/api_config.yaml").chmod(0o644)
    assert installer.drift(plan) == [
        f"/etc/risk-manager/api_config.yaml: owner {SERVICE_UID}, group {SERVICE_GID}, mode 0644; "
        f"expected {SERVICE_UID}, {SERVICE_GID}, 0600"
    ]


def test_uninstall_removes_the_unit_and_keeps_config_and_data(tmp_path: Path) -> None:
    root = tmp_path / "root"
    commands = Commands(machine())
    installer = LinuxInstaller(root, machine(), commands)
    installer.install(LinuxPlan(CONFIG, DATA), source_config(tmp_path))
    commands.run.clear()
    lines = installer.uninstall()
    assert not (root / "etc/systemd/system/risk-manager.service").exists()
    assert (root / "etc/risk-manager/risk_config.yaml").exists() and (root / "var/lib/risk-manager").is_dir()
    assert commands.run == [["systemctl", "disable", "--now", "risk-manager.service"],
                            ["systemctl", "daemon-reload"]]
    assert lines[-1] == "kept /etc/risk-manager and /var/lib/risk-manager (remove them by hand if wanted)"
    assert installer.uninstall() == ["no service is installed (nothing to do)"]
