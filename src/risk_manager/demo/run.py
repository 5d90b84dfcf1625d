"""Runs a live demo session for the CLI: the live Rich view on a terminal, plain lines otherwise,
JSON lines with ``--json``; Ctrl-C (SIGINT) or SIGTERM ends the session early, cleanly, exit 0.
The live dashboard's URL is printed as soon as the daemon serves it (a ``dashboard`` JSON line with
``--json``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator

import orjson
from rich.console import Console
from rich.live import Live

from risk_manager.demo.session import Entry, Journal, Session
from risk_manager.demo.view import WIDTH, dashboard_line, entry_lines, live_view, summary, summary_json

__all__ = ["run_live"]


def run_live(*, duration: float, speed: float, as_json: bool, dashboard_port: int | None = None) -> int:
    """``dashboard_port``: None runs no dashboard, 0 takes any free port."""
    try:
        return asyncio.run(_main(duration, speed, as_json, dashboard_port))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping: already cleaned up by asyncio.run
        return 0
    except Exception as exc:  # the gateway or the daemon could not start: say so, no traceback
        print(f"error: the demo could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


async def _main(duration: float, speed: float, as_json: bool, dashboard_port: int | None) -> int:
    stop = asyncio.Event()
    journal = Journal()
    session = Session(duration=duration, speed=speed, journal=journal, stop=stop,
                      dashboard_port=dashboard_port)
    with _stop_on_signals(stop):
        if as_json:
            journal.emit = _json_line
            await session.run(on_started=lambda: _dashboard_json(session))
            _print_json(summary_json(session))
            return 0
        console = Console(width=min(WIDTH, Console().width), soft_wrap=False)
        if console.is_terminal:
            with Live(live_view(session), console=console, refresh_per_second=4,
                      transient=True) as live:
                await session.run(lambda: live.update(live_view(session)))  # its URL is in the view
        else:  # a pipe or a file: one line per decision as it happens, no redrawing
            journal.emit = lambda what, entry: _plain_line(console, session, what, entry)
            console.print("risk-manager demo: the daemon guards two simulated accounts while a "
                          "scripted trader breaks its rules (loopback only).")
            await session.run(on_started=lambda: console.print(dashboard_line(session)))
        console.print(summary(session))
    return 0


def _dashboard_json(session: Session) -> None:
    if session.dashboard_port is not None:
        _print_json({"type": "dashboard", "url": session.dashboard_url})


def _json_line(what: str, entry: Entry) -> None:
    _print_json({"type": what, **entry.to_json()})


def _print_json(obj: object) -> None:
    sys.stdout.write(orjson.dumps(obj).decode() + "\n")
    sys.stdout.flush()


def _plain_line(console: Console, session: Session, what: str, entry: Entry) -> None:
    if what == "decision" and entry.outcome is None:
        return  # the line comes with its outcome
    console.print(entry_lines(entry, session.zone))


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
