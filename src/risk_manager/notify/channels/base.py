"""What every channel shares: its limits, the error it raises, and its interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from risk_manager.notify.batch import Message


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """How a channel is paced. The defaults of each channel follow the service's published limits."""

    batch_window: float  # seconds a burst is gathered after its first item before sending
    max_requests: int  # at most this many sends ...
    per_seconds: float  # ... in any window of this many seconds
    max_chars: int  # characters per message
    max_messages_per_batch: int  # the rest of a burst is counted in a last line, not sent
    queue_capacity: int = 1000


class DeliveryError(Exception):
    """A send failed. ``detail`` never holds a secret; ``retry_after`` is the server's wish in seconds."""

    def __init__(self, detail: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
        self.permanent = permanent


class Channel(Protocol):
    name: str  # safe to log: says what the channel is without its credential
    limits: ChannelLimits

    async def send(self, message: Message) -> None:
        """Deliver one message or raise DeliveryError."""
        ...

    async def aclose(self) -> None: ...


async def post_json(http: httpx.AsyncClient, url: str, body: dict[str, object]) -> httpx.Response:
    """POST ``body``; transport failures become a DeliveryError that names no URL."""
    try:
        return await http.post(url, json=body)
    except httpx.TimeoutException:
        raise DeliveryError(f"no answer within {http.timeout.read} s") from None
    except httpx.HTTPError as exc:
        # The exception text and its request may carry the URL (the credential): keep the type only.
        raise DeliveryError(f"{type(exc).__name__} while connecting") from None


def check_response(response: httpx.Response, body_retry_after: float | None) -> None:
    """Raise DeliveryError for anything but a 2xx answer; 429 and 5xx are worth a retry."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 429:
        wait = _header_seconds(response) if body_retry_after is None else body_retry_after
        raise DeliveryError("HTTP 429 rate limited", retry_after=wait)
    if status >= 500:
        raise DeliveryError(f"HTTP {status} server error")
    hint = {
        401: "the credential is wrong or revoked",
        403: "the credential is not allowed here",
        404: "the webhook or bot does not exist (deleted or mistyped)",
    }.get(status, "the service refused the message")
    raise DeliveryError(f"HTTP {status}: {hint}", permanent=True)


def _header_seconds(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def json_body(response: httpx.Response) -> object:
    """The answer's JSON, or None when it is not JSON (a proxy's HTML error page)."""
    try:
        return response.json()
    except ValueError:
        return None


def json_number(data: object, *path: str) -> float | None:
    """``data[path[0]][path[1]]...`` as a float, or None when absent or not a number."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return float(data) if isinstance(data, int | float) and not isinstance(data, bool) else None
