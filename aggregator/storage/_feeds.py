"""Feeds: the URLs we poll, added, found, listed and removed.

What a poll writes on a feed is ``_polls``; who holds a feed while polling it is
``_leases``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

from aggregator.exceptions import FeedAlreadyExists, FeedNotFound, StorageError
from aggregator.storage._base import StorageBase
from aggregator.storage._models import FEED
from aggregator.storage._sql import by_id, by_id_or_url, in_lists, page, record
from aggregator.types import FeedKind, FeedRecord, FeedStatus, Validators

# feed.added_via for feeds added through the HTTP API.
ADDED_VIA_API = "api"


class FeedStore(StorageBase):
    """Feeds: added, found, listed and removed."""

    def add_feed(self, url: str, kind: FeedKind, now: datetime) -> FeedRecord:
        """Add a feed, due at once. AlreadyExistsError if its URL (or added URL) is known."""
        with self._write(f"adding feed {url}") as session:
            return to_record(_add(session.connection(), url, kind, now))

    def add_api_feed(self, url: str, kind: FeedKind, now: datetime) -> FeedRecord:
        """Add a feed as ``add_feed`` does, marked as added through the HTTP API (in the
        same row: the scheduler never sees it without its mark).

        The poller must fetch such a feed with the API's restrictions (see
        ``api_feed_ids``). AlreadyExistsError if its URL is known.
        """
        with self._write(f"adding feed {url}") as session:
            return to_record(_add(session.connection(), url, kind, now, added_via=ADDED_VIA_API))

    def ensure_feed(self, url: str, kind: FeedKind, now: datetime) -> tuple[FeedRecord, bool]:
        """The feed known by ``url`` (current or as added), else a new one; True if new."""
        try:
            with self._write(f"adding feed {url}") as session:
                existing = _by_url(session.connection(), url)
                if existing is not None:
                    return to_record(existing), False
                return to_record(_add(session.connection(), url, kind, now)), True
        except FeedAlreadyExists:
            # Lost a race with another instance adding the same feed: it is there now.
            return self.find_feed(url), False

    def ensure_feeds(self, entries: Sequence[tuple[str, FeedKind]], now: datetime) -> int:
        """Add every (url, kind) whose URL is not known yet, in one transaction;
        returns how many were added. For long subscription lists (OPML)."""
        try:
            with self._write(f"adding {len(entries)} feeds") as session:
                return _add_many(session.connection(), entries, now)
        except StorageError:
            # Most likely another instance added some of them meanwhile (a unique
            # URL refused the insert): one at a time then, each knowing the other.
            return sum(self.ensure_feed(url, kind, now)[1] for url, kind in entries)

    def get_feed(self, feed_id: int) -> FeedRecord:
        with self._read(f"reading feed {feed_id}") as session:
            return to_record(by_id(session.connection(), FEED, feed_id, FeedNotFound))

    def find_feed(self, url_or_id: str) -> FeedRecord:
        """By id (all digits), else by URL, else by the URL it was added as."""
        with self._read(f"finding feed {url_or_id}") as session:
            connection = session.connection()
            return to_record(by_id_or_url(connection, FEED, url_or_id, FeedNotFound, _by_url))

    def feeds_page(
        self,
        *,
        kind: FeedKind | None = None,
        status: FeedStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[FeedRecord]:
        """Feeds by id, only of ``kind`` and ``status`` when given: one page (all of
        them without ``limit``), read as rows (the API's list read every feed as an
        ORM object to show 50)."""
        query = select(FEED).order_by(FEED.c.id)
        if kind is not None:
            query = query.where(FEED.c.kind == kind.value)
        if status is not None:
            query = query.where(FEED.c.status == status.value)
        with self._read("listing feeds") as session:
            rows = session.connection().execute(page(query, limit, offset))
            return [to_record(row) for row in rows]

    def api_feed_ids(self, feed_ids: Collection[int] | None = None) -> set[int]:
        """Which of ``feed_ids`` (default: all feeds) were added through the HTTP API."""
        query = select(FEED.c.id).where(FEED.c.added_via == ADDED_VIA_API)
        if feed_ids is not None:
            if not feed_ids:
                return set()
            query = query.where(FEED.c.id.in_(list(feed_ids)))
        with self._read("finding feeds added through the API") as session:
            return {int(i) for i in session.connection().execute(query).scalars()}

    def remove_feed(self, feed_id: int) -> None:
        """Delete a feed. NotFoundError if there is none.

        A podcast feed takes its series, episodes and every link to them along (the
        foreign keys cascade); a reviews feed leaves its reviews (they only forget
        which feed brought them).
        """
        with self._write(f"removing feed {feed_id}") as session:
            result = session.connection().execute(delete(FEED).where(FEED.c.id == feed_id))
            if result.rowcount == 0:
                raise FeedNotFound(f"no feed with id {feed_id}")


def to_record(row: Row[Any]) -> FeedRecord:
    """The record of a row of the feed table."""
    validators = Validators(etag=row.etag, last_modified=row.last_modified)
    return record(
        FeedRecord,
        row,
        kind=FeedKind(row.kind),
        status=FeedStatus(row.status),
        validators=validators,
    )


def _by_url(connection: Connection, url: str) -> Row[Any] | None:
    """The feed at ``url`` now, else the one first added as ``url`` (and since moved).

    Looking at ``added_url`` too means re-adding a feed that has moved finds it
    instead of making a second copy of the same podcast.
    """
    row = connection.execute(select(FEED).where(FEED.c.url == url)).first()
    if row is not None:
        return row
    query = select(FEED).where(FEED.c.added_url == url).order_by(FEED.c.id)
    return connection.execute(query).first()


def _add(
    connection: Connection,
    url: str,
    kind: FeedKind,
    now: datetime,
    *,
    added_via: str | None = None,
) -> Row[Any]:
    """Add a feed, due at once; ``added_via`` marks one added through the HTTP API."""
    existing = _by_url(connection, url)
    if existing is not None:
        raise FeedAlreadyExists(f"feed {existing.id} already has the URL {url}")
    values = {
        "url": url,
        "added_url": url,
        "kind": kind.value,
        "status": FeedStatus.ACTIVE.value,
        "added_via": added_via,
        "created_at": now,
        "updated_at": now,
    }
    try:
        feed_id = connection.execute(_INSERT, values).scalar_one()
    except IntegrityError as e:
        # Another process added the same URL between our look and our insert.
        raise FeedAlreadyExists(f"a feed with the URL {url} already exists") from e
    return by_id(connection, FEED, feed_id, FeedNotFound)


_INSERT = insert(FEED).returning(FEED.c.id)


def _add_many(
    connection: Connection, entries: Sequence[tuple[str, FeedKind]], now: datetime
) -> int:
    """Add the feeds whose URL (current or as added) is unknown; returns how many.

    One query for what is known and one multi-row insert: a subscription list of
    thousands of feeds goes in in one transaction, not one per feed.
    """
    urls = {url for url, _ in entries}
    known: set[str] = set()
    for chunk in in_lists(sorted(urls), 500):
        rows = connection.execute(
            select(FEED.c.url, FEED.c.added_url).where(
                or_(FEED.c.url.in_(chunk), FEED.c.added_url.in_(chunk))
            )
        )
        for url, added_url in rows:
            known.update((url, added_url))
    new: dict[str, FeedKind] = {}
    for url, kind in entries:
        if url not in known:
            new.setdefault(url, kind)
    if new:
        connection.execute(
            insert(FEED),
            [
                {
                    "url": url,
                    "added_url": url,
                    "kind": kind.value,
                    "status": FeedStatus.ACTIVE.value,
                    "error_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for url, kind in new.items()
            ],
        )
    return len(new)
