"""Who is asking: the role of a control request comes from the socket it arrived on, and on the
admin socket from the peer's OS identity (SO_PEERCRED) too. No password system of our own.

- ``trader.sock``: role trader, whoever connects (the file's mode and group decide who can);
- ``admin.sock``: role admin for uid 0, the daemon's own uid, or a member of ``admin.group``;
  anyone else who somehow reaches the socket is refused.

A request never gets more than its socket's role: tests run as root, so the trader socket refuses
mutations because of the socket, not the uid.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Peer", "Role", "admin_allowed", "peer_of"]

_UCRED = struct.Struct("3i")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;}


class Role(StrEnum):
    TRADER = "trader"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Peer:
    pid: int | None
    uid: int | None
    gid: int | None
    label: str | None = None  # who the peer is when no uid is known (the loopback transport)

    @property
    def name(self) -> str:
        """The peer's user name (for audit rows), else ``uid N``, else its label, else ``unknown``."""
        if self.uid is None:
            return self.label or "unknown"
        import pwd  # POSIX only, like the sockets themselves

        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return f"uid {self.uid}"


def peer_of(sock: socket.socket | None) -> Peer:
    """The credentials of the process at the other end of a Unix socket (Linux SO_PEERCRED)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if sock is None or option is None:
        return Peer(None, None, None)
    try:
        pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, option, _UCRED.size))
    except OSError:
        return Peer(None, None, None)
    return Peer(pid, uid, gid)


def admin_allowed(peer: Peer, group: str | None, daemon_uid: int | None = None) -> bool:
    """True when ``peer`` may act as admin: root, the daemon's user, or a member of ``group``."""
    if peer.uid is None:
        return False
    if peer.uid in (0, daemon_uid if daemon_uid is not None else os.getuid()):
        return True
    if group is None:
        return False
    import grp  # POSIX only, like the sockets themselves
    import pwd

    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return False
    if peer.gid == entry.gr_gid:
        return True
    try:
        return pwd.getpwuid(peer.uid).pw_name in entry.gr_mem
    except KeyError:
        return False
