"""The Windows service with the pywin32 modules faked (it cannot run here): the calls it makes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from risk_manager.daemon.service.windows import (
    HOST_CLASS,
    SERVICE_NAME,
    Win32,
    WindowsInstaller,
    WindowsPlan,
    installed,
    program_data_dirs,
)


class Calls:
    """Every call made on the fake modules, in order: (module.function, args, kwargs)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail: set[str] = set()
        self.options: dict[str, str] = {}

    def function(self, name: str, result: Any = None) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.made.append((name, args, kwargs))
            if name in self.fail:
                raise RuntimeError(f"{name} failed")
            return result(*args) if callable(result) else result

        return call

    def named(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, kwargs) for n, args, kwargs in self.made if n == name]


class FakeAcl:
    def __init__(self, calls: Calls) -> None:
        self.entries: list[tuple[Any, ...]] = []

    def AddAccessAllowedAceEx(self, revision: int, flags: int, mask: int, sid: str) -> None:
        self.entries.append(("inherit", flags, mask, sid))

    def AddAccessAllowedAce(self, revision: int, mask: int, sid: str) -> None:
        self.entries.append(("own", mask, sid))


def fake_win32(calls: Calls) -> Win32:
    def set_option(service: str, option: str, value: str) -> None:
        calls.options[option] = value

    service = SimpleNamespace(
        SERVICE_AUTO_START=2, SC_MANAGER_ALL_ACCESS=0xF003F, SERVICE_ALL_ACCESS=0xF01FF, SC_ACTION_RESTART=1,
        SERVICE_CONFIG_FAILURE_ACTIONS=2, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG=4, SERVICE_RUNNING=4,
        SERVICE_STOPPED=1, SERVICE_START_PENDING=2, SERVICE_STOP_PENDING=3,
        OpenSCManager=calls.function("OpenSCManager", "scm"),
        OpenService=calls.function("OpenService", "svc"),
        ChangeServiceConfig2=calls.function("ChangeServiceConfig2"),
        CloseServiceHandle=calls.function("CloseServiceHandle"),
    )
    util = SimpleNamespace(
        InstallService=calls.function("InstallService"), StartService=calls.function("StartService"),
        StopService=calls.function("StopService"), RemoveService=calls.function("RemoveService"),
        SetServiceCustomOption=calls.function("SetServiceCustomOption", set_option),
        GetServiceCustomOption=calls.function("GetServiceCustomOption",
                                              lambda _service, option: calls.options.get(option)),
        QueryServiceStatus=calls.function("QueryServiceStatus", (16, 4, 0, 0, 0, 0, 0)),
    )
    security = SimpleNamespace(
        WinLocalSystemSid=22, WinBuiltinAdministratorsSid=26, ACL_REVISION=2, SE_FILE_OBJECT=1,
        DACL_SECURITY_INFORMATION=4, PROTECTED_DACL_SECURITY_INFORMATION=0x80000000,
        CreateWellKnownSid=calls.function("CreateWellKnownSid", lambda kind, _domain: f"sid-{kind}"),
        LookupAccountName=calls.function("LookupAccountName", lambda _system, name: (f"sid-{name}", "", 2)),
        ACL=lambda: FakeAcl(calls), SetNamedSecurityInfo=calls.function("SetNamedSecurityInfo"),
    )
    con = SimpleNamespace(OBJECT_INHERIT_ACE=1, CONTAINER_INHERIT_ACE=2, FILE_ALL_ACCESS=0x1F01FF,
                          FILE_GENERIC_READ=0x120089, FILE_GENERIC_EXECUTE=0x1200A0)
    return Win32(service, util, security, con)


def plan(tmp_path: Path, trader_group: str | None = "Traders") -> WindowsPlan:
    config = tmp_path / "config"
    config.mkdir()
    (config / "api_config.yaml").write_text("projectx: {}\n")
    return WindowsPlan(config, tmp_path / "data", trader_group, r"C:\Python311\python.exe")


def test_data_lives_under_program_data() -> None:
    config, data = program_data_dirs({"ProgramData": r"D:\PD"})
    assert (str(config), str(data)) == (str(Path(r"D:\PD") / "risk-manager" / "config"),
                                        str(Path(r"D:\PD") / "risk-manager" / "data"))


def test_install_registers_an_auto_start_local_system_service_that_restarts_on_failure(
    tmp_path: Path,
) -> None:
    calls = Calls()
    the_plan = plan(tmp_path)
    WindowsInstaller(fake_win32(calls)).install(the_plan)

    [(args, kwargs)] = calls.named("InstallService")
    assert args == (HOST_CLASS, SERVICE_NAME, "Risk Manager")
    assert kwargs["startType"] == 2 and "userName" not in kwargs  # LocalSystem
    assert calls.options == {"config_dir": str(the_plan.config_dir), "data_dir": str(the_plan.data_dir),
                             "python": r"C:\Python311\python.exe"}
    [(failure, _), (flag, _)] = calls.named("ChangeServiceConfig2")
    assert failure[1] == 2
    assert failure[2]["Actions"] == [(1, 5000)] * 3 and failure[2]["ResetPeriod"] == 86400
    assert flag == ("svc", 4, True)
    assert len(calls.named("CloseServiceHandle")) == 2
    assert calls.made[-1][0] == "StartService"
    assert the_plan.data_dir.is_dir() and (the_plan.data_dir / "logs").is_dir()


def test_acls_give_the_trader_group_read_and_keep_the_credentials_to_system_and_administrators(
    tmp_path: Path,
) -> None:
    calls = Calls()
    the_plan = plan(tmp_path)
    WindowsInstaller(fake_win32(calls)).install(the_plan)
    applied = {args[0]: (args[2], args[5]) for args, _ in calls.named("SetNamedSecurityInfo")}
    protected = 4 | 0x80000000
    inherit = 1 | 2
    read = 0x120089 | 0x1200A0
    for directory in (the_plan.config_dir, the_plan.data_dir):
        info, acl = applied[str(directory)]
        assert info == protected
        assert acl.entries == [("inherit", inherit, 0x1F01FF, "sid-22"),
                               ("inherit", inherit, 0x1F01FF, "sid-26"),
                               ("inherit", inherit, read, "sid-Traders")]
    info, acl = applied[str(the_plan.config_dir / "api_config.yaml")]
    assert info == protected
    assert acl.entries == [("own", 0x1F01FF, "sid-22"), ("own", 0x1F01FF, "sid-26")]


def test_dry_run_makes_no_call(tmp_path: Path) -> None:
    calls = Calls()
    lines = WindowsInstaller(fake_win32(calls)).install(plan(tmp_path), dry_run=True)
    assert calls.made == []
    assert any("restart after 5 s" in line for line in lines)


def test_uninstall_removes_the_service_even_when_it_was_not_running(tmp_path: Path) -> None:
    calls = Calls()
    calls.fail.add("StopService")
    WindowsInstaller(fake_win32(calls)).uninstall()
    assert [name for name, _, _ in calls.made] == ["StopService", "RemoveService"]


def test_an_installed_service_is_found_with_its_directories(tmp_path: Path) -> None:
    calls = Calls()
    win = fake_win32(calls)
    the_plan = plan(tmp_path)
    WindowsInstaller(win).install(the_plan)
    service = installed(win)
    assert service is not None and service.manager == "windows"
    assert (service.config_dir, service.data_dir) == (the_plan.config_dir, the_plan.data_dir)
    assert WindowsInstaller(win).status() == "running"
    calls.fail.add("QueryServiceStatus")
    assert installed(win) is None
    assert WindowsInstaller(win).status() == "not installed"
