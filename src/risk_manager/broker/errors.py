"""What can go wrong talking to the gateway, as exceptions a caller can tell apart.

Every error names the endpoint and carries what the gateway said (``errorCode`` and
``errorMessage`` of a ``success:false`` answer, or the HTTP status), never the API key or the token:
they end up in logs and alerts.

``maybe_executed`` says whether the gateway may have acted on a mutating request even though we got
no success: a timeout or a 5xx after the request left us. The enforcer then reconciles (searches)
before acting again instead of repeating the call blindly (PROJECTX.md §2).
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error of the ProjectX client."""

    maybe_executed = False

    def __init__(self, endpoint: str, message: str) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint


class GatewayRejected(GatewayError):
    """HTTP 200 with ``success: false``: the gateway refused (order refused, account locked, ...)."""

    def __init__(self, endpoint: str, error_code: int, error_message: str | None) -> None:
        text = error_message or "no message"
        super().__init__(endpoint, f"refused by the gateway: errorCode {error_code}: {text}")
        self.error_code = error_code
        self.error_message = error_message


class GatewayHttpError(GatewayError):
    """An HTTP status other than 200."""

    def __init__(self, endpoint: str, status: int, detail: str = "") -> None:
        super().__init__(endpoint, f"HTTP {status}" + (f": {detail}" if detail else ""))
        self.status = status


class Unauthorized(GatewayHttpError):
    """HTTP 401: the token is missing, expired or revoked (the client logs in again)."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint, 401, "the session token was refused; logging in again")


class RateLimited(GatewayHttpError):
    """HTTP 429: too many requests; ``retry_after`` seconds if the gateway said."""

    def __init__(self, endpoint: str, retry_after: float | None) -> None:
        hint = f"retry after {retry_after:g} s" if retry_after is not None else "back off"
        super().__init__(endpoint, 429, f"rate limit exceeded, {hint}")
        self.retry_after = retry_after


class ServerError(GatewayHttpError):
    """HTTP 5xx: the gateway failed; a mutating request may or may not have been carried out."""

    maybe_executed = True


class GatewayTimeout(GatewayError):
    """No answer within the request timeout; a mutating request may have been carried out."""

    maybe_executed = True

    def __init__(self, endpoint: str, timeout: float) -> None:
        super().__init__(endpoint, f"no answer within {timeout:g} s")
        self.timeout = timeout


class GatewayUnreachable(GatewayError):
    """The connection could not be made (refused, DNS, TLS): the request never reached the gateway."""


class ProtocolError(GatewayError):
    """The gateway answered something we cannot read (not JSON, a field of the wrong type)."""


class LoginFailed(GatewayError):
    """``Auth/loginKey`` refused the username/API key: a configuration problem, not a transient one."""

    def __init__(self, error_code: int, error_message: str | None) -> None:
        super().__init__(
            "Auth/loginKey",
            f"login refused: errorCode {error_code}: {error_message or 'no message'}; "
            "check projectx.username and projectx.api_key in api_config.yaml",
        )
        self.error_code = error_code
        self.error_message = error_message
