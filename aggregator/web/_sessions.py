"""Web login sessions: a random id in the browser's cookie, its hash in the database.

A login makes a new id (256 random bits) and stores ``key(id)``, an HMAC of the id
keyed with the configured token, with an expiry (``http.session_hours``); the
browser's previous session, if it sent one, ends in the same transaction, so an id
planted before the login is worth nothing after it. Each use moves the expiry to
``session_hours`` from then (a login lasts while it is used, as a user expects), but
never past ``session_max_hours`` from the login: a stolen cookie kept busy still ends.
The expiry is written at most once per ``_RENEW_STEP`` of a session's use (a page
view costs no write), so an idle session may end up to that much early. A logout deletes the row: a
cookie copied before the logout confirms nothing after it. The rows live in the
database, so every instance on it knows every session.

Keying the hash with the token means that changing the token ends every session
(no stored key matches any more), and that the table alone gives a reader of the
database neither a usable cookie nor a way to test guesses of the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from aggregator.settings import HttpSettings
from aggregator.storage import Storage

# 32 bytes of randomness, URL-safe base64: 43 characters.
_ID_BYTES = 32
# Longer cookie values are no id of ours; they are not even hashed.
_MAX_ID_LENGTH = 64
# The expiry is moved only once it would move by this much (or a tenth of the
# lifetime, if that is less).
_RENEW_STEP = timedelta(minutes=1)


class Sessions:
    """Start, check and end web sessions in ``storage``."""

    def __init__(
        self, storage: Storage, settings: HttpSettings, clock: Callable[[], datetime]
    ) -> None:
        self._storage = storage
        self._token = settings.token
        self.lifetime = timedelta(hours=settings.session_hours)
        self.max_lifetime = max(self.lifetime, timedelta(hours=settings.session_max_hours))
        self._renew_step = min(_RENEW_STEP, self.lifetime / 10)
        self._clock = clock

    def start(self, previous: str | None = None) -> str:
        """A new session's id (for the cookie); ``previous`` ends with it."""
        if not self._token:
            raise ValueError("no token configured: nobody can log in")
        session_id = secrets.token_urlsafe(_ID_BYTES)
        now = self._clock()
        self._storage.add_web_session(
            self._key(session_id),
            now=now,
            expires=now + self.lifetime,
            replacing=self._key_or_none(previous),
        )
        return session_id

    def alive(self, session_id: str | None) -> bool:
        """Whether ``session_id`` names a session that has not ended or expired; if
        so, it is in use now, and its expiry moves ``lifetime`` on (up to the
        maximum from its login)."""
        key = self._key_or_none(session_id)
        if key is None:
            return False
        now = self._clock()
        times = self._storage.web_session_times(key, now)
        if times is None:
            return False
        created, expires = times
        limit = created + self.max_lifetime
        if limit <= now:
            return False  # used all along, and now at the end of its maximum
        renewed = min(now + self.lifetime, limit)
        if renewed - expires >= self._renew_step:
            self._storage.renew_web_session(key, now, expires=renewed)
        return True

    def end(self, session_id: str | None) -> None:
        """End the session (nothing happens for an unknown or missing id)."""
        key = self._key_or_none(session_id)
        if key is not None:
            self._storage.remove_web_session(key)

    def _key_or_none(self, session_id: str | None) -> str | None:
        if not self._token or not session_id or len(session_id) > _MAX_ID_LENGTH:
            return None
        return self._key(session_id)

    def _key(self, session_id: str) -> str:
        assert self._token
        return hmac.new(self._token.encode(), session_id.encode(), hashlib.sha256).hexdigest()
