"""Connection settings of the ProjectX client, from ``api_config.yaml`` (CONFIG.md) or given directly.

The broker package does not import the config package (ARCHITECTURE.md, Layers: adapters do not
import each other); ``from_api_config`` reads any object shaped like ``config.models.ApiConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .auth import Secret
from .hubs import HubSettings


class _SecretLike(Protocol):
    def get_secret_value(self) -> str: ...


class MissingCredentials(ValueError):
    """api_config.yaml lacks the username or API key needed to connect."""


@dataclass(frozen=True, slots=True)
class ProjectXSettings:
    api_url: str
    user_hub_url: str
    market_hub_url: str
    username: str
    api_key: Secret
    request_timeout: float = 10.0
    reconnect_max_delay: float = 60.0
    stale_quote_seconds: float = 10.0
    hub: HubSettings = field(default_factory=HubSettings)

    @classmethod
    def from_api_config(cls, api: Any, **overrides: Any) -> ProjectXSettings:
        """Settings from a validated ``ApiConfig``; ``overrides`` replace fields (tests: ``hub=``)."""
        px, conn = api.projectx, api.connection
        missing = [name for name in ("username", "api_key") if not getattr(px, name)]
        if missing:
            keys = " and ".join(f"projectx.{name}" for name in missing)
            raise MissingCredentials(
                f"api_config.yaml: {keys} {'is' if len(missing) == 1 else 'are'} required to connect to "
                "the gateway; set them, e.g. api_key: ${PROJECTX_API_KEY} (see docs/configuration.md)"
            )
        key: _SecretLike = px.api_key
        hub = overrides.pop("hub", HubSettings(backoff_max=float(conn.reconnect_max_delay)))
        return cls(
            api_url=px.api_url,
            user_hub_url=px.user_hub_url,
            market_hub_url=px.market_hub_url,
            username=px.username,
            api_key=Secret(key.get_secret_value()),
            request_timeout=float(conn.request_timeout),
            reconnect_max_delay=float(conn.reconnect_max_delay),
            stale_quote_seconds=float(conn.stale_quote_seconds),
            hub=hub,
            **overrides,
        )
