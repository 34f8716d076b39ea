"""Who may read and who may write: one rule for the API and the web pages.

- Writes need the token of ``settings.http.token`` (config ``[http] token`` or
  ``$AGGREGATOR_TOKEN``). With no token configured, every write is refused (403):
  an open write surface is never the default.
- Reads are open unless ``public_reads`` is false; then they need the token too.

The API takes the token as ``Authorization: Bearer <token>`` only. The web pages
take it once in a login form and then carry a session cookie (``aggregator.web``);
the API ignores that cookie: a cookie rides along on requests another site makes,
and the API's writes have no CSRF guard.

A wrong token counts against its client's budget of failures (``throttle``), shared
with the login form; a client over it is answered 429 with ``Retry-After`` before
its token is compared. Each wrong token is logged in one line with the client's
address, never the token. Comparisons are constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aggregator.api.throttle import FailureThrottle, Outcome
from aggregator.settings import HttpSettings

__all__ = [
    "Refusal",
    "bearer_scheme",
    "client_address",
    "read_refusal",
    "require_read",
    "require_write",
    "token_matches",
    "write_refusal",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request may not go on: an HTTP status (401 or 403) and a message."""

    status: int
    message: str

    @property
    def headers(self) -> dict[str, str]:
        # RFC 9110: a 401 says how to authenticate.
        return {"WWW-Authenticate": 'Bearer realm="aggregator"'} if self.status == 401 else {}


def token_matches(settings: HttpSettings, given: str | None) -> bool:
    """Whether ``given`` is the configured token (False when none is configured)."""
    if not settings.token or given is None:
        return False
    return hmac.compare_digest(given.encode(), settings.token.encode())


def client_address(request: Request) -> str:
    """The address a request came from, as the server saw it (a proxy's own
    address unless ``http.trusted_proxies`` names it)."""
    return request.client.host if request.client else "unknown"


def write_refusal(
    settings: HttpSettings, *, bearer: str | None = None, logged_in: bool = False
) -> Refusal | None:
    """None when a write may go on; else why not.

    ``bearer`` is the token from an Authorization header; ``logged_in`` says a web
    session was presented (only from form handlers that guard against CSRF).
    """
    if not settings.token:
        return Refusal(
            403,
            "writes are disabled: no token is configured (set [http] token in the "
            "config file or AGGREGATOR_TOKEN)",
        )
    if logged_in or token_matches(settings, bearer):
        return None
    if bearer is None:
        return Refusal(401, "this needs the token: send Authorization: Bearer <token>")
    return Refusal(401, "the token is not right")


def read_refusal(
    settings: HttpSettings, *, bearer: str | None = None, logged_in: bool = False
) -> Refusal | None:
    """None when a read may go on (always, with ``public_reads``); else why not."""
    if settings.public_reads:
        return None
    if not settings.token:
        return Refusal(
            403, "reads need the token (public_reads is false), but no token is configured"
        )
    return write_refusal(settings, bearer=bearer, logged_in=logged_in)


# auto_error off: a missing header is our 401 with our message, not FastAPI's 403.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="The token of [http] token in the config file (or AGGREGATOR_TOKEN).",
)


def _guard(
    settings: HttpSettings,
    judge: Callable[..., Refusal | None],
    throttle: FailureThrottle,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], None]:
    def guard(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),  # noqa: B008
    ) -> None:
        refusal = judge(settings)  # what this request gets without the token
        if refusal is None:
            return  # a public read: a token sent along is not even looked at
        if credentials is None or refusal.status == 403:
            raise HTTPException(refusal.status, refusal.message, headers=refusal.headers)
        bearer = credentials.credentials
        client = client_address(request)
        attempt = throttle.attempt(client, lambda: token_matches(settings, bearer))
        if attempt.outcome is Outcome.PASSED:
            return
        if attempt.outcome is Outcome.REFUSED:
            raise HTTPException(
                429,
                f"too many wrong tokens from {attempt.client}: try again in "
                f"{attempt.retry_after} s",
                headers={"Retry-After": str(attempt.retry_after)},
            )
        log.warning(
            "wrong API token from %s (%s %r)%s",
            client,
            request.method,
            request.url.path,
            throttle.note(attempt),
        )
        wrong = Refusal(401, "the token is not right")
        raise HTTPException(wrong.status, wrong.message, headers=wrong.headers)

    return guard


def require_write(
    settings: HttpSettings, throttle: FailureThrottle
) -> Callable[[Request, HTTPAuthorizationCredentials | None], None]:
    """A FastAPI dependency that lets a write through only with the token."""
    return _guard(settings, write_refusal, throttle)


def require_read(
    settings: HttpSettings, throttle: FailureThrottle
) -> Callable[[Request, HTTPAuthorizationCredentials | None], None]:
    """A FastAPI dependency that lets a read through when reads are public, or with
    the token."""
    return _guard(settings, read_refusal, throttle)
