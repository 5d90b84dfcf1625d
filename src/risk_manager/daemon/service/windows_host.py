"""The class the Windows service control manager runs (through pywin32's pythonservice.exe).

It runs ``python -m risk_manager.cli.main run --config … --data-dir …`` as a child and reports the
child's end as the service's: a daemon that exits on its own is a failure, which the recovery
actions (windows.py) answer with a restart. Imported on Windows only.
"""

from __future__ import annotations

import subprocess
from typing import Any

import servicemanager
import win32event
import win32service
import win32serviceutil

from risk_manager.daemon.service.windows import DISPLAY_NAME, SERVICE_NAME

STOP_GRACE_S = 10
POLL_MS = 1000


class RiskManagerService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
    _svc_name_ = SERVICE_NAME
    _svc_display_name_ = DISPLAY_NAME

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self.stop_requested = win32event.CreateEvent(None, 0, 0, None)
        self.child: subprocess.Popen[bytes] | None = None

    def SvcDoRun(self) -> None:
        option = win32serviceutil.GetServiceCustomOption
        command = [option(SERVICE_NAME, "python"), "-m", "risk_manager.cli.main", "run",
                   "--config", option(SERVICE_NAME, "config_dir"),
                   "--data-dir", option(SERVICE_NAME, "data_dir")]
        group = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)  # Windows only
        self.child = subprocess.Popen(command, creationflags=group)
        while win32event.WaitForSingleObject(self.stop_requested, POLL_MS) == win32event.WAIT_TIMEOUT:
            code = self.child.poll()
            if code is not None:
                servicemanager.LogErrorMsg(f"{SERVICE_NAME}: the daemon exited with code {code}")
                raise SystemExit(code or 1)  # a failure: the recovery actions restart the service

    def SvcStop(self) -> None:
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
        child = self.child
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
        win32event.SetEvent(self.stop_requested)
