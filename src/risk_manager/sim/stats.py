"""Request and invocation counters, so a test can assert what actually reached the gateway."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()  # endpoint -> requests received (any outcome)
        self.responses: dict[str, Counter[int]] = {}  # endpoint -> HTTP status -> count
        self.hub_invocations: Counter[str] = Counter()  # "user:SubscribeOrders" -> count
        self.hub_connections: Counter[str] = Counter()  # hub -> connections accepted (handshake done)
        self.negotiations: Counter[str] = Counter()

    def request(self, endpoint: str) -> None:
        self.requests[endpoint] += 1

    def response(self, endpoint: str, status: int) -> None:
        self.responses.setdefault(endpoint, Counter())[status] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "responses": {
                k: {str(s): n for s, n in sorted(v.items())} for k, v in sorted(self.responses.items())
            },
            "hubInvocations": dict(sorted(self.hub_invocations.items())),
            "hubConnections": dict(sorted(self.hub_connections.items())),
            "negotiations": dict(sorted(self.negotiations.items())),
        }

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]
