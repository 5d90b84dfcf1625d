"""The live dashboard the daemon serves on 127.0.0.1 (docs/dashboard.md): the server and its feeds
(server.py, feeds.py) and the day's P&L curve of each account (history.py)."""

from risk_manager.daemon.dashboard.history import PnlHistory, PnlPoint
from risk_manager.daemon.dashboard.server import Dashboard

__all__ = ["Dashboard", "PnlHistory", "PnlPoint"]
