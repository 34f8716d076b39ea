"""Who may change links from the web pages, and whether a form post is our own.

The rule (token, session cookie, public reads) is the API's, ``aggregator.api.auth``:
a browser gives the token once to the login form and then carries a session cookie
holding an HMAC of the token, not the token. Changing the token in the config logs
every browser out, and the cookie alone does not reveal the token. This module adds
what only forms need: setting the cookie, and the same-origin check.

Cross-site request forgery: the cookie is ``SameSite=Strict`` (a browser does not
send it with a request started by another site), and every POST must also come with
an ``Origin`` (or, lacking one, a ``Referer``) of this site. Either alone stops the
usual attack; together they also cover browsers that ignore one of them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request, Response

from aggregator.api.auth import (
    COOKIE_NAME,
    cookie_matches,
    read_refusal,
    session_value,
    token_matches,
)
from aggregator.settings import HttpSettings

# A month: the cookie only lets its holder confirm, reject and add links.
SESSION_MAX_AGE_SECONDS = 30 * 24 * 3600


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
        self._settings = settings
        self._base_origin = _origin(settings.base_url) if settings.base_url else None

    @property
    def writes_enabled(self) -> bool:
        """False when no token is configured: then nobody may change anything."""
        return bool(self._settings.token)

    def check_token(self, given: str) -> bool:
        return token_matches(self._settings, given)

    def logged_in(self, request: Request) -> bool:
        return cookie_matches(self._settings, request.cookies.get(COOKIE_NAME))

    def may_read(self, request: Request) -> bool:
        cookie = request.cookies.get(COOKIE_NAME)
        return read_refusal(self._settings, cookie=cookie) is None

    def log_in(self, request: Request, response: Response) -> None:
        if not self._settings.token:
            raise ValueError("no token configured: nobody can log in")
        response.set_cookie(
            COOKIE_NAME,
            session_value(self._settings.token),
            max_age=SESSION_MAX_AGE_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def log_out(self, response: Response) -> None:
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")

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
