"""Build the channels that ``general.notifications`` configures (each is optional)."""

from __future__ import annotations

from risk_manager.config.models import NotificationsConfig
from risk_manager.notify.channels.base import Channel
from risk_manager.notify.channels.discord import DiscordWebhook
from risk_manager.notify.channels.smtp import SmtpEmail
from risk_manager.notify.channels.telegram import TELEGRAM_API, TelegramBot


def channels_from_config(config: NotificationsConfig, *, telegram_api: str = TELEGRAM_API) -> list[Channel]:
    channels: list[Channel] = []
    if config.discord_webhook is not None:
        channels.append(DiscordWebhook(config.discord_webhook.get_secret_value()))
    if config.telegram is not None:
        channels.append(
            TelegramBot(
                config.telegram.bot_token.get_secret_value(), config.telegram.chat_id, api_base=telegram_api
            )
        )
    if config.email is not None:
        email = config.email
        channels.append(SmtpEmail(email.smtp_host, email.smtp_port, email.from_, email.to))
    return channels
