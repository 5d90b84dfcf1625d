"""The control server: the same endpoints on two Unix sockets, one per role (docs/control-api.md).

``trader.sock`` (mode 0660, group ``admin.trader_group``) answers the read endpoints and
clock-in/out, and refuses every admin endpoint with 403 -- because of the socket, whoever the peer
is. ``admin.sock`` (mode 0600) answers everything, to a peer that :func:`roles.admin_allowed`
accepts (SO_PEERCRED); anyone else gets 403.

Where there are no Unix sockets (Windows), or with ``admin.control_transport: loopback``, the same
endpoints are served on one port of 127.0.0.1 and the role is that of the bearer token the request
carries (endpoint.py); no token, or a wrong one, gets 401.
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

from risk_manager.daemon.control.endpoint import Endpoint, Tokens, write_endpoint
from risk_manager.daemon.control.handlers import PEER_KEY, ControlHandlers, Refused
from risk_manager.daemon.control.roles import Peer, Role, admin_allowed, peer_of
from risk_manager.daemon.control.sockets import (
    CONTROL_DIR,
    SOCKET_MODES,
    address,
    endpoint_path,
    socket_path,
)

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


LOOPBACK = "127.0.0.1"
LOOPBACK_LABEL = "{role} token (loopback)"  # who did it, in audit rows, when no uid is known


def use_loopback(setting: str) -> bool:
    """``admin.control_transport``: auto is Unix sockets where the OS has them, else loopback."""
    if setting == "auto":
        return not hasattr(socket, "AF_UNIX") or sys.platform == "win32"
    return setting == "loopback"


class ControlServer:
    def __init__(self, daemon: Daemon, data_dir: Path) -> None:
        self.daemon = daemon
        self.data_dir = data_dir
        self.handlers = ControlHandlers(daemon)
        self._runners: list[web.AppRunner] = []
        self._paths: list[Path] = []
        self.url: str | None = None  # the loopback transport's address, when it is the one used

    async def start(self) -> None:
        admin = self.daemon.config.risk.admin
        trader_gid = _gid(admin.trader_group) if admin.trader_group and sys.platform != "win32" else None
        directory = self.data_dir / CONTROL_DIR
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)  # the sockets' (or endpoint files') own modes say who may connect
        if use_loopback(admin.control_transport):
            await self._start_loopback(trader_gid)
            return
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

    async def _start_loopback(self, trader_gid: int | None) -> None:
        tokens = Tokens()
        try:
            runner = web.AppRunner(self._app(tokens), access_log=None, handle_signals=False,
                                   shutdown_timeout=SHUTDOWN_GRACE)
            await runner.setup()
            self._runners.append(runner)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))  # a free port, on loopback only
            await web.SockSite(runner, sock).start()
            self.url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
            for role in (Role.TRADER, Role.ADMIN):
                path = endpoint_path(self.data_dir, role)
                self._paths.append(path)
                write_endpoint(path, role, Endpoint(self.url, tokens.token(role)), trader_gid)
        except BaseException:
            await self.stop()
            raise
        log.info("control API on %s (tokens in %s and %s)", self.url, *(p.name for p in self._paths))

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        paths, self._paths = self._paths, []
        for path in paths:
            path.unlink(missing_ok=True)

    # ---- the application of one socket ---------------------------------------------------------------

    def _app(self, role: Role | Tokens) -> web.Application:
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

    def _guard(self, fixed: Role | Tokens) -> Any:
        """The middleware of one socket (``fixed`` is its role) or of the loopback port (``fixed`` is
        the run's tokens: the role is the token's)."""
        group = self.daemon.config.risk.admin.group

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            transport = request.transport
            try:
                if isinstance(fixed, Tokens):
                    role = fixed.role_of(request.headers.get("Authorization"))
                    if role is None:
                        return _unauthorized(request.path)
                    peer = Peer(None, None, None, LOOPBACK_LABEL.format(role=role))
                else:
                    role = fixed
                    peer = peer_of(transport.get_extra_info("socket") if transport is not None else None)
                request[PEER_KEY] = peer
                if role is Role.TRADER and request.path in ADMIN_PATHS:
                    raise Refused(403, f"{request.path} needs the admin role and this is the trader "
                                       f"{'token' if isinstance(fixed, Tokens) else 'socket'}, which only "
                                       "reads (and clocks in/out); nothing was changed. Ask an admin to run "
                                       "`risk-manager admin ...`")
                if role is Role.ADMIN and not isinstance(fixed, Tokens) and not admin_allowed(peer, group):
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


def _unauthorized(path: str) -> web.Response:
    """401 for a request without a valid token: the sentence says where a token is, never what it is."""
    response = error(401, f"{path} needs a control token: send `Authorization: Bearer <token>` with the "
                          f"token from <data-dir>/{CONTROL_DIR}/trader.endpoint (or admin.endpoint, for "
                          "admins); the token given, if any, is not this daemon's")
    response.headers["WWW-Authenticate"] = 'Bearer realm="risk-manager"'
    return response


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
