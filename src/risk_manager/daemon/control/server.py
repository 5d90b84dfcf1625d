"""The control server: the same endpoints on two Unix sockets, one per role (docs/control-api.md).

``trader.sock`` (mode 0660, group ``admin.trader_group``) answers the read endpoints and
clock-in/out, and refuses every admin endpoint with 403 -- because of the socket, whoever the peer
is. ``admin.sock`` (mode 0600) answers everything, to a peer that :func:`roles.admin_allowed`
accepts (SO_PEERCRED); anyone else gets 403.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from risk_manager.daemon.control.handlers import PEER_KEY, ControlHandlers, Refused
from risk_manager.daemon.control.roles import Role, admin_allowed, peer_of
from risk_manager.daemon.control.sockets import CONTROL_DIR, SOCKET_MODES, address, socket_path

if TYPE_CHECKING:
    from risk_manager.daemon.app import Daemon

__all__ = ["ADMIN_PATHS", "READ_PATHS", "TRADER_POSTS", "ControlServer", "ControlSetupError"]

log = logging.getLogger(__name__)

READ_PATHS = ("/v1/status", "/v1/pnl", "/v1/logs", "/v1/market-hours")
TRADER_POSTS = ("/v1/clock-in", "/v1/clock-out")
ADMIN_PATHS = frozenset({"/v1/daemon", "/v1/reload", "/v1/shutdown", "/v1/unlock"})

SHUTDOWN_GRACE = 0.25  # seconds a request in flight gets at stop (the whole stop stays under 2 s)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlSetupError(RuntimeError):
    """The control sockets cannot be set up as configured (e.g. admin.trader_group names no group)."""


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class ControlServer:
    def __init__(self, daemon: Daemon, data_dir: Path) -> None:
        self.daemon = daemon
        self.data_dir = data_dir
        self.handlers = ControlHandlers(daemon)
        self._runners: list[web.AppRunner] = []
        self._paths: list[Path] = []

    async def start(self) -> None:
        if not hasattr(socket, "AF_UNIX") or sys.platform == "win32":
            # Windows needs a named pipe or a loopback port with a token: not built yet.
            log.warning("the control API is not available on this platform yet (no Unix sockets)")
            return
        admin = self.daemon.config.risk.admin
        trader_gid = _gid(admin.trader_group) if admin.trader_group else None
        directory = self.data_dir / CONTROL_DIR
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)  # the sockets' own modes say who may connect
        try:
            for role in (Role.TRADER, Role.ADMIN):
                path = socket_path(self.data_dir, role)
                runner = web.AppRunner(self._app(role), access_log=None, handle_signals=False,
                                       shutdown_timeout=SHUTDOWN_GRACE)
                await runner.setup()
                self._runners.append(runner)
                with address(path) as where, _umask(0o777 & ~SOCKET_MODES[role]):
                    await web.UnixSite(runner, where).start()
                self._paths.append(path)
                path.chmod(SOCKET_MODES[role])
                if role is Role.TRADER and trader_gid is not None:
                    os.chown(path, -1, trader_gid)
        except BaseException:
            await self.stop()
            raise
        log.info("control API on %s (trader) and %s (admin)", *self._paths)

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        paths, self._paths = self._paths, []
        for path in paths:
            path.unlink(missing_ok=True)

    # ---- the application of one socket ---------------------------------------------------------------

    def _app(self, role: Role) -> web.Application:
        app = web.Application(middlewares=[self._guard(role)])
        h = self.handlers
        app.router.add_get("/v1/status", h.status)
        app.router.add_get("/v1/pnl", h.pnl)
        app.router.add_get("/v1/logs", h.logs)
        app.router.add_get("/v1/market-hours", h.market_hours)
        app.router.add_post("/v1/clock-in", h.clock_in)
        app.router.add_post("/v1/clock-out", h.clock_out)
        app.router.add_get("/v1/daemon", h.daemon_info)
        app.router.add_post("/v1/reload", h.reload)
        app.router.add_post("/v1/shutdown", h.shutdown)
        app.router.add_post("/v1/unlock", h.unlock)
        return app

    def _guard(self, role: Role) -> Any:
        group = self.daemon.config.risk.admin.group

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            transport = request.transport
            peer = peer_of(transport.get_extra_info("socket") if transport is not None else None)
            request[PEER_KEY] = peer
            try:
                if role is Role.TRADER and request.path in ADMIN_PATHS:
                    raise Refused(403, f"{request.path} needs the admin role and this is the trader socket, "
                                       "which only reads (and clocks in/out); nothing was changed. Ask an "
                                       "admin to run `risk-manager admin ...`")
                if role is Role.ADMIN and not admin_allowed(peer, group):
                    raise Refused(403, f"{peer.name} is not an admin of this daemon (admin: root, the "
                                       "daemon's user, or a member of admin.group); use the trader "
                                       "commands instead")
                return await handler(request)
            except Refused as exc:
                return error(exc.status, exc.message)
            except web.HTTPException as exc:
                if exc.status == 404:
                    return error(404, f"no endpoint {request.method} {request.path}; see docs/control-api.md")
                if exc.status == 405:
                    return error(405, f"{request.path} does not take {request.method}; "
                                      "see docs/control-api.md")
                return error(exc.status, exc.text or exc.reason)
            except Exception as exc:
                log.exception("control API: %s %s failed", request.method, request.path)
                return error(500, f"the daemon failed to answer {request.path}: {type(exc).__name__}; "
                                  "see the daemon log")

        return guard


def _gid(group: str) -> int:
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ControlSetupError(
            f"admin.trader_group: there is no OS group named {group!r}; create it (groupadd {group}) "
            "or fix the name in risk_config.yaml"
        ) from None


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    """The socket is created with this umask, so it never exists with a looser mode than its own."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)
