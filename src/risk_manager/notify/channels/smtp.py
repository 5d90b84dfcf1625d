"""Email over SMTP (aiosmtplib): one mail per batch, batched more coarsely than chat messages.

STARTTLS is used when the server offers it. Port 465 means implicit TLS.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from risk_manager.notify.batch import Message
from risk_manager.notify.channels.base import ChannelLimits, DeliveryError

# Mail is read later than a chat message: gather 20 s, at most one mail per 10 s, one per batch.
EMAIL_LIMITS = ChannelLimits(
    batch_window=20.0, max_requests=1, per_seconds=10.0, max_chars=100_000, max_messages_per_batch=1
)


class SmtpEmail:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        *,
        limits: ChannelLimits = EMAIL_LIMITS,
        timeout: float = 10.0,
    ) -> None:
        self.name = f"email via {host}:{port}"
        self.limits = limits
        self._host, self._port = host, port
        self._sender, self._recipients = sender, list(recipients)
        self._timeout = timeout

    async def send(self, message: Message) -> None:
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = ", ".join(self._recipients)
        mail["Subject"] = message.subject
        mail.set_content(message.text)
        try:
            await aiosmtplib.send(
                mail, hostname=self._host, port=self._port, timeout=self._timeout, use_tls=self._port == 465
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"every recipient was refused ({len(exc.recipients)})", permanent=True
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            # 4xx is "try again later"; 5xx is a refusal that a retry will not change.
            raise DeliveryError(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        return None
