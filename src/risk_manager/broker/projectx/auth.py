"""The session token: log in with the API key, renew before ``exp``, log in again when refused.

The gateway's token is a JWT; its lifetime is read from the payload's ``exp`` (and ``iat``) rather
than assumed to be 24 h (PROJECTX.md §1). Renewal is lazy: whoever needs the token next (a REST call,
a hub reconnect) renews it via ``Auth/validate`` once it is inside its renewal margin, so a token is
never presented after its ``exp`` and nothing runs on a timer of its own. ``Auth/validate`` failing
for any reason falls back to a fresh ``Auth/loginKey``. Concurrent callers share one renewal.

The key and the token live in ``Secret`` holders whose repr and str are ``***``: they must never reach
a log line, an exception message or a recording.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from risk_manager.broker.errors import GatewayError, LoginFailed

# Renew this long before exp, but never earlier than this fraction of the lifetime has passed.
RENEW_MARGIN = 300.0
RENEW_FRACTION = 0.8
FALLBACK_LIFETIME = 3600.0  # a token whose exp cannot be read is renewed after an hour (like the SDK)


class Secret:
    """A string that does not show itself: repr/str are ``***``; ``reveal()`` is the only way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def token_times(token: str, received_at: float) -> tuple[float, float]:
    """(issued_at, expires_at) of a JWT as epoch seconds; unreadable claims fall back to an hour."""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, binascii.Error, orjson.JSONDecodeError):
            claims = None
        if isinstance(claims, dict):
            exp, iat = claims.get("exp"), claims.get("iat")
            if isinstance(exp, int | float) and not isinstance(exp, bool):
                readable = isinstance(iat, int | float) and not isinstance(iat, bool)
                issued = float(iat) if readable else received_at  # type: ignore[arg-type]
                return min(issued, float(exp)), float(exp)
    return received_at, received_at + FALLBACK_LIFETIME


@dataclass(frozen=True, slots=True)
class Session:
    token: Secret
    issued_at: float
    expires_at: float

    @property
    def renew_at(self) -> float:
        lifetime = self.expires_at - self.issued_at
        return max(self.issued_at + RENEW_FRACTION * lifetime, self.expires_at - RENEW_MARGIN)

    def __repr__(self) -> str:
        return f"Session(token=***, expires_at={self.expires_at:.0f})"


# (endpoint, body, token or None) -> answer dict; raises GatewayError. Provided by the REST layer.
Post = Callable[[str, dict[str, Any] | None, Secret | None], Awaitable[dict[str, Any]]]


class TokenManager:
    """Holds the current session; ``token()`` returns one that is valid now, renewing if due."""

    def __init__(self, username: str, api_key: Secret, post: Post, clock: Callable[[], float]) -> None:
        self.username = username
        self._api_key = api_key
        self._post = post
        self._clock = clock
        self._session: Session | None = None
        self._lock = asyncio.Lock()
        self.logins = 0
        self.renewals = 0

    def __repr__(self) -> str:
        return f"TokenManager(username={self.username!r}, api_key=***, session={self._session!r})"

    @property
    def session(self) -> Session | None:
        return self._session

    async def token(self) -> Secret:
        session = self._session
        if session is not None and self._clock() < session.renew_at:
            return session.token
        async with self._lock:
            session = self._session
            now = self._clock()
            if session is None or now >= session.expires_at:
                session = await self._login()
            elif now >= session.renew_at:
                session = await self._renew(session)
            return session.token

    async def refused(self, token: Secret) -> None:
        """The gateway refused ``token`` (401): forget it so the next ``token()`` logs in again."""
        async with self._lock:
            if self._session is not None and self._session.token == token:
                self._session = None

    async def _login(self) -> Session:
        answer = await self._post(
            "Auth/loginKey", {"userName": self.username, "apiKey": self._api_key.reveal()}, None
        )
        token = answer.get("token")
        if not answer.get("success") or not isinstance(token, str) or not token:
            code = answer.get("errorCode")
            message = answer.get("errorMessage")
            raise LoginFailed(
                code if isinstance(code, int) else -1, message if isinstance(message, str) else None
            )
        self.logins += 1
        return self._keep(token)

    async def _renew(self, session: Session) -> Session:
        try:
            answer = await self._post("Auth/validate", None, session.token)
        except GatewayError:
            return await self._login()
        token = answer.get("newToken")
        if not answer.get("success") or not isinstance(token, str) or not token:
            return await self._login()
        self.renewals += 1
        return self._keep(token)

    def _keep(self, token: str) -> Session:
        # The JWT's times are on the gateway's clock; the renewal plan runs on ours. So keep the
        # lifetime the token states (exp - iat) and anchor it at receipt: with agreeing clocks that is
        # exp itself, and a skewed clock cannot make a fresh token look expired (or an old one fresh).
        now = self._clock()
        issued, expires = token_times(token, now)
        lifetime = expires - issued
        if lifetime <= 0:
            lifetime = FALLBACK_LIFETIME
        session = Session(Secret(token), now, now + lifetime)
        self._session = session
        return session
