"""Where the control sockets live: ``<data-dir>/control/{trader,admin}.sock``, and how to name a
socket whose path is longer than a Unix socket address allows (108 bytes on Linux)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from risk_manager.daemon.control.roles import Role

CONTROL_DIR = "control"
SOCKET_NAMES = {Role.TRADER: "trader.sock", Role.ADMIN: "admin.sock"}
SOCKET_MODES = {Role.TRADER: 0o660, Role.ADMIN: 0o600}
_MAX_ADDRESS = 107  # sun_path is 108 bytes with the terminating NUL


def socket_path(data_dir: Path, role: Role) -> Path:
    return data_dir / CONTROL_DIR / SOCKET_NAMES[role]


@contextlib.contextmanager
def address(path: Path) -> Iterator[str]:
    """A name for ``path`` that fits a socket address: the path itself, or -- when it is too long --
    the same file reached through an open descriptor of its directory (Linux /proc/self/fd)."""
    if len(os.fsencode(path)) <= _MAX_ADDRESS or not Path("/proc/self/fd").is_dir():
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


ENDPOINT_NAMES = {Role.TRADER: "trader.endpoint", Role.ADMIN: "admin.endpoint"}


def endpoint_path(data_dir: Path, role: Role) -> Path:
    """The loopback transport's file for ``role``: ``{"url": ..., "token": ...}`` (see endpoint.py)."""
    return data_dir / CONTROL_DIR / ENDPOINT_NAMES[role]


def control_present(data_dir: Path, role: Role) -> bool:
    """True when the daemon of ``data_dir`` serves ``role`` on a socket or a loopback endpoint."""
    return socket_path(data_dir, role).exists() or endpoint_path(data_dir, role).exists()
