"""Notifications: Discord, Telegram and email messages about warnings, enforcements and lockouts.

Imports domain and config models only. The daemon owns one ``Notifications`` (``from_config``),
starts it, calls its ``on_*`` methods, and closes it at shutdown (docs/notifications.md).
"""

from risk_manager.notify.builder import NotificationBuilder
from risk_manager.notify.channels.base import Channel, ChannelLimits, DeliveryError
from risk_manager.notify.channels.discord import DISCORD_LIMITS, DiscordWebhook
from risk_manager.notify.channels.smtp import EMAIL_LIMITS, SmtpEmail
from risk_manager.notify.channels.telegram import TELEGRAM_LIMITS, TelegramBot
from risk_manager.notify.notification import Notification, NotificationKind, Priority
from risk_manager.notify.notifier import ChannelStats, Notifier
from risk_manager.notify.pacing import RetryPolicy
from risk_manager.notify.service import Notifications
from risk_manager.notify.setup import channels_from_config

__all__ = [
    "DISCORD_LIMITS",
    "EMAIL_LIMITS",
    "TELEGRAM_LIMITS",
    "Channel",
    "ChannelLimits",
    "ChannelStats",
    "DeliveryError",
    "DiscordWebhook",
    "Notification",
    "NotificationBuilder",
    "NotificationKind",
    "Notifications",
    "Notifier",
    "Priority",
    "RetryPolicy",
    "SmtpEmail",
    "TelegramBot",
    "channels_from_config",
]
