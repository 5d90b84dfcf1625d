"""Control surface for tests and demos: ``/__sim__/...`` routes (no token, loopback clients only).

- ``POST /__sim__/price``   ``{"contractId", "price", "bid"?, "ask"?}`` move the market there now
- ``POST /__sim__/account`` ``{"accountId", "canTrade"?, "balance"?, "isVisible"?, "kind"?,
  "positionBrackets"?}`` (kind: practice | live | follower)
- ``POST /__sim__/fault``   one fault spec (see ``apply_fault``), or ``{"clear": true}``
- ``POST /__sim__/market``  ``{"contractId", "rate"}`` force a quote rate (updates/s; null restores)
- ``POST /__sim__/stats/reset`` zero the request counters
- ``GET  /__sim__/state``   accounts, positions, working orders, trades, counters, hubs, faults

Trader actions are not here on purpose: they go through the normal REST API (Order/place ...).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from .faults import FaultSpecError
from .hub import Hub
from .market import PriceError
from .wire import BadRequest, Body

if TYPE_CHECKING:
    from .app import SimGateway


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def apply_fault(gw: SimGateway, spec: object) -> dict[str, Any]:
    """Apply one fault spec; returns what was done. Raises FaultSpecError naming the problem.

    Accepted shapes:
      {"endpoint": "Position/closeContract", "status": 429, "count": 2}
      {"endpoint": "Order/cancel", "delay_ms": 3000}              (runs the endpoint, answers late)
      {"endpoint": "Order/cancel", "errorCode": 3, "errorMessage": "..."} or "success": false
      {"hub": "user" | "market" | "all", "action": "drop" | "freeze" | "thaw" | "close"}
      {"tokens": "expire"}
      {"events": "duplicate" | "reorder", "count": 5}
      {"clear": true}
    """
    if not isinstance(spec, dict) or not spec:
        raise FaultSpecError('a fault is a JSON object, e.g. {"endpoint": "Order/cancel", "status": 500}')
    kinds = [k for k in ("endpoint", "hub", "tokens", "events", "clear") if k in spec]
    if len(kinds) != 1:
        raise FaultSpecError(
            f"a fault needs exactly one of endpoint, hub, tokens, events, clear; got {sorted(spec)}"
        )
    kind = kinds[0]
    if kind == "endpoint":
        fault = gw.faults.add_endpoint_fault(spec)
        return {"applied": "endpoint", **fault.describe()}
    if kind == "hub":
        _only(spec, {"hub", "action", "error", "allowReconnect"})
        target = spec["hub"]
        hub_map: dict[object, list[Hub]] = {
            "user": [gw.user_hub],
            "market": [gw.market_hub],
            "all": [gw.user_hub, gw.market_hub],
        }
        hubs = hub_map.get(target)
        if hubs is None:
            raise FaultSpecError(f"hub must be 'user', 'market' or 'all', got {target!r}")
        action = spec.get("action")
        count = 0
        for hub in hubs:
            if action == "drop":
                count += hub.drop_all()
            elif action == "freeze":
                count += hub.freeze_all()
            elif action == "thaw":
                count += hub.thaw_all()
            elif action == "close":
                count += hub.close_all(
                    spec.get("error", "Connection closed by the server."), spec.get("allowReconnect", True)
                )
            else:
                raise FaultSpecError(f"action must be 'drop', 'freeze', 'thaw' or 'close', got {action!r}")
        return {"applied": "hub", "hub": target, "action": action, "connections": count}
    if kind == "tokens":
        _only(spec, {"tokens"})
        if spec["tokens"] != "expire":
            raise FaultSpecError(f"tokens must be 'expire', got {spec['tokens']!r}")
        return {"applied": "tokens", "expired": gw.tokens.expire_all()}
    if kind == "events":
        _only(spec, {"events", "count"})
        gw.faults.add_event_fault(spec["events"], spec.get("count", 1))
        return {"applied": "events", **gw.faults.describe()}
    _only(spec, {"clear"})
    if spec["clear"] is not True:
        raise FaultSpecError('use {"clear": true} to clear all faults')
    gw.faults.clear()
    gw.user_hub.thaw_all()
    gw.market_hub.thaw_all()
    return {"applied": "clear"}


def _only(spec: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(spec) - allowed
    if unknown:
        raise FaultSpecError(f"unknown key(s) {sorted(unknown)}; accepted here: {sorted(allowed)}")


def _error(status: int, message: str) -> web.Response:
    return web.Response(body=orjson.dumps({"error": message}), status=status, content_type="application/json")


def _ok(data: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def control_routes(gw: SimGateway) -> list[web.RouteDef]:
    def guarded(fn: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Route:
        async def route(request: web.Request) -> web.StreamResponse:
            if not is_loopback(request.remote):
                return _error(
                    403, f"the control API answers loopback clients only (you are {request.remote})"
                )
            try:
                return await fn(request)
            except (BadRequest, FaultSpecError, PriceError, KeyError, ValueError) as exc:
                message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
                return _error(400, str(message))

        return route

    async def body_of(request: web.Request) -> Any:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest("$", f"the request body is not valid JSON: {exc}") from None

    async def price(request: web.Request) -> web.StreamResponse:
        body = Body(await body_of(request))
        contract_id = body.text("contractId")
        value = body.decimal("price", required=True)
        assert contract_id is not None and value is not None
        quote = gw.set_price(contract_id, value, bid=body.decimal("bid"), ask=body.decimal("ask"))
        return _ok({"contractId": contract_id, "quote": quote})

    async def account(request: web.Request) -> web.StreamResponse:
        body = Body(await body_of(request))
        account_id = body.integer("accountId")
        assert account_id is not None
        balance = body.decimal("balance")
        acct = gw.set_account(
            account_id,
            can_trade=body.flag("canTrade", required=False),
            balance=balance,
            is_visible=body.flag("isVisible", required=False),
            kind=body.text("kind", required=False),
            position_brackets=body.flag("positionBrackets", required=False),
        )
        return _ok({"account": acct})

    async def fault(request: web.Request) -> web.StreamResponse:
        return _ok(gw.fault(await body_of(request)))

    async def market(request: web.Request) -> web.StreamResponse:
        data = await body_of(request)
        body = Body(data)
        contract_id = body.text("contractId")
        assert contract_id is not None
        if not isinstance(data, dict) or "rate" not in data:
            raise BadRequest(
                "rate", "rate is required: quote updates per second, or null to restore the walk"
            )
        rate = body.decimal("rate")
        gw.set_quote_rate(contract_id, float(rate) if rate is not None else None)
        return _ok({"contractId": contract_id, "rate": None if rate is None else float(rate)})

    async def state(request: web.Request) -> web.StreamResponse:
        return _ok(gw.state())

    async def reset_stats(request: web.Request) -> web.StreamResponse:
        gw.stats.reset()
        return _ok({"reset": True})

    return [
        web.post("/__sim__/price", guarded(price)),
        web.post("/__sim__/account", guarded(account)),
        web.post("/__sim__/fault", guarded(fault)),
        web.post("/__sim__/market", guarded(market)),
        web.post("/__sim__/stats/reset", guarded(reset_stats)),
        web.get("/__sim__/state", guarded(state)),
    ]
