"""The loopback transport of the control API (Windows' default; ``admin.control_transport: loopback``
elsewhere): one HTTP port on 127.0.0.1 and a bearer token per role.

The daemon writes ``<data-dir>/control/trader.endpoint`` and ``admin.endpoint``, each
``{"url": "http://127.0.0.1:PORT", "token": "..."}``. Reading the file is the permission: the trader
file is readable by the trader group (0640), the admin file by the daemon's user only (0600 on POSIX;
on Windows a protected ACL of SYSTEM, Administrators and the daemon's user). A request's role is the
role of the token it carries; tokens are compared in constant time and are never logged or echoed.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from risk_manager.daemon.control.roles import Role

__all__ = ["Endpoint", "EndpointError", "Tokens", "read_endpoint", "write_endpoint"]

log = logging.getLogger(__name__)

ENDPOINT_MODES = {Role.TRADER: 0o640, Role.ADMIN: 0o600}
TOKEN_BYTES = 32


class EndpointError(Exception):
    """An endpoint file cannot be read or makes no sense (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    token: str = field(repr=False)  # never in a repr, a log line or a traceback's locals summary


class Tokens:
    """A fresh random token per role for one run of the daemon."""

    def __init__(self) -> None:
        self._tokens = {role: secrets.token_urlsafe(TOKEN_BYTES) for role in Role}

    def __repr__(self) -> str:
        return "Tokens(<hidden>)"

    def token(self, role: Role) -> str:
        return self._tokens[role]

    def role_of(self, authorization: str | None) -> Role | None:
        """The role whose token ``Authorization: Bearer <token>`` carries, else None."""
        if not authorization:
            return None
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return None
        presented = given.strip().encode()
        found: Role | None = None
        for role, token in self._tokens.items():  # every token is compared: no early exit to time
            if hmac.compare_digest(presented, token.encode()):
                found = role
        return found


def write_endpoint(path: Path, role: Role, endpoint: Endpoint, trader_gid: int | None = None) -> None:
    """Write ``path`` so that it never exists, even for a moment, with a looser mode than its role's."""
    mode = ENDPOINT_MODES[role]
    body = json.dumps({"url": endpoint.url, "token": endpoint.token, "role": str(role)}).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, body)
    finally:
        os.close(fd)
    if sys.platform == "win32":
        _restrict_windows(tmp, role)
    else:
        os.chmod(tmp, mode)  # the umask may have narrowed it further (never widened)
        if role is Role.TRADER and trader_gid is not None:
            os.chown(tmp, -1, trader_gid)
    os.replace(tmp, path)


def read_endpoint(path: Path) -> Endpoint:
    """The url and token in ``path``. PermissionError passes through (the caller says whose file it is)."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise EndpointError(f"{path} is not the daemon's endpoint file (not JSON); restart the daemon "
                            "to write it again") from None
    url = data.get("url") if isinstance(data, dict) else None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url.startswith("http://127.0.0.1:") or not isinstance(token, str):
        raise EndpointError(f"{path} does not name a loopback url and a token; restart the daemon to "
                            "write it again")
    return Endpoint(url, token)


def _restrict_windows(path: Path, role: Role) -> None:  # pragma: no cover - Windows only
    """A protected DACL: SYSTEM, Administrators and the daemon's user; the trader group may read the
    trader file (the data directory's inherited entries, set by `service install`, are dropped)."""
    try:
        import ntsecuritycon as con  # type: ignore[import-not-found,unused-ignore]
        import win32api  # type: ignore[import-not-found,unused-ignore]
        import win32security as security  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        log.warning("pywin32 is not installed: %s keeps the data directory's ACL", path.name)
        return
    dacl = security.ACL()
    me = security.LookupAccountName(None, win32api.GetUserName())[0]
    for sid in (security.CreateWellKnownSid(security.WinLocalSystemSid, None),
                security.CreateWellKnownSid(security.WinBuiltinAdministratorsSid, None), me):
        dacl.AddAccessAllowedAce(security.ACL_REVISION, con.FILE_ALL_ACCESS, sid)
    if role is Role.TRADER:
        dacl.AddAccessAllowedAce(security.ACL_REVISION, con.FILE_GENERIC_READ,
                                 security.CreateWellKnownSid(security.WinBuiltinUsersSid, None))
    info = security.DACL_SECURITY_INFORMATION | security.PROTECTED_DACL_SECURITY_INFORMATION
    security.SetNamedSecurityInfo(str(path), security.SE_FILE_OBJECT, info, None, None, dacl, None)
