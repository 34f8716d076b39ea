"""Feeds, their polls and their leases."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.exceptions import FeedAlreadyExists, StorageError
from aggregator.storage import (
    _episodes,
    _feeds,
    _queries,
    _series,
)
from aggregator.storage._base import StorageBase
from aggregator.storage._versions import EVERYTHING, FEEDS, NOTHING
from aggregator.types import (
    FeedKind,
    FeedRecord,
    FeedStatus,
    FeedUpdate,
    ParsedFeed,
    StoreCounts,
)


@dataclass(frozen=True, slots=True)
class PreparedPoll:
    """One poll ready to store: ``FeedStore.prepare_poll`` made it, ``store_poll``
    writes it."""

    update: FeedUpdate
    parsed: ParsedFeed | None
    episodes: _episodes.Prepared | None
    now: datetime


class FeedStore(StorageBase):
    """Feeds, their polls and their leases."""

    # --- feeds ---------------------------------------------------------------------

    def add_feed(self, url: str, kind: FeedKind, now: datetime) -> FeedRecord:
        """Add a feed, due at once. AlreadyExistsError if its URL (or added URL) is known."""
        with self._write(f"adding feed {url}") as session:
            return _feeds.to_record(_feeds.add(session.connection(), url, kind, now))

    def ensure_feed(self, url: str, kind: FeedKind, now: datetime) -> tuple[FeedRecord, bool]:
        """The feed known by ``url`` (current or as added), else a new one; True if new."""
        try:
            with self._write(f"adding feed {url}") as session:
                existing = _feeds.by_url(session.connection(), url)
                if existing is not None:
                    return _feeds.to_record(existing), False
                return _feeds.to_record(_feeds.add(session.connection(), url, kind, now)), True
        except FeedAlreadyExists:
            # Lost a race with another instance adding the same feed: it is there now.
            return self.find_feed(url), False

    def ensure_feeds(self, entries: Sequence[tuple[str, FeedKind]], now: datetime) -> int:
        """Add every (url, kind) whose URL is not known yet, in one transaction;
        returns how many were added. For long subscription lists (OPML)."""
        try:
            with self._write(f"adding {len(entries)} feeds") as session:
                return _feeds.add_many(session.connection(), entries, now)
        except StorageError:
            # Most likely another instance added some of them meanwhile (a unique
            # URL refused the insert): one at a time then, each knowing the other.
            return sum(self.ensure_feed(url, kind, now)[1] for url, kind in entries)

    def get_feed(self, feed_id: int) -> FeedRecord:
        with self._read(f"reading feed {feed_id}") as session:
            return _feeds.to_record(_feeds.get(session.connection(), feed_id))

    def find_feed(self, url_or_id: str) -> FeedRecord:
        """By id (all digits), else by URL, else by the URL it was added as."""
        with self._read(f"finding feed {url_or_id}") as session:
            return _feeds.to_record(_feeds.find(session.connection(), url_or_id))

    def feeds_page(
        self,
        *,
        kind: FeedKind | None = None,
        status: FeedStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[FeedRecord]:
        """Feeds by id, only of ``kind`` and ``status`` when given: one page (all of
        them without ``limit``)."""
        with self._read("listing feeds") as session:
            return _feeds.page(
                session.connection(), kind=kind, status=status, limit=limit, offset=offset
            )

    def remove_feed(self, feed_id: int) -> None:
        """Delete a feed. NotFoundError if there is none.

        A podcast feed takes its series, episodes and every link to them along; a
        reviews feed leaves its reviews (they only forget which feed brought them).
        """
        with self._write(f"removing feed {feed_id}") as session:
            _feeds.remove(session.connection(), feed_id)

    def due_feeds(self, now: datetime, limit: int) -> list[FeedRecord]:
        """Feeds not gone whose next poll is due and which no instance holds:
        never-polled first, then most overdue."""
        with self._read("finding due feeds") as session:
            return [_feeds.to_record(row) for row in _feeds.due(session.connection(), now, limit)]

    def claim_due_feeds(
        self,
        now: datetime,
        limit: int,
        *,
        owner: str,
        lease_seconds: float,
        ahead_of_schedule: bool = False,
        host: str | None = None,
        pid: int | None = None,
    ) -> list[FeedRecord]:
        """Like ``due_feeds``, but each feed is leased to ``owner``: no other instance
        takes it until its poll is stored (which ends the lease) or the lease runs out.

        ``ahead_of_schedule`` also claims the healthy feeds not due yet (a poll asked
        for by hand); feeds whose last polls failed still wait out their backoff,
        Retry-After included. ``host`` and ``pid`` name the process holding the
        leases, for others on its host to see when it is gone (``feed_lease_holders``).
        """
        until = now + timedelta(seconds=lease_seconds)
        with self._write("claiming due feeds", changes=NOTHING) as session:
            rows = _feeds.claim_due(
                session.connection(),
                now,
                limit,
                owner=owner,
                until=until,
                ahead=ahead_of_schedule,
                host=host,
                pid=pid,
            )
            return [_feeds.to_record(row) for row in rows]

    def feed_lease_holders(self, now: datetime, *, host: str) -> list[tuple[str, int]]:
        """(owner, pid) of the processes on ``host`` that hold live feed leases."""
        with self._read("reading who holds feed leases") as session:
            return _feeds.holders_on(session.connection(), now, host=host)

    def end_feed_leases_of(self, owners: Sequence[str]) -> int:
        """End the feed leases of these owners (processes known to be gone); returns
        how many feeds are free again."""
        if not owners:
            return 0
        doing = f"ending the feed leases of {len(owners)} processes"
        with self._write(doing, changes=NOTHING) as session:
            return _feeds.end_leases_of(session.connection(), owners)

    def feeds_held_elsewhere(self, now: datetime, *, owner: str) -> tuple[int, datetime | None]:
        """Feeds another poller holds now (polling them, or stopped by kill -9 with the
        lease running on), and when the last of those leases ends."""
        with self._read("counting feeds leased elsewhere") as session:
            return _feeds.held_elsewhere(session.connection(), now, owner=owner)

    def renew_feed_leases(self, now: datetime, *, owner: str, lease_seconds: float) -> int:
        """Extend the leases ``owner`` holds (feeds claimed, not yet stored)."""
        until = now + timedelta(seconds=lease_seconds)
        with self._write("renewing feed leases", changes=NOTHING) as session:
            return _feeds.renew_leases(session.connection(), now, owner=owner, until=until)

    def release_feeds(self, feed_ids: Sequence[int], *, owner: str) -> None:
        """Give back feeds ``owner`` claimed but will not poll (it is stopping)."""
        if feed_ids:
            with self._write(f"releasing {len(feed_ids)} feeds", changes=NOTHING) as session:
                _feeds.release_leases(session.connection(), feed_ids, owner=owner)

    # --- polls ---------------------------------------------------------------------

    def known_item_hashes(self, feed_id: int) -> frozenset[str]:
        """Raw item hashes of the feed's stored episodes (empty before its first poll)."""
        with self._read(f"reading item hashes of feed {feed_id}") as session:
            series_id = _series.id_for_feed(session.connection(), feed_id)
            if series_id is None:
                return frozenset()
            return _episodes.known_item_hashes(session.connection(), series_id)

    def recent_published(self, feed_id: int, limit: int) -> list[datetime]:
        """Publication dates of the feed's newest episodes, newest first; undated skipped.

        For estimating a feed's rhythm; missing episodes count too (they were published).
        Empty for a feed never polled (or unknown).
        """
        with self._read(f"reading episode dates of feed {feed_id}") as session:
            series_id = _series.id_for_feed(session.connection(), feed_id)
            if series_id is None:
                return []
            return _episodes.recent_published(session.connection(), series_id, limit)

    def apply_poll(
        self, update: FeedUpdate, parsed: ParsedFeed | None, now: datetime
    ) -> StoreCounts:
        """Write one poll in one transaction: the feed's new state, then its content.

        With ``parsed``: the series is upserted (skipped when its hash is unchanged),
        new and changed episodes are upserted, unchanged ones are not written, and
        episodes gone from the feed are marked missing (see ``_episodes``).
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
            episodes = _episodes.prepare(connection, state, parsed, now)
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
                _feeds.apply_updates_fast(connection, [update], now)
                return StoreCounts()
            title = parsed.series.title if parsed is not None else None
            if update.url is None:
                _feeds.apply_update_fast(connection, update, now, title=title)
            else:  # a move may meet another feed's URL: that path looks first
                _feeds.apply_move(connection, update, now, title=title)
            if parsed is None or poll.episodes is None:
                return StoreCounts()
            episodes = poll.episodes
            state = _series.state(connection, update.feed_id)
            if state != episodes.state:
                # The series changed since the plan was made (a poll of the same feed
                # stored meanwhile): plan again, now under the write lock.
                episodes = _episodes.prepare(connection, state, parsed, now)
            series_id = _series.upsert(connection, update.feed_id, parsed.series, now)
            _episodes.write(connection, series_id, episodes, now)
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
            _feeds.apply_updates_fast(session.connection(), updates, now)

    def add_api_feed(self, url: str, kind: FeedKind, now: datetime) -> FeedRecord:
        """Add a feed as ``add_feed`` does, marked as added through the HTTP API.

        The poller must fetch such a feed with the API's restrictions (see
        ``api_feed_ids``). AlreadyExistsError if its URL is known.
        """
        with self._write(f"adding feed {url}") as session:
            return _queries.add_api_feed(session.connection(), url, kind, now)

    def api_feed_ids(self, feed_ids: Collection[int] | None = None) -> set[int]:
        """Which of ``feed_ids`` (default: all feeds) were added through the HTTP API."""
        with self._read("finding feeds added through the API") as session:
            return _queries.api_feed_ids(session.connection(), feed_ids)
