"""Our own thin ProjectX Gateway client (not project-x-py, PROJECTX.md §6): httpx REST, SignalR over
websockets, token renewal, reconnect, a prioritized request budget, a recorder.

See docs/projectx-client.md for how reconnect, the token and the budget work.
"""

from .auth import Secret
from .budget import BudgetGate, Limit, Priority, RequestBudget
from .client import ProjectXClient
from .hubs import HubSettings
from .recorder import Recorder
from .settings import MissingCredentials, ProjectXSettings

__all__ = [
    "BudgetGate",
    "HubSettings",
    "Limit",
    "MissingCredentials",
    "Priority",
    "ProjectXClient",
    "ProjectXSettings",
    "Recorder",
    "RequestBudget",
    "Secret",
]
