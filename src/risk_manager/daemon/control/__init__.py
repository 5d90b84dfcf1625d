"""The control API: HTTP/JSON over two Unix sockets, ``trader.sock`` and ``admin.sock``, under
``<data-dir>/control/`` (docs/control-api.md). The trader CLI, the admin CLI and the dashboard are
its clients; nothing else reads daemon memory."""

from risk_manager.daemon.control.client import ControlClient, ControlRefused, DaemonNotRunning
from risk_manager.daemon.control.roles import Role
from risk_manager.daemon.control.server import ControlServer, ControlSetupError

__all__ = [
    "ControlClient",
    "ControlRefused",
    "ControlServer",
    "ControlSetupError",
    "DaemonNotRunning",
    "Role",
]
