"""Running the daemon as an operating-system service: ``risk-manager service install|uninstall|status``.

- service/systemd.py: Linux. A systemd unit run by a dedicated user, config and data owned by it,
  the trader group read-only, the credentials file owner-only.
- service/windows.py: Windows. A pywin32 service (LocalSystem, auto-start, restarted on failure),
  config and data under ProgramData with ACLs to the same effect; windows_host.py is the class the
  service control manager runs.

:func:`installed_service` answers "is a service installed for this data directory?", which
``risk-manager admin daemon start|stop`` asks so that a service-run daemon is started and stopped
through its service manager (stopping it behind systemd's back would only make systemd restart it).
See docs/service.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

__all__ = ["InstalledService", "installed_service"]


class InstalledService(Protocol):
    """A service that is installed on this machine, whatever its manager."""

    @property
    def manager(self) -> str: ...  # "systemd" | "windows"

    @property
    def config_dir(self) -> Path: ...

    @property
    def data_dir(self) -> Path: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def installed_service(root: Path = Path("/")) -> InstalledService | None:
    """The service installed on this machine, or None (also when its manager is absent)."""
    if sys.platform == "win32":
        from risk_manager.daemon.service.windows import installed as windows_installed

        return windows_installed()
    from risk_manager.daemon.service.systemd import installed as systemd_installed

    return systemd_installed(root)
