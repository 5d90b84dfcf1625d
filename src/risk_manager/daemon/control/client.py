"""The control API's client: sync httpx over the daemon's Unix socket (``ControlClient(data_dir)``),
or -- when there is no socket but an endpoint file (the loopback transport, Windows' default) -- over
127.0.0.1 with the role's bearer token from that file.

``DaemonNotRunning`` when there is no daemon to ask (no socket, or nobody listening on it);
``ControlRefused(status, message)`` when the daemon answers with an error -- the message is the
daemon's plain sentence saying what and how to fix.
"""

from __future__ import annotations

import contextlib
import errno
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from risk_manager.daemon.control.endpoint import EndpointError, read_endpoint
from risk_manager.daemon.control.roles import Role
from risk_manager.daemon.control.sockets import address, endpoint_path, socket_path

__all__ = ["ControlClient", "ControlError", "ControlRefused", "DaemonNotRunning"]

DEFAULT_TIMEOUT = 10.0


class ControlError(Exception):
    """Base of the client's errors."""


class DaemonNotRunning(ControlError):
    """No daemon answers on the control socket of this data directory."""


class ControlRefused(ControlError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ControlClient:
    def __init__(
        self, data_dir: Path, role: str | Role = Role.TRADER, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.role = Role(role)
        self.data_dir = data_dir
        self.path = socket_path(data_dir, self.role)
        self.timeout = timeout
        self._stack = contextlib.ExitStack()
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            if self.path.exists():
                where = self._stack.enter_context(address(self.path))
                self._http = self._stack.enter_context(httpx.Client(
                    transport=httpx.HTTPTransport(uds=where), base_url="http://risk-manager",
                    timeout=self.timeout))
            else:
                self._http = self._stack.enter_context(self._loopback())
        return self._http

    def _loopback(self) -> httpx.Client:
        """The client of the loopback transport, from the role's endpoint file (no socket here)."""
        path = endpoint_path(self.data_dir, self.role)
        if not path.exists():
            raise DaemonNotRunning(f"the daemon is not running: there is no control socket {self.path}")
        self.path = path  # what the errors below name
        try:
            endpoint = read_endpoint(path)
        except PermissionError:
            raise ControlRefused(403, f"you may not read {path} (permission denied): the {self.role} "
                                      "endpoint is for its role only") from None
        except EndpointError as exc:
            raise ControlError(str(exc)) from None
        # trust_env=False: no proxy from the environment ever sees the token or a loopback request
        return httpx.Client(base_url=endpoint.url, timeout=self.timeout, trust_env=False,
                            headers={"Authorization": f"Bearer {endpoint.token}"})

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._call("GET", path, params=clean or None)

    def post(self, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call("POST", path, json=json if json is not None else {})

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client().request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, PermissionError) or _errno(exc) == errno.EACCES:
                raise ControlRefused(403, f"you may not open {self.path} (permission denied): "
                                          f"the {self.role} socket is for its role only") from None
            raise DaemonNotRunning(f"the daemon is not running: nobody answers on {self.path}") from None
        except httpx.TimeoutException:
            raise ControlError(f"the daemon did not answer {path} within {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise DaemonNotRunning(f"the daemon is not reachable on {self.path}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            message = body.get("error") if isinstance(body, dict) else None
            raise ControlRefused(response.status_code, str(message or response.reason_phrase))
        if not isinstance(body, dict):
            raise ControlError(f"the daemon's answer to {path} is not a JSON object")
        return body

    def close(self) -> None:
        self._http = None
        self._stack.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _errno(exc: BaseException) -> int | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen.errno
        seen = seen.__cause__ or seen.__context__
    return None
