"""Fault switches: what a test or a demo can make the gateway do wrong, on purpose.

Endpoint faults are queued per REST endpoint and consumed one per request; hub and token faults act
at once; event faults alter the next user-hub events. Every spec is validated with an error message
that says what is accepted, because these come from test code and curl lines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .broker import UserEvent

REST_ENDPOINTS = (
    "Auth/loginKey",
    "Auth/validate",
    "Auth/logout",
    "Account/search",
    "Position/searchOpen",
    "Position/closeContract",
    "Position/partialCloseContract",
    "Order/search",
    "Order/searchOpen",
    "Order/place",
    "Order/cancel",
    "Order/modify",
    "Trade/search",
    "Contract/search",
    "Contract/searchById",
    "Contract/available",
    "History/retrieveBars",
    "Status/ping",
)


class FaultSpecError(ValueError):
    """A fault request that cannot be understood; the message lists what is accepted."""


@dataclass(slots=True)
class EndpointFault:
    """One queued misbehaviour of an endpoint, for the next ``remaining`` requests (None = until cleared)."""

    endpoint: str
    status: int | None = None  # answer with this HTTP status instead of running the endpoint
    delay_ms: int = 0  # run the endpoint, then hold the response this long
    error_code: int | None = None  # answer 200 + success:false with this errorCode (endpoint not run)
    error_message: str | None = None
    remaining: int | None = 1

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"endpoint": self.endpoint, "count": self.remaining}
        if self.status is not None:
            out["status"] = self.status
        if self.delay_ms:
            out["delay_ms"] = self.delay_ms
        if self.error_code is not None:
            out["errorCode"] = self.error_code
            out["errorMessage"] = self.error_message
        return out


_ENDPOINT_KEYS = {"endpoint", "status", "delay_ms", "count", "errorCode", "errorMessage", "success"}


class FaultBook:
    def __init__(self) -> None:
        self._endpoint: dict[str, deque[EndpointFault]] = {}
        self.duplicate_events = 0
        self.reorder_batches = 0

    # ---- endpoint faults ------------------------------------------------------------------------

    def add_endpoint_fault(self, spec: Mapping[str, Any]) -> EndpointFault:
        unknown = set(spec) - _ENDPOINT_KEYS
        if unknown:
            raise FaultSpecError(
                f"unknown key(s) {sorted(unknown)} in endpoint fault; accepted: {sorted(_ENDPOINT_KEYS)}"
            )
        endpoint = _endpoint_name(spec.get("endpoint"))
        status = spec.get("status")
        if status is not None and (
            not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
        ):
            raise FaultSpecError(f"status must be an HTTP status code 100..599, got {status!r}")
        delay = spec.get("delay_ms", 0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise FaultSpecError(f"delay_ms must be a number >= 0, got {delay!r}")
        count = spec.get("count", 1)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise FaultSpecError(f"count must be an integer >= 1, or null for 'until cleared', got {count!r}")
        error_code = spec.get("errorCode")
        if spec.get("success") is False and error_code is None:
            error_code = 2
        if error_code is not None and (
            isinstance(error_code, bool) or not isinstance(error_code, int) or error_code == 0
        ):
            raise FaultSpecError(f"errorCode must be a nonzero integer, got {error_code!r}")
        message = spec.get("errorMessage")
        if message is not None and not isinstance(message, str):
            raise FaultSpecError(f"errorMessage must be a string, got {message!r}")
        if status is None and not delay and error_code is None:
            raise FaultSpecError(
                "an endpoint fault needs at least one of: status, delay_ms, errorCode (or success: false)"
            )
        if status is not None and error_code is not None:
            raise FaultSpecError(
                "give either status (an HTTP error) or errorCode (a business failure), not both"
            )
        fault = EndpointFault(
            endpoint,
            status=status,
            delay_ms=int(delay),
            error_code=error_code,
            error_message=message if message is not None else ("Simulated failure" if error_code else None),
            remaining=count,
        )
        self._endpoint.setdefault(endpoint, deque()).append(fault)
        return fault

    def take(self, endpoint: str) -> EndpointFault | None:
        """The fault to apply to this request of ``endpoint``, if any (consumes one use)."""
        queue = self._endpoint.get(endpoint)
        if not queue:
            return None
        fault = queue[0]
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
        return fault

    def pending(self) -> list[dict[str, Any]]:
        return [f.describe() for q in self._endpoint.values() for f in q]

    def clear(self) -> None:
        self._endpoint.clear()
        self.duplicate_events = 0
        self.reorder_batches = 0

    # ---- event faults ---------------------------------------------------------------------------

    def add_event_fault(self, kind: object, count: object) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise FaultSpecError(f"count must be an integer >= 1, got {count!r}")
        if kind == "duplicate":
            self.duplicate_events += count
        elif kind == "reorder":
            self.reorder_batches += count
        else:
            raise FaultSpecError(f"events must be 'duplicate' or 'reorder', got {kind!r}")

    def transform(self, batch: list[UserEvent]) -> list[UserEvent]:
        """Apply pending event faults to one batch of user-hub events (one broker operation).

        ``reorder``: the batch goes out in reverse order (e.g. account before trade before order), one
        batch per count. ``duplicate``: each of the next ``count`` events is sent twice in a row.
        """
        if self.reorder_batches and len(batch) > 1:
            self.reorder_batches -= 1
            batch = list(reversed(batch))
        if self.duplicate_events:
            out: list[UserEvent] = []
            for event in batch:
                out.append(event)
                if self.duplicate_events:
                    self.duplicate_events -= 1
                    out.append(event)
            batch = out
        return batch

    def describe(self) -> dict[str, Any]:
        return {
            "endpoints": self.pending(),
            "duplicateEvents": self.duplicate_events,
            "reorderBatches": self.reorder_batches,
        }


def _endpoint_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FaultSpecError(f"endpoint must be one of {', '.join(REST_ENDPOINTS)}; got {value!r}")
    name = value.strip().removeprefix("/").removeprefix("api/")
    for known in REST_ENDPOINTS:
        if known.lower() == name.lower():
            return known
    raise FaultSpecError(f"unknown endpoint {value!r}; use one of {', '.join(REST_ENDPOINTS)}")
