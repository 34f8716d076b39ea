"""Who may read and who may write: one rule for the API and the web pages.

- Writes need the token of ``settings.http.token`` (config ``[http] token`` or
  ``$AGGREGATOR_TOKEN``). With no token configured, every write is refused (403):
  an open write surface is never the default.
- Reads are open unless ``public_reads`` is false; then they need the token too.

The API takes the token as ``Authorization: Bearer <token>`` only. The web pages
take it once in a login form and then carry a cookie (``COOKIE_NAME``) whose value
is ``session_value(token)``, an HMAC of the token rather than the token itself, so
a changed token ends every session. The API ignores that cookie: a cookie rides
along on requests another site makes, and the API's writes have no CSRF guard.

Comparisons are constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aggregator.settings import HttpSettings

__all__ = [
    "COOKIE_NAME",
    "Refusal",
    "bearer_scheme",
    "cookie_matches",
    "read_refusal",
    "require_read",
    "require_write",
    "session_value",
    "token_matches",
    "write_refusal",
]

COOKIE_NAME = "aggregator_session"

# What the session cookie's HMAC is keyed for: never equal to the token itself.
_SESSION_PURPOSE = b"aggregator web session v1"


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


def session_value(token: str) -> str:
    """The value of the web session cookie for ``token``."""
    return hmac.new(token.encode(), _SESSION_PURPOSE, hashlib.sha256).hexdigest()


def cookie_matches(settings: HttpSettings, cookie: str | None) -> bool:
    """Whether ``cookie`` is a session cookie for the configured token."""
    if not settings.token or cookie is None:
        return False
    return hmac.compare_digest(cookie.encode(), session_value(settings.token).encode())


def write_refusal(
    settings: HttpSettings, *, bearer: str | None = None, cookie: str | None = None
) -> Refusal | None:
    """None when a write may go on; else why not.

    ``bearer`` is the token from an Authorization header, ``cookie`` the web
    session cookie (pass it only from form handlers that guard against CSRF).
    """
    if not settings.token:
        return Refusal(
            403,
            "writes are disabled: no token is configured (set [http] token in the "
            "config file or AGGREGATOR_TOKEN)",
        )
    if token_matches(settings, bearer) or cookie_matches(settings, cookie):
        return None
    if bearer is None and cookie is None:
        return Refusal(401, "this needs the token: send Authorization: Bearer <token>")
    return Refusal(401, "the token is not right")


def read_refusal(
    settings: HttpSettings, *, bearer: str | None = None, cookie: str | None = None
) -> Refusal | None:
    """None when a read may go on (always, with ``public_reads``); else why not."""
    if settings.public_reads:
        return None
    if not settings.token:
        return Refusal(
            403, "reads need the token (public_reads is false), but no token is configured"
        )
    return write_refusal(settings, bearer=bearer, cookie=cookie)


# auto_error off: a missing header is our 401 with our message, not FastAPI's 403.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="The token of [http] token in the config file (or AGGREGATOR_TOKEN).",
)


def _guard(
    settings: HttpSettings,
    judge: Callable[..., Refusal | None],
) -> Callable[[HTTPAuthorizationCredentials | None], None]:
    def guard(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),  # noqa: B008
    ) -> None:
        bearer = credentials.credentials if credentials is not None else None
        refusal = judge(settings, bearer=bearer)
        if refusal is not None:
            raise HTTPException(refusal.status, refusal.message, headers=refusal.headers)

    return guard


def require_write(settings: HttpSettings) -> Callable[[HTTPAuthorizationCredentials | None], None]:
    """A FastAPI dependency that lets a write through only with the token."""
    return _guard(settings, write_refusal)


def require_read(settings: HttpSettings) -> Callable[[HTTPAuthorizationCredentials | None], None]:
    """A FastAPI dependency that lets a read through when reads are public, or with
    the token."""
    return _guard(settings, read_refusal)
