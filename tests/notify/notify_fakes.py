"""Local stand-ins for the services the notifier talks to, on 127.0.0.1 only.

``ChatApi`` is one aiohttp server shaped like a Discord webhook (``POST /api/webhooks/<id>/<token>``,
204 on success, 429 with ``Retry-After`` and a JSON ``retry_after``) and the Telegram Bot API
(``POST /bot<token>/sendMessage``, ``{"ok": true}``, 429 with ``parameters.retry_after``). It can be
told to fail, rate-limit or hang. ``MailServer`` is aiosmtpd with a handler that keeps every mail
and can answer "451 try later". Both stop when their ``async with`` / ``with`` block ends.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from risk_manager.notify import ChannelLimits, RetryPolicy

WEBHOOK_ID = "1234567890"
WEBHOOK_TOKEN = "wh-SECRET-token-aaaaBBBBccccDDDD"
BOT_TOKEN = "987654:TG-SECRET-token-eeeeFFFFgggg"
CHAT_ID = "424242"

# Short windows so the tests run in well under a second each.
FAST = ChannelLimits(
    batch_window=0.2, max_requests=5, per_seconds=2.0, max_chars=2000, max_messages_per_batch=3
)
FAST_TELEGRAM = ChannelLimits(
    batch_window=0.2, max_requests=1, per_seconds=0.2, max_chars=4096, max_messages_per_batch=3
)
FAST_EMAIL = ChannelLimits(
    batch_window=0.2, max_requests=1, per_seconds=0.2, max_chars=100_000, max_messages_per_batch=1
)
QUICK_RETRY = RetryPolicy(attempts=3, first_delay=0.05, max_delay=0.2, max_retry_after=5.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Fault:
    """What the fake answers instead of success: an HTTP status (with optional retry-after) or a hang."""

    status: int = 500
    retry_after: float | None = None
    hang: bool = False


@dataclass
class Request:
    at: float  # time.monotonic() when the request arrived
    api: str  # "discord" | "telegram"
    body: dict[str, Any]
    answered: int


class ChatApi:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.hanging = 0  # requests being held open right now
        self._next: deque[Fault] = deque()
        self.always: Fault | None = None
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- set-up -------------------------------------------------------------------------------

    async def __aenter__(self) -> ChatApi:
        app = web.Application()
        app.router.add_post("/api/webhooks/{id}/{token}", self._discord)
        app.router.add_post("/bot{token}/sendMessage", self._telegram)
        # No access log: it would print the request paths, which hold the fake credentials the
        # secrets test looks for in the captured logs.
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopping.set()  # releases hanging handlers
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def discord_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"

    @property
    def telegram_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, *faults: Fault) -> None:
        self._next.extend(faults)

    # ---- what arrived -------------------------------------------------------------------------

    def delivered(self, api: str) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.api == api and r.answered < 300]

    def attempts(self, api: str) -> list[Request]:
        return [r for r in self.requests if r.api == api]

    # ---- handlers -----------------------------------------------------------------------------

    async def _fault(self) -> Fault | None:
        fault = self._next.popleft() if self._next else self.always
        if fault is not None and fault.hang:
            self.hanging += 1
            try:
                await self._stopping.wait()
            finally:
                self.hanging -= 1
        return fault

    async def _discord(self, request: web.Request) -> web.Response:
        body = await request.json()
        if request.match_info["token"] != WEBHOOK_TOKEN or request.match_info["id"] != WEBHOOK_ID:
            return self._answer(
                "discord", body, web.json_response({"message": "Invalid Webhook Token"}, status=401)
            )
        fault = await self._fault()
        if fault is None:
            return self._answer("discord", body, web.Response(status=204))
        if fault.status == 429:
            wait = fault.retry_after or 0.0
            response = web.json_response(
                {"message": "You are being rate limited.", "retry_after": wait, "global": False},
                status=429,
                headers={"Retry-After": str(wait)},
            )
            return self._answer("discord", body, response)
        return self._answer("discord", body, web.json_response({"message": "error"}, status=fault.status))

    async def _telegram(self, request: web.Request) -> web.Response:
        body = await request.json()
        if request.match_info["token"] != BOT_TOKEN:
            refusal = {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return self._answer("telegram", body, web.json_response(refusal, status=401))
        fault = await self._fault()
        if fault is None:
            ok = {"ok": True, "result": {"message_id": len(self.requests), "text": body.get("text")}}
            return self._answer("telegram", body, web.json_response(ok))
        refusal: dict[str, Any] = {"ok": False, "error_code": fault.status, "description": "error"}
        if fault.status == 429:
            refusal["parameters"] = {"retry_after": fault.retry_after}
        return self._answer("telegram", body, web.json_response(refusal, status=fault.status))

    def _answer(self, api: str, body: Any, response: web.Response) -> web.Response:
        self.requests.append(Request(time.monotonic(), api, body, response.status))
        return response


class MailSink:
    """aiosmtpd handler: keeps every mail; answers 451 to the next ``refuse_next`` mails."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.refuse_next = 0
        self.attempts = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.refuse_next:
            self.refuse_next -= 1
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(message)
        return "250 OK"


class MailServer:
    def __init__(self) -> None:
        self.sink = MailSink()
        self.port = free_port()
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


def run(factory: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Run one async test body with a hard timeout (no pytest-asyncio in this project)."""

    async def main() -> Any:
        return await asyncio.wait_for(factory(), timeout)

    return asyncio.run(main())
