"""Telegram: the Bot API's ``sendMessage`` (``POST {base}/bot<token>/sendMessage``).

The bot token sits in the request path, so it is registered with the log masker; ``api_base`` is
overridable so tests (and self-hosted Bot API servers) can point elsewhere.
"""

from __future__ import annotations

import httpx

from risk_manager.notify.batch import Message
from risk_manager.notify.channels.base import (
    ChannelLimits,
    DeliveryError,
    check_response,
    json_body,
    json_number,
    post_json,
)
from risk_manager.notify.redact import protect

TELEGRAM_API = "https://api.telegram.org"
# Telegram allows about 1 message per second per chat and 4096 characters of text.
TELEGRAM_LIMITS = ChannelLimits(
    batch_window=1.0, max_requests=1, per_seconds=1.0, max_chars=4096, max_messages_per_batch=3
)


class TelegramBot:
    def __init__(
        self,
        bot_token: str,
        chat_id: str,
        *,
        api_base: str = TELEGRAM_API,
        limits: ChannelLimits = TELEGRAM_LIMITS,
        timeout: float = 10.0,
    ) -> None:
        protect(bot_token)
        self.name = f"telegram chat {chat_id}"
        self.limits = limits
        self._url = f"{api_base.rstrip('/')}/bot{bot_token}/sendMessage"
        self._chat_id = chat_id
        self._http = httpx.AsyncClient(timeout=timeout)

    async def send(self, message: Message) -> None:
        # Plain text (no parse_mode): a reason with * or _ in it must not break the message.
        body: dict[str, object] = {
            "chat_id": self._chat_id,
            "text": message.text,
            "disable_web_page_preview": True,
        }
        response = await post_json(self._http, self._url, body)
        data = json_body(response)
        check_response(response, json_number(data, "parameters", "retry_after"))
        if isinstance(data, dict) and data.get("ok") is False:
            raise DeliveryError(
                f"Telegram refused the message: {data.get('description', 'no reason given')}", permanent=True
            )

    async def aclose(self) -> None:
        await self._http.aclose()
