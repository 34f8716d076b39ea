"""Who may change links from the web pages, and whether a form post is our own.

The token is the same one the API takes as ``Authorization: Bearer``; a browser
gives it once to the login form and then carries a session cookie instead. The
cookie holds an HMAC of the token, not the token: changing the token in the config
logs every browser out, and the cookie alone does not reveal the token.

Cross-site request forgery: the cookie is ``SameSite=Strict`` (a browser does not
send it with a request started by another site), and every POST must also come with
an ``Origin`` (or, lacking one, a ``Referer``) of this site. Either alone stops the
usual attack; together they also cover browsers that ignore one of them.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import Request, Response

from aggregator.settings import HttpSettings

SESSION_COOKIE = "aggregator_session"
# A month: the cookie only lets its holder confirm, reject and add links.
SESSION_MAX_AGE_SECONDS = 30 * 24 * 3600
_SESSION_MESSAGE = b"aggregator web session v1"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower-cased; else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class WebAuth:
    """The token check, the session cookie and the same-origin check for forms."""

    def __init__(self, settings: HttpSettings) -> None:
        self._token = settings.token
        self._public_reads = settings.public_reads
        self._base_origin = _origin(settings.base_url) if settings.base_url else None

    @property
    def writes_enabled(self) -> bool:
        """False when no token is configured: then nobody may change anything."""
        return self._token is not None

    def check_token(self, given: str) -> bool:
        """Constant-time comparison (of digests, so the length does not leak either)."""
        if self._token is None:
            return False
        return hmac.compare_digest(_digest(given), _digest(self._token))

    def _session_value(self) -> str | None:
        if self._token is None:
            return None
        return hmac.new(self._token.encode("utf-8"), _SESSION_MESSAGE, "sha256").hexdigest()

    def logged_in(self, request: Request) -> bool:
        expected = self._session_value()
        given = request.cookies.get(SESSION_COOKIE)
        if expected is None or given is None:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))

    def may_read(self, request: Request) -> bool:
        return self._public_reads or self.logged_in(request)

    def log_in(self, request: Request, response: Response) -> None:
        value = self._session_value()
        if value is None:
            raise ValueError("no token configured: nobody can log in")
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=SESSION_MAX_AGE_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def log_out(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")

    def same_origin(self, request: Request) -> bool:
        """Whether a POST says it comes from a page of this site.

        "This site" is the address the request was sent to (its Host), or the
        configured public base URL when a proxy in front rewrites the Host.
        """
        claimed = request.headers.get("origin") or request.headers.get("referer")
        if not claimed:
            return False
        origin = _origin(claimed)
        if origin is None:  # includes Origin: null (sandboxed frames, file: pages)
            return False
        ours = {_origin(str(request.base_url)), self._base_origin} - {None}
        return origin in ours
