"""Discord: a channel webhook (``POST <webhook URL>`` with JSON ``content``).

The webhook URL is the credential (its path holds the token), so it is registered with the log
masker and never part of a name or an error.
"""

from __future__ import annotations

import httpx

from risk_manager.notify.batch import Message
from risk_manager.notify.channels.base import ChannelLimits, check_response, json_body, json_number, post_json
from risk_manager.notify.redact import protect

# Discord allows about 5 requests per 2 s per webhook and 2000 characters of content.
DISCORD_LIMITS = ChannelLimits(
    batch_window=1.0, max_requests=5, per_seconds=2.0, max_chars=2000, max_messages_per_batch=3
)


class DiscordWebhook:
    name = "discord"

    def __init__(
        self, webhook_url: str, *, limits: ChannelLimits = DISCORD_LIMITS, timeout: float = 10.0
    ) -> None:
        protect(webhook_url)
        self._url = webhook_url
        self.limits = limits
        self._http = httpx.AsyncClient(timeout=timeout)

    async def send(self, message: Message) -> None:
        # No mentions: a reason text must never ping @everyone in the trader's server.
        body: dict[str, object] = {"content": message.text, "allowed_mentions": {"parse": []}}
        response = await post_json(self._http, self._url, body)
        retry_after = None
        if response.status_code == 429:
            retry_after = json_number(json_body(response), "retry_after")
        check_response(response, retry_after)

    async def aclose(self) -> None:
        await self._http.aclose()
