"""Polls: what one poll of a feed stores, the feed's new state and its content.

A poll is stored in two halves: ``prepare_poll`` plans the episodes' writes in a
read (``_merge``), and ``store_poll`` carries them out with the feed's new state in
one short write transaction. Polls that brought nothing to store (304s, unchanged
bodies) are batched: one UPDATE per set of columns, not one transaction per feed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy import update as sa_update

from aggregator.exceptions import FeedNotFound
from aggregator.storage import _merge, _series
from aggregator.storage._base import StorageBase
from aggregator.storage._leases import NO_LEASE
from aggregator.storage._models import EPISODE, FEED
from aggregator.storage._sql import by_id
from aggregator.storage._versions import EVERYTHING, FEEDS
from aggregator.types import FeedUpdate, ParsedFeed, StoreCounts


@dataclass(frozen=True, slots=True)
class PreparedPoll:
    """One poll ready to store: ``PollStore.prepare_poll`` made it, ``store_poll``
    writes it."""

    update: FeedUpdate
    parsed: ParsedFeed | None
    episodes: _merge.Prepared | None
    now: datetime


class PollStore(StorageBase):
    """Polls: the feed's new state, its series and episodes."""

    def known_item_hashes(self, feed_id: int) -> frozenset[str]:
        """Raw item hashes of the feed's stored episodes (empty before its first poll)."""
        with self._read(f"reading item hashes of feed {feed_id}") as session:
            connection = session.connection()
            series_id = _series.id_for_feed(connection, feed_id)
            if series_id is None:
                return frozenset()
            query = select(EPISODE.c.item_hash).where(
                EPISODE.c.series_id == series_id, EPISODE.c.item_hash.is_not(None)
            )
            return frozenset(connection.execute(query).scalars())

    def recent_published(self, feed_id: int, limit: int) -> list[datetime]:
        """Publication dates of the feed's newest episodes, newest first; undated skipped.

        For estimating a feed's rhythm; missing episodes count too (they were published).
        Empty for a feed never polled (or unknown).
        """
        with self._read(f"reading episode dates of feed {feed_id}") as session:
            connection = session.connection()
            series_id = _series.id_for_feed(connection, feed_id)
            if series_id is None:
                return []
            query = (
                select(EPISODE.c.published)
                .where(EPISODE.c.series_id == series_id, EPISODE.c.published.is_not(None))
                .order_by(EPISODE.c.published.desc())
                .limit(limit)
            )
            return list(connection.execute(query).scalars())

    def apply_poll(
        self, update: FeedUpdate, parsed: ParsedFeed | None, now: datetime
    ) -> StoreCounts:
        """Write one poll in one transaction: the feed's new state, then its content.

        With ``parsed``: the series is upserted (skipped when its hash is unchanged),
        new and changed episodes are upserted, unchanged ones are not written, and
        episodes gone from the feed are marked missing (see ``_merge``).
        """
        return self.store_poll(self.prepare_poll(update, parsed, now))

    def prepare_poll(
        self, update: FeedUpdate, parsed: ParsedFeed | None, now: datetime
    ) -> PreparedPoll:
        """The first half of ``apply_poll``, outside any write transaction: what the
        poll's episodes need written, planned against the series as stored now."""
        if parsed is None:
            return PreparedPoll(update, None, None, now)
        with self._read(f"planning poll of feed {update.feed_id}") as session:
            connection = session.connection()
            state = _series.state(connection, update.feed_id)
            episodes = _merge.prepare(connection, state, parsed, now)
        return PreparedPoll(update, parsed, episodes, now)

    def store_poll(self, poll: PreparedPoll) -> StoreCounts:
        """The second half of ``apply_poll``: its one write transaction."""
        update, parsed, now = poll.update, poll.parsed, poll.now
        # A poll that brought nothing to store (an error, a body with no news) changes
        # only the feed's state; one that moves the feed or brings a document, pages.
        changes = EVERYTHING if parsed is not None or update.url is not None else (FEEDS,)
        with self._write(f"storing poll of feed {update.feed_id}", changes=changes) as session:
            connection = session.connection()
            if parsed is None and update.url is None:
                _update_many(connection, [update], now)
                return StoreCounts()
            title = parsed.series.title if parsed is not None else None
            if update.url is None:
                _update_one(connection, update, now, title=title)
            else:  # a move may meet another feed's URL: that path looks first
                _update_moving(connection, update, now, title=title)
            if parsed is None or poll.episodes is None:
                return StoreCounts()
            episodes = poll.episodes
            state = _series.state(connection, update.feed_id)
            if state != episodes.state:
                # The series changed since the plan was made (a poll of the same feed
                # stored meanwhile): plan again, now under the write lock.
                episodes = _merge.prepare(connection, state, parsed, now)
            series_id = _series.upsert(connection, update.feed_id, parsed.series, now)
            _merge.write(connection, series_id, episodes, now)
            if episodes.plan.writes:
                _series.mark_changed(connection, series_id, now)
            return episodes.plan.counts(series_id)

    def apply_schedule_updates(self, updates: Sequence[FeedUpdate], now: datetime) -> None:
        """Write many polls that brought nothing to store (304s, unchanged bodies).

        Each update must have ``url`` None: a moving feed goes through ``apply_poll``.
        One transaction; a feed deleted meanwhile is simply skipped.
        """
        if not updates:
            return
        if any(u.url is not None for u in updates):
            raise ValueError("a feed that moves is stored with apply_poll")
        with self._write(f"storing {len(updates)} unchanged polls", changes=(FEEDS,)) as session:
            _update_many(session.connection(), updates, now)


