"""Who is admin: root, the daemon's user, or a member of admin.group -- and a peer nobody vouches for
is refused on the admin socket even when it can reach it."""

from __future__ import annotations

import asyncio
import grp
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from daemon_helpers import live_gateway, running, write_config
from sim_helpers import run

from risk_manager.daemon.control.roles import Peer, Role, admin_allowed
from risk_manager.daemon.control.sockets import socket_path

NOBODY = 65534
# Run as another user with the system python and no import of ours: one raw HTTP request.
ASK = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(type(exc).__name__); raise SystemExit(0)
s.sendall(b"POST /v1/shutdown HTTP/1.1\\r\\nHost: rm\\r\\nContent-Length: 0\\r\\n"
          b"Connection: close\\r\\n\\r\\n")
print(s.makefile("rb").read().decode())
"""


def test_root_and_the_daemons_own_user_are_admin() -> None:
    assert admin_allowed(Peer(1, 0, 0), None)
    assert admin_allowed(Peer(1, 1234, 1234), None, daemon_uid=1234)


def test_anyone_else_is_admin_only_through_the_admin_group() -> None:
    nogroup = grp.getgrgid(NOBODY).gr_name if _has_gid(NOBODY) else None
    assert not admin_allowed(Peer(1, NOBODY, NOBODY), None, daemon_uid=1234)
    assert not admin_allowed(Peer(1, NOBODY, NOBODY), "no-such-group-here", daemon_uid=1234)
    if nogroup is not None:
        assert admin_allowed(Peer(1, NOBODY, NOBODY), nogroup, daemon_uid=1234)


def test_a_peer_without_credentials_is_never_admin() -> None:
    assert not admin_allowed(Peer(None, None, None), "root")


def _has_gid(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
    except KeyError:
        return False
    return True


SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif(os.geteuid() != 0 or not SYSTEM_PYTHON.exists(),
                    reason="needs root (and /usr/bin/python3) to run a client as another user")
def test_another_user_can_open_neither_socket_nor_pass_the_admin_check_if_it_could(tmp_path: Path) -> None:
    data = Path(tempfile.mkdtemp(prefix="rm-roles-", dir="/tmp"))
    data.chmod(0o755)  # reachable by the other user, as a real data directory's parent would be

    def ask(role: Role) -> str:
        command = [str(SYSTEM_PYTHON), "-c", ASK, str(socket_path(data, role))]
        result = subprocess.run(command, capture_output=True, text=True, timeout=20, user=NOBODY,
                                group=NOBODY, cwd="/", check=False)
        return result.stdout + result.stderr

    async def body() -> None:
        async with live_gateway() as gw:
            config = write_config(tmp_path / "c", {"daily_realized_loss": {"enabled": True, "limit": -500}})
            async with running(gw, config, data) as daemon:
                assert "PermissionError" in await asyncio.to_thread(ask, Role.ADMIN)
                assert "PermissionError" in await asyncio.to_thread(ask, Role.TRADER)
                socket_path(data, Role.ADMIN).chmod(0o666)  # a mistake on the file mode...
                answer = await asyncio.to_thread(ask, Role.ADMIN)
                assert "403" in answer.splitlines()[0]  # ...and SO_PEERCRED still says no
                body = json.loads(answer.split("\n\n", 1)[1])  # text mode made \r\n plain
                assert "is not an admin" in body["error"]
                assert not daemon.stopping.is_set()

    try:
        run(body, timeout=30)
    finally:
        shutil.rmtree(data, ignore_errors=True)
