"""The Linux service: a systemd unit, a dedicated user, and the owners and modes that keep a lock a lock.

The trader's account may read the config and the data (the trader group), never write them, never
read the credentials, and cannot stop a system service -- so a lockout survives anything the trader
can reach. What the installer applies (the group is the trader group, or the service user's primary
group when no trader group is given):

- config dir (/etc/risk-manager): service user, group, 0750; its files 0640;
- api_config.yaml (the credentials): service user, the service user's primary group, 0600;
- data dir (/var/lib/risk-manager) and its logs/: service user, group, 2750 (setgid: the files the
  daemon creates keep the group; the unit's UMask=0027 makes them 0640); control/: 0755, as the
  daemon sets it (the sockets' own modes decide who connects);
- files already in the data dir: service user, group, 0640;
- the unit file: root, root, 0644.

Every path is taken under ``root`` (``/`` in production, a temporary directory in tests), user and
group ids come from ``identities`` and commands (useradd, systemctl) go through ``run``: so the
installer is tested for real on a machine without systemd by reading back the files it wrote.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = [
    "UNIT_NAME",
    "InstallError",
    "LinuxInstaller",
    "LinuxPlan",
    "SystemIdentities",
    "installed",
    "read_plan",
    "run_command",
    "unit_text",
]

UNIT_NAME = "risk-manager.service"
UNIT_DIR = Path("etc/systemd/system")
DEFAULT_USER = "risk-manager"
DEFAULT_CONFIG_DIR = Path("/etc/risk-manager")
DEFAULT_DATA_DIR = Path("/var/lib/risk-manager")
CREDENTIALS = "api_config.yaml"
DIR_MODE, FILE_MODE, SECRET_MODE, DATA_DIR_MODE, UNIT_MODE = 0o750, 0o640, 0o600, 0o2750, 0o644
# control/ is set to 0755 by the daemon at each start (daemon/control/server.py): the sockets' own modes
# (admin 0600, trader 0660) decide who may connect; the installer sets the same so status shows no drift.
CONTROL_DIR_MODE = 0o755
DATA_SUBDIRS = ("logs", "control")
RESTART_SEC = 2
STOP_TIMEOUT_SEC = 10


class InstallError(Exception):
    """The service cannot be installed as asked; the message says what to do."""


class Identities(Protocol):
    def user(self, name: str) -> tuple[int, int] | None:
        """(uid, primary gid) of a user, or None when there is no such user."""

    def gid(self, group: str) -> int | None: ...


class SystemIdentities:
    """The system's users and groups (/etc/passwd, /etc/group, NSS)."""

    def user(self, name: str) -> tuple[int, int] | None:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return entry.pw_uid, entry.pw_gid

    def gid(self, group: str) -> int | None:
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            return None


@dataclass(frozen=True, slots=True)
class LinuxPlan:
    """What to install: absolute paths as the running system sees them (``root`` is added on top)."""

    config_dir: Path = DEFAULT_CONFIG_DIR
    data_dir: Path = DEFAULT_DATA_DIR
    user: str = DEFAULT_USER
    trader_group: str | None = None
    python: str = field(default_factory=lambda: sys.executable)


@dataclass(frozen=True, slots=True)
class Ownership:
    """One path and the owner, group and mode it must have."""

    path: Path
    uid: int
    gid: int
    mode: int

    def describe(self, shown: Path) -> str:
        return f"{shown}: owner {self.uid}, group {self.gid}, mode {self.mode:04o}"


def unit_text(plan: LinuxPlan) -> str:
    """The systemd unit: restarted whatever the exit, run by the service user, sealed off from the rest
    of the system except its data directory."""
    command = [plan.python, "-m", "risk_manager.cli.main", "run", "--config", str(plan.config_dir),
               "--data-dir", str(plan.data_dir)]
    groups = f"SupplementaryGroups={plan.trader_group}\n" if plan.trader_group else ""
    return f"""\
# Installed by `risk-manager service install`; remove with `risk-manager service uninstall`.
[Unit]
Description=Risk Manager: real-time risk enforcement for TopstepX / ProjectX accounts
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
User={plan.user}
Group={plan.user}
{groups}ExecStart={" ".join(_systemd_arg(a) for a in command)}
Restart=always
RestartSec={RESTART_SEC}
KillSignal=SIGTERM
TimeoutStopSec={STOP_TIMEOUT_SEC}
UMask=0027
Environment=PYTHONUNBUFFERED=1
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths={_systemd_arg(str(plan.data_dir))}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
CapabilityBoundingSet=
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
"""