def _values(update: FeedUpdate, now: datetime) -> dict[str, Any]:
    """The columns one poll writes; fields that are None in ``update`` keep their value."""
    values: dict[str, Any] = {
        "last_polled_at": update.polled_at,
        "next_poll_at": update.next_poll_at,
        "status": update.status.value,
        "error_count": update.error_count,
        "last_error": update.last_error,
        "last_error_at": update.polled_at if update.last_error is not None else None,
        "warning": update.warning,
        "updated_at": now,
        # The poll is stored: the claim on the feed ends with it.
        **NO_LEASE,
    }
    if update.validators is not None:
        values["etag"] = update.validators.etag
        values["last_modified"] = update.validators.last_modified
    optional = ("content_hash", "note", "typical_gap_minutes", "newest_published_at", "ttl_minutes")
    for name in optional:
        value = getattr(update, name)
        if value is not None:
            values[name] = value
    return values


def _update_moving(
    connection: Connection, update: FeedUpdate, now: datetime, *, title: str | None
) -> None:
    """One poll's update that may move the feed (``update.url``), with the series
    ``title`` if any. The row is locked first: the move looks at other feeds' URLs."""
    row = by_id(connection, FEED, update.feed_id, FeedNotFound, for_update=True)
    values = _values(update, now)
    if update.url is not None and update.url != row.url:
        values |= _move(connection, row, update.url, update.polled_at)
    if title is not None:
        values["title"] = title
    connection.execute(sa_update(FEED).where(FEED.c.id == row.id).values(values))


def _update_one(
    connection: Connection, update: FeedUpdate, now: datetime, *, title: str | None
) -> None:
    """One poll's update that does not move the feed, with the series ``title`` if any.

    One UPDATE (it takes the row's lock, as ``_update_moving``'s FOR UPDATE does):
    loading the row into the ORM and flushing it cost a first poll several ms
    (bench/poll).
    """
    values = _values(update, now)
    if title is not None:
        values["title"] = title
    values["feed_id_"] = update.feed_id
    result = connection.execute(_update_by_id(tuple(sorted(values))), values)
    if result.rowcount == 0:
        raise FeedNotFound(f"no feed with id {update.feed_id}")


def _update_many(connection: Connection, updates: Sequence[FeedUpdate], now: datetime) -> None:
    """UPDATE statements for polls that brought nothing to store, batched.

    A 304 or an unchanged body only moves a feed's schedule and validators. Going
    through the ORM for that cost more than the HTTP request, and one executemany per
    set of columns costs a fraction of one statement per feed (bench/poll).
    """
    # One statement per set of columns: the ORM's bulk-update path, used once, doubled
    # the cost of each statement.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for update in updates:
        values = _values(update, now)
        values["feed_id_"] = update.feed_id
        groups.setdefault(tuple(sorted(values)), []).append(values)
    for keys, rows in groups.items():
        connection.execute(_update_by_id(keys), rows)


@functools.cache
def _update_by_id(keys: tuple[str, ...]) -> Any:
    """UPDATE feed SET <keys> WHERE id = :feed_id_, built once per set of columns
    (there are a few dozen at most: which optional values a poll sets)."""
    columns: dict[str, Any] = {key: bindparam(key) for key in keys if key != "feed_id_"}
    return sa_update(FEED).where(FEED.c.id == bindparam("feed_id_")).values(columns)


def _move(connection: Connection, row: Row[Any], new_url: str, when: datetime) -> dict[str, Any]:
    """The columns that follow a permanent redirect: the new URL, unless another feed
    already has it."""
    query = select(FEED.c.id).where(FEED.c.url == new_url).where(FEED.c.id != row.id)
    other = connection.execute(query).scalar()
    if other is None:
        return {"url": new_url}
    # Two feeds now lead to one document; merging them is for a person to decide.
    return {
        "note": f"moved to {new_url} on {when:%Y-%m-%d}, but feed {other} already has that "
        f"URL; kept {row.url}"
    }
