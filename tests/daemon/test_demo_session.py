"""The live demo's session in-process: it talks to nothing but 127.0.0.1, and leaves no task or
thread behind when it ends."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any

from sim_helpers import run

from risk_manager.demo.session import Journal, Session, demo_config
from risk_manager.sim.app import SimGateway

_connects: list[Any] = []
_recording = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording and event == "socket.connect":
        _connects.append(args[1])


sys.addaudithook(_audit)  # cannot be removed: it records only while a test sets _recording


def test_the_demo_config_points_the_daemon_at_the_loopback_gateway_only() -> None:
    async def body() -> None:
        async with SimGateway(always_open=True, market_driver=False) as gw:
            api = demo_config(gw, speed=4).api.projectx
            for url in (api.api_url, api.user_hub_url, api.market_hub_url):
                assert str(url).startswith("http://127.0.0.1:"), url

    run(body, timeout=10)


def test_a_demo_session_connects_only_to_127_0_0_1_and_leaves_no_task_or_thread_behind() -> None:
    global _recording
    threads_before = set(threading.enumerate())

    async def body() -> None:
        journal = Journal()
        session = Session(duration=14, speed=6, journal=journal)
        await session.run()
        assert session.script_error is None
        rules = {(e.rule, e.kind) for e in journal.enforcements() if e.outcome}
        assert {("RULE-002", "close_position"), ("RULE-003", "lockout"), ("LOCKOUT", "close_position"),
                ("RULE-008", "close_position")} <= rules
        others = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        assert {t.get_coro().__qualname__ for t in others} <= {"run.<locals>.main"}, others

    _connects.clear()
    _recording = True
    try:
        run(body, timeout=60)
    finally:
        _recording = False
    hosts = {address[0] for address in _connects if isinstance(address, tuple)}
    assert hosts == {"127.0.0.1"}, hosts
    leftover = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert leftover == [], leftover
