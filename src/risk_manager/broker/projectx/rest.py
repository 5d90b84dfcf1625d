"""REST transport: one httpx client, the request budget, the session token, typed errors.

``call()`` is the only way a request leaves: it waits for the budget (by priority), takes a valid
token, posts, and turns every outcome that is not ``200 + success:true`` into a GatewayError subclass
(errors.py). Policy:

- A read (``mutating=False``) refused with 401 is sent once more after logging in again: nothing
  happened on the gateway, and the caller only wanted to know.
- A mutating call is never repeated here, whatever happened: after a 401 the token is dropped (the
  next call logs in) and ``Unauthorized`` is raised; after a timeout, 429 or 5xx the caller must
  reconcile (search) before deciding to act again (PROJECTX.md §2; ``GatewayError.maybe_executed``).
- A 429 holds the whole budget for its ``Retry-After`` (1 s if absent): the gateway would refuse
  anything sent before that anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

import httpx
import orjson

from risk_manager.broker.errors import (
    GatewayError,
    GatewayHttpError,
    GatewayRejected,
    GatewayTimeout,
    GatewayUnreachable,
    ProtocolError,
    RateLimited,
    ServerError,
    Unauthorized,
)

from .auth import Secret, TokenManager
from .budget import DEFAULT, BudgetGate, Priority

log = logging.getLogger(__name__)


class GatewayRest:
    """Posts to ``{api_url}/{endpoint}``; ``api_url`` is like ``https://api.topstepx.com/api``."""

    def __init__(
        self,
        api_url: str,
        username: str,
        api_key: Secret,
        *,
        request_timeout: float = 10.0,
        gate: BudgetGate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.request_timeout = request_timeout
        self._http = httpx.AsyncClient(
            base_url=self.api_url + "/",
            timeout=httpx.Timeout(request_timeout, connect=min(request_timeout, 5.0)),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        self.gate = gate or BudgetGate()
        self.tokens = TokenManager(username, api_key, self._auth_post, clock)

    def __repr__(self) -> str:
        return f"GatewayRest(api_url={self.api_url!r}, tokens={self.tokens!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        endpoint: str,
        body: dict[str, Any] | None,
        *,
        priority: Priority,
        mutating: bool,
        bucket: str = DEFAULT,
        coalesce: Hashable | None = None,
    ) -> dict[str, Any]:
        """Send one request when the budget allows; return the answer of a successful call.

        ``coalesce``: while this request waits for the budget, a later one with the same key replaces
        its body and both get the answer of the one request sent (stop moves: latest wins)."""
        ticket, fresh = self.gate.submit(priority, bucket, key=coalesce, payload=body, slotted=True)
        if not fresh:
            shared: dict[str, Any] = await asyncio.shield(ticket.result)
            return shared
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        ticket.result = future
        try:
            await self.gate.wait(ticket)
            answer = await self._call_granted(endpoint, ticket.payload, priority, mutating, bucket)
        except asyncio.CancelledError:
            future.cancel()  # calls coalesced into this one were withdrawn with it
            raise
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: joined callers may not exist
            raise
        finally:
            self.gate.finished(ticket)  # its in-flight slot goes to the next waiting request
        future.set_result(answer)
        return answer

    async def _call_granted(
        self, endpoint: str, body: dict[str, Any] | None, priority: Priority, mutating: bool, bucket: str
    ) -> dict[str, Any]:
        token = await self.tokens.token()
        try:
            answer = await self._send(endpoint, body, token)
        except Unauthorized:
            await self.tokens.refused(token)
            if mutating:
                raise
            await self.gate.acquire(priority, bucket)
            answer = await self._send(endpoint, body, await self.tokens.token())
        return _checked(endpoint, answer)

    async def _auth_post(
        self, endpoint: str, body: dict[str, Any] | None, token: Secret | None
    ) -> dict[str, Any]:
        # Auth calls count against the same budget, ahead of everything: without a token nothing moves.
        await self.gate.acquire(Priority.CLOSE, DEFAULT)
        return await self._send(endpoint, body, token)

    async def _send(self, endpoint: str, body: dict[str, Any] | None, token: Secret | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token.reveal()}"} if token is not None else None
        content = b"" if body is None else orjson.dumps(body)
        started = time.perf_counter()
        try:
            response = await self._http.post(endpoint, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise GatewayUnreachable(
                endpoint, f"cannot connect to {self.api_url}: {type(exc).__name__}"
            ) from None
        except httpx.TimeoutException:
            raise GatewayTimeout(endpoint, self.request_timeout) from None
        except httpx.TransportError as exc:
            error = GatewayUnreachable(
                endpoint, f"connection failed during the request: {type(exc).__name__}"
            )
            error.maybe_executed = True  # the request may have been received before the connection broke
            raise error from None
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("POST %s -> %d in %.1f ms", endpoint, response.status_code, elapsed)
        status = response.status_code
        if status == 401:
            raise Unauthorized(endpoint)
        if status == 429:
            retry_after = _retry_after(response)
            self.gate.hold(retry_after if retry_after is not None else 1.0)
            raise RateLimited(endpoint, retry_after)
        if status >= 500:
            raise ServerError(endpoint, status)
        if status != 200:
            detail = "" if endpoint.startswith("Auth/") else response.text[:200]
            raise GatewayHttpError(endpoint, status, detail)
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ProtocolError(endpoint, "the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ProtocolError(endpoint, f"the answer is not a JSON object but {type(answer).__name__}")
        return answer


def _checked(endpoint: str, answer: dict[str, Any]) -> dict[str, Any]:
    code = answer.get("errorCode", 0)
    if answer.get("success") is not True or (code not in (0, None)):
        message = answer.get("errorMessage")
        raise GatewayRejected(endpoint, code if isinstance(code, int) else -1,
                              message if isinstance(message, str) else None)
    return answer


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


__all__ = ["GatewayError", "GatewayRest"]
