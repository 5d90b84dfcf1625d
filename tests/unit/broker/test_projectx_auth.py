"""Session tokens: lifetime from the JWT, renewal before exp via Auth/validate, login again on refusal."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest

from risk_manager.broker.errors import LoginFailed, ServerError
from risk_manager.broker.projectx.auth import Secret, TokenManager, token_times

KEY = "pk-UNIT-secret-key"


def jwt(iat: int | None, exp: int | None) -> str:
    claims: dict[str, Any] = {"sub": "trader"}
    if iat is not None:
        claims["iat"] = iat
    if exp is not None:
        claims["exp"] = exp
    payload = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"


class FakeGateway:
    """Answers Auth/loginKey and Auth/validate like the gateway, counting calls."""

    def __init__(self, lifetime: int = 1000) -> None:
        self.lifetime = lifetime
        self.calls: list[str] = []
        self.issued = 0
        self.validate_fails = False
        self.login_refused = False
        self.now = 0.0

    def token(self) -> str:
        self.issued += 1
        # a distinct signature per token, so each renewal is a new string
        return jwt(int(self.now), int(self.now) + self.lifetime) + str(self.issued)

    async def post(self, endpoint: str, body: dict[str, Any] | None, token: Secret | None) -> dict[str, Any]:
        self.calls.append(endpoint)
        await asyncio.sleep(0)
        if endpoint == "Auth/loginKey":
            assert body == {"userName": "trader", "apiKey": KEY} and token is None
            if self.login_refused:
                return {"success": False, "errorCode": 3, "errorMessage": "Invalid credentials.",
                        "token": None}
            return {"success": True, "errorCode": 0, "errorMessage": None, "token": self.token()}
        assert endpoint == "Auth/validate" and token is not None
        if self.validate_fails:
            raise ServerError("Auth/validate", 503)
        return {"success": True, "errorCode": 0, "errorMessage": None, "newToken": self.token()}


def manager(gw: FakeGateway) -> TokenManager:
    return TokenManager("trader", Secret(KEY), gw.post, lambda: gw.now)


def test_token_times_read_iat_and_exp_from_the_jwt_payload() -> None:
    assert token_times(jwt(100, 86500), received_at=5.0) == (100.0, 86500.0)
    assert token_times(jwt(None, 9000), received_at=50.0) == (50.0, 9000.0)


def test_an_unreadable_token_is_treated_as_valid_for_an_hour() -> None:
    assert token_times("not-a-jwt", received_at=10.0) == (10.0, 3610.0)
    assert token_times("a.!!!.c", received_at=10.0) == (10.0, 3610.0)


def test_the_token_is_renewed_via_validate_before_exp_and_not_earlier() -> None:
    async def body() -> None:
        gw = FakeGateway(lifetime=1000)
        tokens = manager(gw)
        first = await tokens.token()
        gw.now = 799.0  # renewal due at 80 % of the lifetime (1000 s is short of the 5-minute margin)
        assert await tokens.token() == first
        gw.now = 800.0
        second = await tokens.token()
        assert second != first
        assert gw.calls == ["Auth/loginKey", "Auth/validate"]
        assert tokens.renewals == 1

    asyncio.run(body())


def test_a_long_token_is_renewed_five_minutes_before_exp() -> None:
    async def body() -> None:
        gw = FakeGateway(lifetime=86400)
        tokens = manager(gw)
        await tokens.token()
        gw.now = 86400 - 301.0
        await tokens.token()
        assert gw.calls == ["Auth/loginKey"]
        gw.now = 86400 - 300.0
        await tokens.token()
        assert gw.calls == ["Auth/loginKey", "Auth/validate"]

    asyncio.run(body())


def test_a_failed_renewal_falls_back_to_a_fresh_login() -> None:
    async def body() -> None:
        gw = FakeGateway(lifetime=1000)
        tokens = manager(gw)
        await tokens.token()
        gw.validate_fails = True
        gw.now = 900.0
        await tokens.token()
        assert gw.calls == ["Auth/loginKey", "Auth/validate", "Auth/loginKey"]

    asyncio.run(body())


def test_an_expired_token_is_never_presented_it_logs_in_again() -> None:
    async def body() -> None:
        gw = FakeGateway(lifetime=1000)
        tokens = manager(gw)
        await tokens.token()
        gw.now = 1000.0
        await tokens.token()
        assert gw.calls == ["Auth/loginKey", "Auth/loginKey"]

    asyncio.run(body())


def test_a_refused_token_is_dropped_and_the_next_caller_logs_in_once_for_everyone() -> None:
    async def body() -> None:
        gw = FakeGateway()
        tokens = manager(gw)
        first = await tokens.token()
        await tokens.refused(Secret("someone else's old token"))
        assert await tokens.token() == first
        await tokens.refused(first)
        results = await asyncio.gather(*(tokens.token() for _ in range(5)))
        assert len(set(results)) == 1 and results[0] != first
        assert gw.calls == ["Auth/loginKey", "Auth/loginKey"]

    asyncio.run(body())


def test_a_refused_login_says_which_settings_to_check_and_shows_no_key() -> None:
    async def body() -> None:
        gw = FakeGateway()
        gw.login_refused = True
        with pytest.raises(LoginFailed) as caught:
            await manager(gw).token()
        message = str(caught.value)
        assert "errorCode 3: Invalid credentials." in message
        assert "projectx.api_key in api_config.yaml" in message
        assert KEY not in message

    asyncio.run(body())


def test_neither_the_key_nor_the_token_shows_in_a_repr() -> None:
    async def body() -> None:
        gw = FakeGateway()
        tokens = manager(gw)
        token = (await tokens.token()).reveal()
        for shown in (repr(tokens), str(tokens), repr(tokens.session), repr(Secret(KEY)), f"{Secret(KEY)}"):
            assert KEY not in shown and token not in shown

    asyncio.run(body())
