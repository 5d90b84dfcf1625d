"""The Windows service: pywin32, LocalSystem, auto-start, restarted by the service control manager.

- Installed from the class in windows_host.py (run by pywin32's pythonservice.exe); where its config
  and data are, and which python runs the daemon, are kept as the service's custom options.
- Recovery: restart after 5 s on each failure (the failure-actions flag makes a non-zero exit a
  failure too), the failure count reset after a day.
- Config and data under ``%ProgramData%\\risk-manager``; ACLs as on Linux: SYSTEM and Administrators
  full control, the trader group read and execute (inherited), the credentials file SYSTEM and
  Administrators only (its inherited entries cut off).

The pywin32 modules come in as a :class:`Win32` bundle so the tests can hand in fakes and assert the
calls; nothing here is imported on another platform.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["SERVICE_NAME", "Win32", "WindowsInstaller", "WindowsPlan", "installed", "program_data_dirs"]

SERVICE_NAME = "RiskManager"
DISPLAY_NAME = "Risk Manager"
DESCRIPTION = "Real-time risk enforcement for TopstepX / ProjectX accounts (risk-manager run)."
HOST_CLASS = "risk_manager.daemon.service.windows_host.RiskManagerService"
CREDENTIALS = "api_config.yaml"
RESTART_DELAY_MS = 5000
RESET_PERIOD_S = 86400
OPTIONS = ("config_dir", "data_dir", "python")


@dataclass(frozen=True, slots=True)
class Win32:
    """The pywin32 modules the installer calls."""

    win32service: Any
    win32serviceutil: Any
    win32security: Any
    ntsecuritycon: Any

    @classmethod
    def load(cls) -> Win32:
        import importlib

        modules: list[ModuleType] = [importlib.import_module(name) for name in
                                     ("win32service", "win32serviceutil", "win32security", "ntsecuritycon")]
        return cls(*modules)


def program_data_dirs(environ: dict[str, str] | None = None) -> tuple[Path, Path]:
    """``%ProgramData%\\risk-manager\\config`` and ``...\\data``."""
    env = os.environ if environ is None else environ
    base = Path(env.get("ProgramData", r"C:\ProgramData")) / "risk-manager"
    return base / "config", base / "data"


@dataclass(frozen=True, slots=True)
class WindowsPlan:
    config_dir: Path
    data_dir: Path
    trader_group: str | None = None
    python: str = field(default_factory=lambda: sys.executable)


class WindowsInstaller:
    def __init__(self, win: Win32 | None = None) -> None:
        self.win = win if win is not None else Win32.load()

    def install(self, plan: WindowsPlan, *, dry_run: bool = False) -> list[str]:
        done = [f"install the service {SERVICE_NAME} (LocalSystem, automatic start) from {HOST_CLASS}",
                f"set its options: config {plan.config_dir}, data {plan.data_dir}, python {plan.python}",
                f"on failure: restart after {RESTART_DELAY_MS // 1000} s (failure count reset daily)",
                *self._acl_lines(plan), f"start {SERVICE_NAME}"]
        if dry_run:
            return done
        util, service = self.win.win32serviceutil, self.win.win32service
        for directory in (plan.config_dir, plan.data_dir, plan.data_dir / "logs"):
            directory.mkdir(parents=True, exist_ok=True)
        util.InstallService(HOST_CLASS, SERVICE_NAME, DISPLAY_NAME, startType=service.SERVICE_AUTO_START,
                            description=DESCRIPTION)  # no userName: LocalSystem
        for option, value in zip(OPTIONS, (plan.config_dir, plan.data_dir, plan.python), strict=True):
            util.SetServiceCustomOption(SERVICE_NAME, option, str(value))
        self._recovery()
        self._apply_acls(plan)
        util.StartService(SERVICE_NAME)
        return done

    def uninstall(self, *, dry_run: bool = False) -> list[str]:
        done = [f"stop {SERVICE_NAME}", f"remove {SERVICE_NAME} (config and data are kept)"]
        if dry_run:
            return done
        util = self.win.win32serviceutil
        with contextlib.suppress(Exception):  # pywintypes.error: not running -- removal is what was asked
            util.StopService(SERVICE_NAME)
        util.RemoveService(SERVICE_NAME)
        return done

    def status(self) -> str:
        util, service = self.win.win32serviceutil, self.win.win32service
        try:
            state = util.QueryServiceStatus(SERVICE_NAME)[1]
        except Exception:
            return "not installed"
        names = {service.SERVICE_RUNNING: "running", service.SERVICE_STOPPED: "stopped",
                 service.SERVICE_START_PENDING: "starting", service.SERVICE_STOP_PENDING: "stopping"}
        return str(names.get(state, f"state {state}"))

    def _recovery(self) -> None:
        service = self.win.win32service
        manager = service.OpenSCManager(None, None, service.SC_MANAGER_ALL_ACCESS)
        try:
            handle = service.OpenService(manager, SERVICE_NAME, service.SERVICE_ALL_ACCESS)
            try:
                restart = (service.SC_ACTION_RESTART, RESTART_DELAY_MS)
                actions = {"ResetPeriod": RESET_PERIOD_S, "RebootMsg": None, "Command": None,
                           "Actions": [restart, restart, restart]}
                service.ChangeServiceConfig2(handle, service.SERVICE_CONFIG_FAILURE_ACTIONS, actions)
                service.ChangeServiceConfig2(handle, service.SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, True)
            finally:
                service.CloseServiceHandle(handle)
        finally:
            service.CloseServiceHandle(manager)

    def _acl_lines(self, plan: WindowsPlan) -> list[str]:
        reader = f", {plan.trader_group} read" if plan.trader_group else ""
        return [f"ACL of {plan.config_dir} and {plan.data_dir}: SYSTEM and Administrators full{reader}",
                f"ACL of {plan.config_dir / CREDENTIALS}: SYSTEM and Administrators only"]

    def _apply_acls(self, plan: WindowsPlan) -> None:
        security, con = self.win.win32security, self.win.ntsecuritycon
        system = security.CreateWellKnownSid(security.WinLocalSystemSid, None)
        admins = security.CreateWellKnownSid(security.WinBuiltinAdministratorsSid, None)
        trader = security.LookupAccountName(None, plan.trader_group)[0] if plan.trader_group else None
        inherit = con.OBJECT_INHERIT_ACE | con.CONTAINER_INHERIT_ACE
        for directory in (plan.config_dir, plan.data_dir):
            dacl = security.ACL()
            for sid in (system, admins):
                dacl.AddAccessAllowedAceEx(security.ACL_REVISION, inherit, con.FILE_ALL_ACCESS, sid)
            if trader is not None:
                dacl.AddAccessAllowedAceEx(security.ACL_REVISION, inherit,
                                           con.FILE_GENERIC_READ | con.FILE_GENERIC_EXECUTE, trader)
            self._set_dacl(directory, dacl)
        credentials = plan.config_dir / CREDENTIALS
        if credentials.exists():
            dacl = security.ACL()
            for sid in (system, admins):
                dacl.AddAccessAllowedAce(security.ACL_REVISION, con.FILE_ALL_ACCESS, sid)
            self._set_dacl(credentials, dacl)

    def _set_dacl(self, path: Path, dacl: Any) -> None:
        security = self.win.win32security
        # PROTECTED: the entries inherited from ProgramData (Users: read) are dropped
        info = security.DACL_SECURITY_INFORMATION | security.PROTECTED_DACL_SECURITY_INFORMATION
        security.SetNamedSecurityInfo(str(path), security.SE_FILE_OBJECT, info, None, None, dacl, None)


@dataclass(frozen=True, slots=True)
class WindowsService:
    """The installed service, started and stopped through the service control manager."""

    config_dir: Path
    data_dir: Path
    win: Win32
    manager: str = "windows"

    def start(self) -> None:
        self.win.win32serviceutil.StartService(SERVICE_NAME)

    def stop(self) -> None:
        self.win.win32serviceutil.StopService(SERVICE_NAME)


def installed(win: Win32 | None = None) -> WindowsService | None:
    try:
        win = win if win is not None else Win32.load()
        util = win.win32serviceutil
        util.QueryServiceStatus(SERVICE_NAME)
        config = util.GetServiceCustomOption(SERVICE_NAME, "config_dir")
        data = util.GetServiceCustomOption(SERVICE_NAME, "data_dir")
    except Exception:  # no pywin32, or no such service
        return None
    return WindowsService(Path(config), Path(data), win) if config and data else None
