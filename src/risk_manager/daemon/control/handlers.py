"""The control API's endpoints (docs/control-api.md). Every answer is the engine's read model
(``AccountStatus``) or rows of the store -- never daemon internals, never a credential.

Handlers raise :class:`Refused` with a plain sentence saying what is wrong and how to fix it; the
server turns it into ``{"error": ...}`` with the status code.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from risk_manager.daemon.control.market import market_hours
from risk_manager.daemon.control.roles import Peer
from risk_manager.daemon.control.store_views import (
    ENFORCEMENT_KINDS,
    BadQuery,
    LogQuery,
    clock_summary,
    log_rows,
    pnl_breakdown,
    status_answer,
)
from risk_manager.daemon.persistent import PersistentEngine
from risk_manager.domain.actions import format_time
from risk_manager.domain.status import AccountStatus
from risk_manager.store.codec import parse_iso
from risk_manager.store.errors import StoreError

if TYPE_CHECKING:
    from risk_manager.daemon.app import Daemon

PEER_KEY = web.RequestKey("peer", Peer)


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ControlHandlers:
    """The endpoints, over one daemon (the same object serves both sockets; the server checks roles)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    # ---- plumbing ----------------------------------------------------------------------------------

    def _persistent(self) -> PersistentEngine:
        persistent = self.daemon.persistent
        if persistent is None:
            raise Refused(503, "the daemon is starting or stopping; retry in a moment")
        return persistent

    def _now(self) -> datetime:
        supervisor = self.daemon.supervisor
        return supervisor.now() if supervisor is not None else self.daemon.wall()

    def _daemon_block(self, now: datetime) -> dict[str, Any]:
        started = self.daemon.started_at
        return {
            "running": True,
            "pid": os.getpid(),
            "started_at": None if started is None else format_time(started),
            "as_of": format_time(now),
            "timezone": self._zone(),
        }

    def _zone(self) -> str:
        """The zone the trader's screens show times in (general.timezone)."""
        return str(self.daemon.config.risk.general.timezone)

    @staticmethod
    def _account_param(request: web.Request) -> int | None:
        text = request.query.get("account")
        if text is None or text == "":
            return None
        try:
            return int(text)
        except ValueError:
            raise Refused(400, f"account={text!r} is not an account id: give its number, e.g. 7") from None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except ValueError:
            raise Refused(400, "the request body is not JSON: send a JSON object") from None
        if not isinstance(body, dict):
            raise Refused(400, "the request body must be a JSON object, e.g. {\"account\": 7}")
        return body

    def _known(self, account: int | None) -> list[int]:
        return [s.account_id for s in self._statuses(self._now(), account)]

    def _one_account(self, account: Any) -> int:
        if account is not None and (not isinstance(account, int) or isinstance(account, bool)):
            raise Refused(400, f"account must be an account id (a number), got {account!r}")
        known = self._known(account)
        if account is not None:
            return int(account)
        if len(known) == 1:
            return known[0]
        raise Refused(400, f"this daemon monitors {len(known)} accounts ({', '.join(map(str, known))}): "
                           "say which one (--account ID)")

    # ---- trader: read -------------------------------------------------------------------------------

    def _statuses(self, now: datetime, account: int | None) -> list[AccountStatus]:
        """The read model of every account (or of ``account``: 404 when it is not monitored)."""
        statuses = self.daemon.statuses(now)
        if account is None:
            return statuses
        chosen = [s for s in statuses if s.account_id == account]
        if not chosen:
            raise Refused(404, f"account {account} is not monitored by this daemon (monitored: "
                               f"{', '.join(str(s.account_id) for s in statuses) or 'none'})")
        return chosen

    async def status(self, request: web.Request) -> web.Response:
        now = self._now()
        statuses = self._statuses(now, self._account_param(request))
        return web.json_response(status_answer(statuses, self._daemon_block(now)))

    async def pnl(self, request: web.Request) -> web.Response:
        account = self._account_param(request)
        now = self._now()
        statuses = self._statuses(now, account)
        persistent = self._persistent()
        persistent.flush()  # executions decided a moment ago are staged, not yet on file
        trades = persistent.store.trades(account)
        return web.json_response({"daemon": self._daemon_block(now),
                                  "accounts": [pnl_breakdown(s, trades) for s in statuses]})

    async def logs(self, request: web.Request) -> web.Response:
        q = request.query
        since: datetime | None = None
        if q.get("since"):
            try:
                since = parse_iso(q["since"])
            except ValueError:
                raise Refused(400, f"since={q['since']!r} is not a time: give ISO-8601 UTC, e.g. "
                                   "2026-03-02T14:30:00Z") from None
        try:
            tail = int(q.get("tail") or 100)
        except ValueError:
            raise Refused(400, f"tail={q.get('tail')!r} is not a number of rows") from None
        try:
            query = LogQuery(rule=q.get("rule") or None, level=q.get("level") or None, since=since,
                             search=q.get("search") or None, tail=tail, account=self._account_param(request))
        except BadQuery as exc:
            raise Refused(400, str(exc)) from None
        persistent = self._persistent()
        persistent.flush()  # rows decided a moment ago are staged, not yet on file
        return web.json_response({"rows": log_rows(persistent.store, query), "timezone": self._zone()})

    async def market_hours(self, request: web.Request) -> web.Response:
        persistent = self._persistent()
        return web.json_response(market_hours(persistent.engine.calendar, self._now()))

    # ---- trader: clock-in / clock-out (a record for the trader; no rule reads it) ----------------------

    async def clock_in(self, request: web.Request) -> web.Response:
        account = self._one_account((await self._body(request)).get("account"))
        store = self._persistent().store
        try:
            row = store.clock_in(account, self._now(), _peer(request).name)
        except StoreError as exc:
            raise Refused(409, str(exc)) from None
        return web.json_response({**clock_summary(store, row), "timezone": self._zone()})

    async def clock_out(self, request: web.Request) -> web.Response:
        account = self._one_account((await self._body(request)).get("account"))
        persistent = self._persistent()
        persistent.flush()  # the session's executions must be on file to be counted
        try:
            row = persistent.store.clock_out(account, self._now())
        except StoreError as exc:
            raise Refused(409, str(exc)) from None
        return web.json_response({**clock_summary(persistent.store, row), "timezone": self._zone()})

    # ---- admin ---------------------------------------------------------------------------------------

    async def daemon_info(self, request: web.Request) -> web.Response:
        daemon = self.daemon
        persistent = self._persistent()
        now = self._now()
        started = daemon.started_at
        statuses = daemon.statuses(now)
        persistent.flush()
        store = persistent.store
        day_start = min((s.trading_day for s in statuses), default=None)
        enforcements = 0
        if statuses:
            since = persistent.engine.calendar.trading_day(now).start
            enforcements = sum(1 for r in store.audit(since=since) if r.kind in ENFORCEMENT_KINDS)
        bounds = store.journal_bounds()
        last_event = None if bounds is None else bounds[1][1]
        rules: dict[str, list[str]] = {}
        for status in statuses:
            rule_set = persistent.engine.policy.rules_for(status.account_id)
            rules[str(status.account_id)] = [r.describe() for r in (rule_set.rules if rule_set else ())]
        db = daemon.data_dir / "risk.db"
        size = sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())
        metrics = getattr(daemon, "metrics_snapshot", None)
        answer = {
            "pid": os.getpid(),
            "started_at": None if started is None else format_time(started),
            "uptime_s": None if started is None else round((daemon.wall() - started).total_seconds(), 3),
            "as_of": format_time(now),
            "trading_day": None if day_start is None else day_start.isoformat(),
            "accounts": [{"id": s.account_id, "connection": str(s.connection)} for s in statuses],
            "rules": rules,
            "enforcements_today": enforcements,
            "last_event_age_s": None if last_event is None
            else round(max(0.0, (daemon.wall() - last_event).total_seconds()), 3),
            "db_size_bytes": size,
            "metrics": metrics() if callable(metrics) else None,
        }
        return web.json_response(answer)

    async def reload(self, request: web.Request) -> web.Response:
        reload_config = getattr(self.daemon, "reload_config", None)
        if reload_config is None:
            raise Refused(501, "this daemon cannot reload its config while running; restart it to apply "
                               "a changed config (risk-manager admin daemon restart)")
        outcome = await reload_config(trigger="control")
        return web.json_response({"applied": bool(outcome.applied), "changes": list(outcome.changes),
                                  "error": outcome.error})

    async def shutdown(self, request: web.Request) -> web.Response:
        self.daemon.request_stop()
        return web.json_response({"stopping": True})

    async def unlock(self, request: web.Request) -> web.Response:
        if not self.daemon.config.risk.admin.allow_unlock:
            raise Refused(403, "manual unlock is off (admin.allow_unlock: false, the default: by design a "
                               "lockout holds until its own end); an admin may set admin.allow_unlock: true "
                               "in risk_config.yaml to allow it")
        body = await self._body(request)
        account = body.get("account")
        if not isinstance(account, int) or isinstance(account, bool):
            raise Refused(400, "unlock needs the account id: {\"account\": 7, \"reason\": \"...\"}")
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise Refused(400, "unlock needs a reason (it is kept in the audit trail): give --reason TEXT")
        rule = body.get("rule")
        if rule is not None and not isinstance(rule, str):
            raise Refused(400, f"rule must be a rule id like RULE-003, got {rule!r}")
        self._known(account)
        persistent = self._persistent()
        state = persistent.engine.accounts.get(account)
        held = [lo for lo in (state.lockouts if state is not None else ()) if rule is None or lo.rule == rule]
        if not held:
            raise Refused(409, f"account {account} has no active lockout{' of ' + rule if rule else ''}: "
                               "nothing to unlock")
        now = self._now()
        decisions = persistent.clear_lockout(account, now, f"{_peer(request).name} (control API)",
                                             reason.strip(), rule)
        notifications = self.daemon.notifications
        if notifications is not None and decisions:
            notifications.on_actions([d.action for d in decisions], decisions[0].t)
        return web.json_response({
            "account": account,
            "reason": reason.strip(),
            "unlocked": [{"rule": lo.rule, "scope": lo.scope, "symbol": lo.symbol, "reason": lo.reason}
                         for lo in held],
            "audit_ids": [d.audit_id for d in decisions],
        })


def _peer(request: web.Request) -> Peer:
    return request.get(PEER_KEY) or Peer(None, None, None)
