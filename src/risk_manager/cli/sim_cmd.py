"""`risk-manager sim-gateway`: run the simulated ProjectX gateway on loopback until Ctrl-C / SIGTERM."""

from __future__ import annotations

import asyncio
import secrets
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from risk_manager.sim.app import SimGateway

DEFAULT_PORT = 8580
EXIT_USAGE = 2
EXIT_RUNTIME = 1


def register(app: typer.Typer) -> None:
    app.command("sim-gateway", short_help="Run a local simulated ProjectX gateway (no account needed).")(
        sim_gateway
    )


def sim_gateway(
    host: str = typer.Option(
        "127.0.0.1", "--host", metavar="ADDRESS", help="Address to bind (loopback unless --allow-remote)."
    ),
    port: int = typer.Option(
        DEFAULT_PORT, "--port", min=0, max=65535, metavar="PORT", help="TCP port; 0 picks a free one."
    ),
    accounts: int = typer.Option(
        2, "--accounts", min=1, max=500, metavar="N", help="Practice accounts, ids from 7 up."
    ),
    seed: int | None = typer.Option(
        None, "--seed", metavar="N", help="Market random seed (default: random, printed)."
    ),
    always_open: bool = typer.Option(False, "--always-open", help="Trade around the clock (demos)."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow binding a non-loopback address."),
    credentials: Path | None = typer.Option(
        None, "--credentials", metavar="FILE",
        help="YAML/JSON mapping userName: apiKey; only these may log in.",
    ),
    token_lifetime: float = typer.Option(
        86400.0, "--token-lifetime", min=1.0, metavar="SECONDS", help="Token lifetime (s)."
    ),
    ping_interval: float = typer.Option(
        15.0, "--ping-interval", min=0.05, metavar="SECONDS", help="SignalR ping interval (s)."
    ),
    partial_quotes: bool | None = typer.Option(
        None,
        "--partial-quotes/--full-quotes",
        help="Send only changed quote fields (default: partial, like the live gateway; full with --bare).",
    ),
    still: bool = typer.Option(
        False, "--still", help="No random walk: prices move only through the control API (tests, demos)."
    ),
    no_rate_limits: bool = typer.Option(
        False, "--no-rate-limits", help="Do not enforce the gateway's request rate limits (load tests)."
    ),
    bare: bool = typer.Option(
        False,
        "--bare",
        help="Debugging mode: the simulator's simple behaviour instead of the live gateway's (bare hub "
        "payloads with nulls, one event per change, no commissions, no Pending/Suspended orders).",
    ),
) -> None:
    """Run a local ProjectX-compatible gateway (REST + SignalR hubs, simulated market, paper broker)."""
    # Imported here, not at the top: the simulator's web stack (aiohttp) takes a third of a second
    # to import, which every other command (`risk-manager replay`, `trader status`) would pay.
    from risk_manager.sim.app import SimGateway, load_credentials
    from risk_manager.sim.control import is_loopback

    if not is_loopback(host) and not allow_remote:
        typer.secho(
            f"Refusing to bind {host}: the simulated gateway accepts any login and has an unauthenticated "
            "control API. Use a loopback address, or pass --allow-remote if you really mean it.",
            fg="red",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    creds = None
    if credentials is not None:
        try:
            creds = load_credentials(credentials)
        except ValueError as exc:
            typer.secho(str(exc), fg="red", err=True)
            raise typer.Exit(EXIT_USAGE) from None
    seed_value = seed if seed is not None else secrets.randbelow(1_000_000)
    gateway = SimGateway(
        host=host,
        port=port,
        accounts=accounts,
        seed=seed_value,
        always_open=always_open,
        allow_remote=allow_remote,
        credentials=creds,
        token_lifetime=token_lifetime,
        ping_interval=ping_interval,
        partial_quotes=partial_quotes,
        bare=bare,
        market_driver=False if still else None,
        rate_limits=not no_rate_limits,
    )
    try:
        asyncio.run(_serve(gateway, seed_value, creds is not None))
    except OSError as exc:
        typer.secho(f"Cannot listen on {host}:{port}: {exc.strerror or exc}", fg="red", err=True)
        raise typer.Exit(EXIT_RUNTIME) from None


async def _serve(gateway: SimGateway, seed: int, restricted: bool) -> None:
    await gateway.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ids = gateway.account_ids
    accounts = f"{ids[0]}" if len(ids) == 1 else f"{ids[0]}..{ids[-1]}"
    lines = [
        f"ProjectX sim gateway on {gateway.root_url}  (seed {seed}, {len(ids)} account(s): {accounts})",
        f"  REST        {gateway.base_url}",
        f"  user hub    {gateway.user_hub_url}",
        f"  market hub  {gateway.market_hub_url}",
        f"  control     {gateway.control_url}/state",
        f"  logins      {'restricted to the credentials file' if restricted else 'any userName/apiKey'}",
        f"  market      {gateway.hours.describe()}"
        + ("" if gateway.market_driver else "; still: prices move only through the control API"),
        f"  rate limits {'on (the gateway documented limits)' if gateway.limiter.enabled else 'off'}",
        f"  behaviour   {'bare (--bare: simplified, for debugging)' if gateway.bare else 'live-like'}",
        f"  contracts   {', '.join(sorted(gateway.market.contracts))}",
        "Ctrl-C to stop.",
    ]
    typer.echo("\n".join(lines))
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        typer.echo("Stopping sim gateway...")
        await gateway.stop()
        typer.echo("Stopped.")
