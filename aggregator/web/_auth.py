"""Who may change links from the web pages, and whether a form post is our own.

The rule (token, public reads) is the API's, ``aggregator.api.auth``: a browser
gives the token once to the login form and then carries a session cookie holding a
random session id, kept server-side (``_sessions``): it expires, a logout ends it,
and a login replaces it. This module adds what only forms need: logging in (with
failed logins counted against the client's budget, shared with the API's wrong
tokens, and logged), the cookie, and the same-origin check.

Cross-site request forgery: the cookie is ``SameSite=Strict`` (a browser does not
send it with a request started by another site), and every POST must also come with
an ``Origin`` (or, lacking one, a ``Referer``) of this site. Either alone stops the
usual attack; together they also cover browsers that ignore one of them.

"This site" is never taken from the request alone: the ``Host`` it names must be one
of the allowed hosts (``http.allowed_hosts``; the server also refuses any other Host
outright), so a page on a name the attacker controls, pointed at our address (DNS
rebinding), cannot pass its own Origin off as ours.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import Request, Response

from aggregator.api.auth import client_address, read_refusal, token_matches
from aggregator.api.throttle import Attempt, FailureThrottle, Outcome
from aggregator.settings import HttpSettings, host_pattern
from aggregator.web._render import http_url
from aggregator.web._sessions import Sessions

COOKIE_NAME = "aggregator_session"

log = logging.getLogger(__name__)


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower-cased; else None."""
    absolute = http_url(url)
    if absolute is None:
        return None
    parts = urlsplit(absolute)
    return f"{parts.scheme}://{parts.netloc}".lower()


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether ``host`` (as a Host header names it, no port) matches one of the
    allowed patterns: a name, ``*.domain`` for its subdomains, or ``*``.

    >>> host_allowed("a.example.org", ["*.example.org"]), host_allowed("evil.example", ["x"])
    (True, False)
    """
    host = host.lower()
    return any(
        pattern == "*"
        or host == pattern
        or (pattern.startswith("*.") and host.endswith(pattern[1:]))
        for pattern in allowed
    )


def _origin_host(origin: str) -> str | None:
    try:
        hostname = urlsplit(origin).hostname
        return host_pattern(hostname) if hostname else None
    except ValueError:
        return None


class WebAuth:
    """Logging in and out, the session check and the same-origin check for forms."""

    def __init__(
        self,
        settings: HttpSettings,
        sessions: Sessions,
        throttle: FailureThrottle,
        allowed_hosts: Sequence[str],
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._throttle = throttle
        self._hosts = tuple(allowed_hosts)
        self._base_origin = _origin(settings.base_url) if settings.base_url else None

    @property
    def writes_enabled(self) -> bool:
        """False when no token is configured: then nobody may change anything."""
        return bool(self._settings.token)

    def logged_in(self, request: Request) -> bool:
        """Whether the request carries a live session (looked up once per request)."""
        known = getattr(request.state, "logged_in", None)
        if known is None:
            known = self._sessions.alive(request.cookies.get(COOKIE_NAME))
            request.state.logged_in = known
        return bool(known)

    def may_read(self, request: Request) -> bool:
        if self._settings.public_reads:
            return True
        return read_refusal(self._settings, logged_in=self.logged_in(request)) is None

    def try_token(self, request: Request, token: str) -> Attempt:
        """Check a token from the login form, within the client's budget of failures;
        a failure is logged (the address, never what was typed)."""
        client = client_address(request)
        attempt = self._throttle.attempt(client, lambda: token_matches(self._settings, token))
        if attempt.outcome is Outcome.FAILED:
            log.warning("failed login from %s%s", client, self._throttle.note(attempt))
        return attempt

    def log_in(self, request: Request, response: Response) -> None:
        """Start a new session (ending the one the browser had) and set its cookie."""
        session_id = self._sessions.start(previous=request.cookies.get(COOKIE_NAME))
        response.set_cookie(
            COOKIE_NAME,
            session_id,
            # The longest the session can last; the server ends it sooner when unused.
            max_age=int(self._sessions.max_lifetime.total_seconds()),
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def log_out(self, request: Request, response: Response) -> None:
        """End the session server-side (a copy of the cookie is worthless after) and
        tell the browser to drop it."""
        self._sessions.end(request.cookies.get(COOKIE_NAME))
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")

    def same_origin(self, request: Request) -> bool:
        """Whether a POST says it comes from a page of this site.

        "This site" is the configured public base URL, or the address the request
        was sent to when its host is an allowed host.
        """
        claimed = request.headers.get("origin") or request.headers.get("referer")
        if not claimed:
            return False
        origin = _origin(claimed)
        if origin is None:  # includes Origin: null (sandboxed frames, file: pages)
            return False
        if origin == self._base_origin:
            return True
        host = _origin_host(origin)
        if host is None or not host_allowed(host, self._hosts):
            return False
        return origin == _origin(str(request.base_url))
