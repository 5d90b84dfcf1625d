"""Session tokens: JWT-shaped (header.payload.signature, base64url) with ``exp``, HMAC-signed.

Clients read ``exp`` from the payload to plan refreshes (PROJECTX.md §1), so the payload is real JSON
with ``sub``, ``iat``, ``nbf``, ``exp`` and ``jti``. The signature uses a per-process random key, so a
restarted simulator rejects old tokens — clients must log in again, as after a real session loss.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import orjson

from .clock import Clock


class TokenState(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"  # logged out
    INVALID = "invalid"  # not ours, malformed, bad signature


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token: str
    user: str
    jti: str
    issued_at: datetime
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))


class TokenBook:
    """Issues and checks tokens against the injected clock."""

    def __init__(
        self, clock: Clock, lifetime: timedelta = timedelta(hours=24), key: bytes | None = None
    ) -> None:
        if lifetime <= timedelta(0):
            raise ValueError(f"token lifetime must be positive, got {lifetime}")
        self._clock = clock
        self.lifetime = lifetime
        self._key = key or secrets.token_bytes(32)
        self._issued: dict[str, TokenInfo] = {}  # token -> info
        self._revoked: set[str] = set()
        self._forced_expired: set[str] = set()

    def issue(self, user: str) -> TokenInfo:
        now = self._clock.now()
        # JWT times are whole seconds; round expiry down so `exp` never promises more than we honour.
        iat = int(now.timestamp())
        exp_dt = now + self.lifetime
        exp = int(exp_dt.timestamp())
        jti = secrets.token_hex(8)
        payload = {
            "sub": user,
            "name": user,
            "jti": jti,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "iss": "risk-manager-sim-gateway",
            "aud": "projectx-gateway",
        }
        signing_input = f"{_HEADER}.{_b64(orjson.dumps(payload))}"
        signature = hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64(signature)}"
        info = TokenInfo(token, user, jti, now, exp_dt)
        self._issued[token] = info
        return info

    def check(self, token: str | None) -> tuple[TokenState, TokenInfo | None]:
        if not token:
            return TokenState.INVALID, None
        info = self._issued.get(token)
        if info is None:
            # Not issued by this process (or garbage): verify shape/signature only to say which.
            return TokenState.INVALID, None
        if token in self._revoked:
            return TokenState.REVOKED, info
        if token in self._forced_expired or self._clock.now() >= info.expires_at:
            return TokenState.EXPIRED, info
        return TokenState.VALID, info

    def valid(self, token: str | None) -> TokenInfo | None:
        state, info = self.check(token)
        return info if state is TokenState.VALID else None

    def revoke(self, token: str) -> bool:
        if token not in self._issued or token in self._revoked:
            return False
        self._revoked.add(token)
        return True

    def expire_all(self) -> int:
        """Fault switch: every token issued so far is expired from now on; new logins work again."""
        now = self._clock.now()
        count = 0
        for token, info in self._issued.items():
            if token not in self._forced_expired and now < info.expires_at:
                count += 1
            self._forced_expired.add(token)
        return count

    def verify_signature(self, token: str) -> bool:
        """Whether a token string was signed by this process (independent of the issued table)."""
        parts = token.split(".")
        if len(parts) != 3:
            return False
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
        try:
            return hmac.compare_digest(expected, _unb64(parts[2]))
        except ValueError:
            return False

    @staticmethod
    def claims(token: str) -> dict[str, object]:
        """Decode the payload of a JWT-shaped token without checking it (what a client does to read exp)."""
        parts = token.split(".")
        if len(parts) != 3:
            raise ValueError("not a JWT: expected three dot-separated parts")
        data = orjson.loads(_unb64(parts[1]))
        if not isinstance(data, dict):
            raise ValueError("JWT payload is not a JSON object")
        return data

    def active_count(self) -> int:
        now = self._clock.now()
        return sum(
            1
            for t, i in self._issued.items()
            if t not in self._revoked and t not in self._forced_expired and now < i.expires_at
        )
