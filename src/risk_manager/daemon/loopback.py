"""Serving an aiohttp application on a loopback TCP port: the dashboard and the metrics endpoint."""

from __future__ import annotations

from aiohttp import web

__all__ = ["serve_tcp"]


async def serve_tcp(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 60.0
) -> tuple[web.AppRunner, int]:
    """Start ``app`` on ``host:port`` (port 0: a free one); returns the runner (``cleanup()`` stops it)
    and the port actually bound. Nothing is left running when binding fails: the error is raised."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = next((addr[1] for addr in runner.addresses if isinstance(addr, tuple)), port)
    return runner, bound
