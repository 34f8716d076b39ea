"""Web login sessions: rows that say a session key is valid until when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, or_, select, update

from aggregator.storage._base import StorageBase
from aggregator.storage._models import WEB_SESSION
from aggregator.storage._versions import NOTHING


class SessionStore(StorageBase):
    """Web login sessions, by the hash of their id (the caller hashes)."""

    def add_web_session(
        self, key_hash: str, *, now: datetime, expires: datetime, replacing: str | None = None
    ) -> None:
        """Store a new session; in the same transaction end ``replacing`` (the
        session the browser had before: a login never keeps an old id) and forget
        every session past its expiry."""
        with self._write("starting a web session", changes=NOTHING) as session:
            connection = session.connection()
            stale = WEB_SESSION.c.expires_at <= now
            if replacing is not None:
                stale = or_(stale, WEB_SESSION.c.key_hash == replacing)
            connection.execute(delete(WEB_SESSION).where(stale))
            connection.execute(
                insert(WEB_SESSION).values(key_hash=key_hash, created_at=now, expires_at=expires)
            )

    def web_session_alive(self, key_hash: str, now: datetime) -> bool:
        """Whether the session is stored and not past its expiry."""
        with self._read("checking a web session") as session:
            found = session.connection().execute(
                select(WEB_SESSION.c.key_hash).where(
                    WEB_SESSION.c.key_hash == key_hash, WEB_SESSION.c.expires_at > now
                )
            )
            return found.first() is not None

    def web_session_times(self, key_hash: str, now: datetime) -> tuple[datetime, datetime] | None:
        """When the session began and when it expires; None when it is not stored or
        past its expiry."""
        with self._read("checking a web session") as session:
            found = session.connection().execute(
                select(WEB_SESSION.c.created_at, WEB_SESSION.c.expires_at).where(
                    WEB_SESSION.c.key_hash == key_hash, WEB_SESSION.c.expires_at > now
                )
            )
            row = found.first()
            return None if row is None else (row[0], row[1])

    def renew_web_session(self, key_hash: str, now: datetime, *, expires: datetime) -> None:
        """Move the session's expiry to ``expires``, unless it has expired (or ended)
        by ``now``: a session once expired stays so."""
        with self._write("renewing a web session") as session:
            session.connection().execute(
                update(WEB_SESSION)
                .where(WEB_SESSION.c.key_hash == key_hash, WEB_SESSION.c.expires_at > now)
                .values(expires_at=expires)
            )

    def remove_web_session(self, key_hash: str) -> None:
        """End the session (harmless when it is already gone)."""
        with self._write("ending a web session", changes=NOTHING) as session:
            session.connection().execute(
                delete(WEB_SESSION).where(WEB_SESSION.c.key_hash == key_hash)
            )
