"""REST side of the gateway: ``/api/...`` routes with the gateway's envelopes, auth, rate limits, faults.

Conventions (PROJECTX.md §1): every endpoint except ``GET /api/Status/ping`` is POST with a JSON body;
business outcomes are HTTP 200 with ``success``/``errorCode``/``errorMessage``; a missing or expired
bearer token is HTTP 401; too many requests per token is HTTP 429; a body the model binding cannot
read (bad JSON, a required field missing, a wrong type) is HTTP 400 with a ProblemDetails body naming
the field, as ASP.NET answers.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from .broker import Bracket, Outcome, PaperBroker
from .clock import Clock
from .faults import FaultBook
from .market import MarketSimulator, SimContract
from .stats import Stats
from .tokens import TokenBook, TokenInfo, TokenState
from .wire import BadRequest, Body

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Limit:
    requests: int
    window: float  # seconds


DEFAULT_LIMITS: Mapping[str, Limit] = {"history": Limit(50, 30.0), "default": Limit(200, 60.0)}


class RateLimiter:
    """Sliding-window request log per (token, bucket), on the injected clock."""

    def __init__(
        self, clock: Clock, limits: Mapping[str, Limit] = DEFAULT_LIMITS, enabled: bool = True
    ) -> None:
        self.clock = clock
        self.limits = dict(limits)
        self.enabled = enabled
        self._log: dict[tuple[str, str], deque[float]] = {}

    def hit(self, key: str, bucket: str) -> float | None:
        """Record a request; None when allowed, else the seconds until the next one would be."""
        if not self.enabled:
            return None
        limit = self.limits[bucket]
        now = self.clock.now().timestamp()
        log = self._log.setdefault((key, bucket), deque())
        while log and log[0] <= now - limit.window:
            log.popleft()
        if len(log) >= limit.requests:
            return max(0.0, log[0] + limit.window - now)
        log.append(now)
        return None


def _json(data: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers={"Content-Type": JSON_TYPE})


def _result(outcome: Outcome | None = None, **payload: Any) -> dict[str, Any]:
    out = dict(payload)
    code = 0 if outcome is None else int(outcome.code)
    out.update(success=code == 0, errorCode=code, errorMessage=None if outcome is None else outcome.message)
    return out


Handler = Callable[[TokenInfo | None, Body], dict[str, Any] | Awaitable[dict[str, Any]]]


class RestApi:
    def __init__(
        self,
        *,
        clock: Clock,
        tokens: TokenBook,
        broker: PaperBroker,
        market: MarketSimulator,
        faults: FaultBook,
        stats: Stats,
        limiter: RateLimiter,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self.tokens = tokens
        self.broker = broker
        self.market = market
        self.faults = faults
        self.stats = stats
        self.limiter = limiter
        self.credentials = dict(credentials) if credentials is not None else None
        self.on_logout: Callable[[TokenInfo], None] | None = None

    # ---- routing ----------------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        post = [
            ("Auth/loginKey", self.login_key, False, "default"),
            ("Auth/logout", self.logout, True, "default"),
            ("Account/search", self.account_search, True, "default"),
            ("Position/searchOpen", self.position_search_open, True, "default"),
            ("Position/closeContract", self.position_close, True, "default"),
            ("Position/partialCloseContract", self.position_partial_close, True, "default"),
            ("Order/search", self.order_search, True, "default"),
            ("Order/searchOpen", self.order_search_open, True, "default"),
            ("Order/place", self.order_place, True, "default"),
            ("Order/cancel", self.order_cancel, True, "default"),
            ("Order/modify", self.order_modify, True, "default"),
            ("Trade/search", self.trade_search, True, "default"),
            ("Contract/search", self.contract_search, True, "default"),
            ("Contract/searchById", self.contract_search_by_id, True, "default"),
            ("Contract/available", self.contract_available, True, "default"),
            ("History/retrieveBars", self.retrieve_bars, True, "history"),
        ]
        routes = [
            web.post(f"/api/{name}", self._wrap(name, fn, auth, bucket)) for name, fn, auth, bucket in post
        ]
        routes.append(web.post("/api/Auth/validate", validate_handler(self)))
        routes.append(web.get("/api/Status/ping", self._wrap_ping()))
        return routes

    def _wrap(
        self, name: str, handler: Handler, auth: bool, bucket: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        stats, faults, tokens, limiter = self.stats, self.faults, self.tokens, self.limiter

        async def endpoint(request: web.Request) -> web.StreamResponse:
            stats.request(name)
            token = _bearer(request)
            info: TokenInfo | None = None
            if auth:
                info = tokens.valid(token)
                if info is None:
                    return self._status(name, 401)
            rate_key = info.token if info is not None else token
            if rate_key:
                retry = limiter.hit(rate_key, bucket)
                if retry is not None:
                    return self._status(name, 429, {"Retry-After": str(max(1, math.ceil(retry)))})
            fault = faults.take(name)
            if fault is not None and fault.status is not None:
                return self._status(name, fault.status)
            if fault is not None and fault.error_code is not None:
                stats.response(name, 200)
                return _json(_result(Outcome(fault.error_code, fault.error_message)))
            try:
                raw = await request.read()
                body = Body(orjson.loads(raw) if raw.strip() else None)
                result = handler(info, body)
                if asyncio.iscoroutine(result):
                    result = await result
            except orjson.JSONDecodeError as exc:
                stats.response(name, 400)
                return _json(BadRequest("$", f"The request body is not valid JSON: {exc}").problem(), 400)
            except BadRequest as exc:
                stats.response(name, 400)
                return _json(exc.problem(), 400)
            if fault is not None and fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            stats.response(name, 200)
            assert isinstance(result, dict)
            return _json(result)

        endpoint.__name__ = name.replace("/", "_")
        return endpoint

    def _wrap_ping(self) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def ping(request: web.Request) -> web.StreamResponse:
            name = "Status/ping"
            self.stats.request(name)
            fault = self.faults.take(name)
            if fault is not None and fault.status is not None:
                return self._status(name, fault.status)
            if fault is not None and fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            self.stats.response(name, 200)
            return web.Response(text="pong", content_type="text/plain")

        return ping

    def _status(self, name: str, status: int, headers: Mapping[str, str] | None = None) -> web.Response:
        self.stats.response(name, status)
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
        return web.Response(status=status, headers=headers)

    # ---- auth -------------------------------------------------------------------------------------

    def login_key(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        user = body.text("userName")
        api_key = body.text("apiKey")
        assert user is not None and api_key is not None
        if self.credentials is not None and self.credentials.get(user) != api_key:
            return _result(Outcome(3, "Invalid credentials."), token=None)
        info = self.tokens.issue(user)
        return {"token": info.token, **_result()}

    def logout(self, info: TokenInfo | None, body: Body) -> dict[str, Any]:
        assert info is not None
        self.tokens.revoke(info.token)
        if self.on_logout is not None:
            self.on_logout(info)
        return _result()

    # ---- accounts, positions ------------------------------------------------------------------------

    def _account(self, body: Body) -> tuple[int, bool]:
        account_id = body.integer("accountId")
        assert account_id is not None
        return account_id, account_id in self.broker.accounts

    def account_search(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        only_active = body.flag("onlyActiveAccounts")
        assert only_active is not None
        return {"accounts": self.broker.search_accounts(only_active), **_result()}

    def position_search_open(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        account_id, known = self._account(body)
        if not known:
            return {"positions": [], **_result(Outcome(1, f"Account {account_id} not found."))}
        return {"positions": self.broker.open_positions(account_id), **_result()}

    def position_close(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        account_id, _known = self._account(body)
        contract_id = body.text("contractId")
        assert contract_id is not None
        return _result(self.broker.close_contract(account_id, contract_id))

    def position_partial_close(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        account_id, _known = self._account(body)
        contract_id = body.text("contractId")
        size = body.integer("size")
        assert contract_id is not None and size is not None
        return _result(self.broker.partial_close(account_id, contract_id, size))

    # ---- orders -------------------------------------------------------------------------------------

    def order_search(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        account_id, known = self._account(body)
        start = body.time("startTimestamp")
        end = body.time("endTimestamp", required=False)
        assert start is not None
        if not known:
            return {"orders": [], **_result(Outcome(1, f"Account {account_id} not found."))}
        return {"orders": self.broker.search_orders(account_id, start, end), **_result()}

    def order_search_open(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        account_id, known = self._account(body)
        if not known:
            return {"orders": [], **_result(Outcome(1, f"Account {account_id} not found."))}
        return {"orders": self.broker.open_orders(account_id), **_result()}

    def order_place(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        account_id = body.integer("accountId")
        contract_id = body.text("contractId")
        type_ = body.integer("type")
        side = body.integer("side")
        size = body.integer("size")
        assert account_id is not None and contract_id is not None
        assert type_ is not None and side is not None and size is not None
        body.integer("linkedOrderId", required=False)  # accepted and validated, not used by the simulator
        outcome = self.broker.place_order(
            account_id,
            contract_id,
            type_,
            side,
            size,
            limit_price=body.decimal("limitPrice"),
            stop_price=body.decimal("stopPrice"),
            trail_price=body.decimal("trailPrice"),
            custom_tag=body.text("customTag", required=False),
            stop_loss=_bracket(body, "stopLossBracket"),
            take_profit=_bracket(body, "takeProfitBracket"),
        )
        return {"orderId": outcome.order_id, **_result(outcome)}

    def order_cancel(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        account_id = body.integer("accountId")
        order_id = body.integer("orderId")
        assert account_id is not None and order_id is not None
        return _result(self.broker.cancel_order(account_id, order_id))

    def order_modify(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        account_id = body.integer("accountId")
        order_id = body.integer("orderId")
        assert account_id is not None and order_id is not None
        return _result(
            self.broker.modify_order(
                account_id,
                order_id,
                size=body.integer("size", required=False),
                limit_price=body.decimal("limitPrice"),
                stop_price=body.decimal("stopPrice"),
                trail_price=body.decimal("trailPrice"),
            )
        )

    def trade_search(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        account_id, known = self._account(body)
        start = body.time("startTimestamp")
        end = body.time("endTimestamp", required=False)
        if not known:
            return {"trades": [], **_result(Outcome(1, f"Account {account_id} not found."))}
        return {"trades": self.broker.search_trades(account_id, start, end), **_result()}

    # ---- contracts, history -------------------------------------------------------------------------

    def _listed(self) -> list[SimContract]:
        return sorted(self.market.contracts.values(), key=lambda c: c.name)

    def contract_search(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        text = (body.text("searchText", required=False) or "").strip().lower()
        body.flag("live")
        found = [
            c.payload()
            for c in self._listed()
            if not text
            or text in c.name.lower()
            or text in c.symbol_id.lower()
            or text in c.description.lower()
            or text == c.id.lower()
        ]
        return {"contracts": found[:20], **_result()}

    def contract_search_by_id(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        contract_id = body.text("contractId")
        assert contract_id is not None
        contract = self.market.contracts.get(contract_id)
        if contract is None:
            return {"contract": None, **_result(Outcome(1, f"Contract {contract_id} not found."))}
        return {"contract": contract.payload(), **_result()}

    def contract_available(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        body.flag("live")
        return {"contracts": [c.payload() for c in self._listed()], **_result()}

    def retrieve_bars(self, _: TokenInfo | None, body: Body) -> dict[str, Any]:
        contract_id = body.text("contractId")
        body.flag("live")
        start = body.time("startTime")
        end = body.time("endTime")
        unit = body.integer("unit")
        unit_number = body.integer("unitNumber")
        limit = body.integer("limit")
        include_partial = body.flag("includePartialBar")
        assert contract_id is not None and start is not None and end is not None
        assert (
            unit is not None and unit_number is not None and limit is not None and include_partial is not None
        )
        if contract_id not in self.market.contracts:
            return {"bars": [], **_result(Outcome(1, f"Contract {contract_id} not found."))}
        if unit not in (1, 2, 3, 4, 5, 6):
            return {
                "bars": [],
                **_result(
                    Outcome(
                        2, f"Invalid unit {unit}: use 1 second, 2 minute, 3 hour, 4 day, 5 week, 6 month."
                    )
                ),
            }
        if unit_number < 1:
            return {
                "bars": [],
                **_result(Outcome(3, f"Invalid unitNumber {unit_number}: must be at least 1.")),
            }
        if not 1 <= limit <= 20000:
            return {"bars": [], **_result(Outcome(4, f"Invalid limit {limit}: must be 1..20000."))}
        bars = self.market.bars(contract_id, start, end, unit, unit_number, limit, include_partial)
        return {"bars": bars, **_result()}


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def _bracket(body: Body, name: str) -> Bracket | None:
    obj = body.obj(name)
    if obj is None:
        return None
    ticks = obj.integer("ticks")
    type_ = obj.integer("type")
    assert ticks is not None and type_ is not None
    return Bracket(ticks, type_)


def validate_handler(api: RestApi) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Auth/validate reads the token itself: an expired or logged-out token gets 200 + the
    ValidateErrorCode (3 ExpiredToken, 1 InvalidSession) rather than 401, so a client learns why."""

    async def validate(request: web.Request) -> web.StreamResponse:
        name = "Auth/validate"
        api.stats.request(name)
        token = _bearer(request)
        state, info = api.tokens.check(token)
        if state is TokenState.INVALID or info is None:
            return api._status(name, 401)
        if state is TokenState.VALID and api.limiter.hit(info.token, "default") is not None:
            return api._status(name, 429, {"Retry-After": "1"})
        fault = api.faults.take(name)
        if fault is not None and fault.status is not None:
            return api._status(name, fault.status)
        if fault is not None and fault.error_code is not None:
            api.stats.response(name, 200)
            return _json(_result(Outcome(fault.error_code, fault.error_message), newToken=None))
        if state is TokenState.EXPIRED:
            result = _result(Outcome(3, "Token expired."), newToken=None)
        elif state is TokenState.REVOKED:
            result = _result(Outcome(1, "Session is no longer valid (logged out)."), newToken=None)
        else:
            result = {**_result(), "newToken": api.tokens.issue(info.user).token}
        if fault is not None and fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        api.stats.response(name, 200)
        return _json(result)

    return validate