def _systemd_arg(value: str) -> str:
    """One ExecStart word: quoted when it has spaces, with systemd's % and $ specifiers escaped."""
    escaped = value.replace("%", "%%").replace("$", "$$")
    if any(c.isspace() or c in "\"'\\" for c in escaped):
        escaped = '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def run_command(command: Sequence[str]) -> None:
    try:
        subprocess.run(list(command), check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise InstallError(f"`{command[0]}` is not installed on this machine") from None
    except subprocess.CalledProcessError as exc:
        raise InstallError(f"`{shlex.join(command)}` failed: {(exc.stderr or exc.stdout).strip()}") from None


class LinuxInstaller:
    def __init__(
        self,
        root: Path = Path("/"),
        identities: Identities | None = None,
        run: Callable[[Sequence[str]], None] = run_command,
    ) -> None:
        self.root = root
        self.identities = identities if identities is not None else SystemIdentities()
        self.run = run

    def at(self, path: Path) -> Path:
        """``path`` under the installer's root."""
        return self.root / path.relative_to(path.anchor)

    @property
    def unit_path(self) -> Path:
        return self.root / UNIT_DIR / UNIT_NAME

    # ---- install ------------------------------------------------------------------------------------

    def install(self, plan: LinuxPlan, source: Path | None = None, *, dry_run: bool = False) -> list[str]:
        """Install (or update) the service; returns what was done, or with ``dry_run`` what would be."""
        done: list[str] = []
        if plan.trader_group and self.identities.gid(plan.trader_group) is None:
            raise InstallError(f"the trader group {plan.trader_group!r} does not exist: create it "
                               f"(`groupadd {plan.trader_group}`) and add the trader's account to it "
                               f"(`usermod -aG {plan.trader_group} TRADER`), then install again")
        config = self.at(plan.config_dir)
        if source is None and not (config / "risk_config.yaml").is_file():
            raise InstallError(f"{plan.config_dir} has no risk_config.yaml: give --from DIR to copy a "
                               "checked config there (`risk-manager config check --config DIR` first)")
        if source is not None and not (source / "risk_config.yaml").is_file():
            raise InstallError(f"{source} has no risk_config.yaml: --from takes a config directory")
        if self.identities.user(plan.user) is None:
            command = ["useradd", "--system", "--user-group", "--home-dir", str(plan.data_dir),
                       "--no-create-home", "--shell", "/usr/sbin/nologin", plan.user]
            done.append(f"create the system user {plan.user}: {shlex.join(command)}")
            if not dry_run:
                self.run(command)
        for directory in (plan.config_dir, plan.data_dir, *(plan.data_dir / d for d in DATA_SUBDIRS)):
            if not self.at(directory).is_dir():
                done.append(f"create {directory}")
                if not dry_run:
                    self.at(directory).mkdir(parents=True, exist_ok=True)
        if source is not None:
            for file in sorted(source.glob("*.yaml")):
                done.append(f"copy {file} to {plan.config_dir / file.name}")
                if not dry_run:
                    shutil.copyfile(file, config / file.name)
        unit = unit_text(plan)
        done.append(f"write {Path('/') / UNIT_DIR / UNIT_NAME} (root, 0644)")
        if not dry_run:
            self.unit_path.parent.mkdir(parents=True, exist_ok=True)
            self.unit_path.write_text(unit)
            os.chown(self.unit_path, 0, 0)
            self.unit_path.chmod(UNIT_MODE)
        if dry_run and self.identities.user(plan.user) is None:
            done.append(f"set owners and modes of {plan.config_dir} and {plan.data_dir} (docs/service.md)")
        else:
            copied = tuple(config / f.name for f in source.glob("*.yaml")) if dry_run and source else ()
            for rule in self.ownership(plan, extra=copied):
                done.append(f"set {rule.describe(self._shown(rule.path))}")
                if not dry_run:
                    os.chown(rule.path, rule.uid, rule.gid)
                    rule.path.chmod(rule.mode)
        for command in (["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", UNIT_NAME]):
            done.append(f"run {shlex.join(command)}")
            if not dry_run:
                self.run(command)
        return done

    def ownership(self, plan: LinuxPlan, extra: Sequence[Path] = ()) -> list[Ownership]:
        """Every path of the installation with its owner, group and mode (see the module's table)."""
        user = self.identities.user(plan.user)
        if user is None:
            raise InstallError(f"the service user {plan.user!r} does not exist")
        uid, own_gid = user
        gid = own_gid
        if plan.trader_group:
            trader = self.identities.gid(plan.trader_group)
            if trader is None:
                raise InstallError(f"the trader group {plan.trader_group!r} does not exist")
            gid = trader
        rules = []
        config = self.at(plan.config_dir)
        rules.append(Ownership(config, uid, gid, DIR_MODE))
        existing = [p for p in config.iterdir() if p.is_file()] if config.is_dir() else []
        files = sorted({*existing, *extra})
        for file in files:
            secret = file.name == CREDENTIALS
            if secret:
                rules.append(Ownership(file, uid, own_gid, SECRET_MODE))
            else:
                rules.append(Ownership(file, uid, gid, FILE_MODE))
        data = self.at(plan.data_dir)
        for directory in (data, *(data / d for d in DATA_SUBDIRS)):
            mode = CONTROL_DIR_MODE if directory.name == "control" and directory != data else DATA_DIR_MODE
            rules.append(Ownership(directory, uid, gid, mode))
        if data.is_dir():
            for path in sorted(data.rglob("*")):
                if path.is_file() and not path.is_symlink() and not path.is_socket():
                    rules.append(Ownership(path, uid, gid, FILE_MODE))
        return rules

    def _shown(self, path: Path) -> Path:
        return Path("/") / path.relative_to(self.root)

    # ---- uninstall and status -----------------------------------------------------------------------

    def uninstall(self, *, dry_run: bool = False) -> list[str]:
        """Stop and remove the unit; the config and the data (the lockouts, the audit trail) stay."""
        if not self.unit_path.exists():
            return ["no service is installed (nothing to do)"]
        plan = read_plan(self.unit_path)
        done = []
        for command in (["systemctl", "disable", "--now", UNIT_NAME],):
            done.append(f"run {shlex.join(command)}")
            if not dry_run:
                self.run(command)
        done.append(f"remove {Path('/') / UNIT_DIR / UNIT_NAME}")
        if not dry_run:
            self.unit_path.unlink()
        done.append("run systemctl daemon-reload")
        if not dry_run:
            self.run(["systemctl", "daemon-reload"])
        if plan is not None:
            done.append(f"kept {plan.config_dir} and {plan.data_dir} (remove them by hand if wanted)")
        return done

    def drift(self, plan: LinuxPlan) -> list[str]:
        """Paths whose owner, group or mode is no longer what install set (someone changed them)."""
        out = []
        for rule in self.ownership(plan):
            try:
                st = rule.path.stat()
            except OSError:
                out.append(f"{self._shown(rule.path)}: missing")
                continue
            mode = st.st_mode & 0o7777
            if (st.st_uid, st.st_gid, mode) != (rule.uid, rule.gid, rule.mode):
                out.append(f"{self._shown(rule.path)}: owner {st.st_uid}, group {st.st_gid}, "
                           f"mode {mode:04o}; expected {rule.uid}, {rule.gid}, {rule.mode:04o}")
        return out


def read_plan(unit_path: Path) -> LinuxPlan | None:
    """The plan an installed unit was written from (its User=, SupplementaryGroups= and ExecStart=)."""
    try:
        text = unit_path.read_text()
    except OSError:
        return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[key.strip()] = value.strip()
    try:
        words = shlex.split(values["ExecStart"].replace("%%", "%").replace("$$", "$"))
        config = Path(words[words.index("--config") + 1])
        data = Path(words[words.index("--data-dir") + 1])
    except (KeyError, ValueError, IndexError):
        return None
    user = values.get("User", DEFAULT_USER)
    return LinuxPlan(config, data, user, values.get("SupplementaryGroups"), words[0])


@dataclass(frozen=True, slots=True)
class SystemdService:
    """An installed unit, started and stopped with systemctl."""

    config_dir: Path
    data_dir: Path
    run: Callable[[Sequence[str]], None] = run_command
    manager: str = "systemd"

    def start(self) -> None:
        self.run(["systemctl", "start", UNIT_NAME])

    def stop(self) -> None:
        self.run(["systemctl", "stop", UNIT_NAME])


def installed(root: Path = Path("/")) -> SystemdService | None:
    """The installed unit, if there is one and systemd runs here."""
    if shutil.which("systemctl") is None:
        return None
    plan = read_plan(root / UNIT_DIR / UNIT_NAME)
    return None if plan is None else SystemdService(plan.config_dir, plan.data_dir)


def active_state(run: Callable[[Sequence[str]], str] | None = None) -> str:
    """``systemctl is-active``: active, inactive, failed, activating...; "no systemd" without it."""
    if run is None:
        if shutil.which("systemctl") is None:
            return "no systemd on this machine"
        result = subprocess.run(["systemctl", "is-active", UNIT_NAME], capture_output=True, text=True)
        return result.stdout.strip() or result.stderr.strip()
    return run(["systemctl", "is-active", UNIT_NAME])
