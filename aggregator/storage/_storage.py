"""The storage facade: one Engine, a short session per call, typed records out."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import TracebackType
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from aggregator.exceptions import AlreadyExistsError, NotFoundError, StorageError
from aggregator.storage import (
    _catalog,
    _episodes,
    _feed_queries,
    _feeds,
    _links,
    _migrate,
    _queries,
    _review_queries,
    _reviews,
    _search,
    _series,
)
from aggregator.storage._engine import make_engines, parse_url, storage_errors
from aggregator.storage._feed_queries import FeedVersion, ReviewsForFeed, SeriesFeedRows
from aggregator.storage._queries import EpisodeRow, ReviewSummary, SeriesRow, StoreStats
from aggregator.types import (
    CatalogSeries,
    EpisodeRecord,
    FeedKind,
    FeedRecord,
    FeedUpdate,
    LinkProposal,
    LinkRecord,
    LinkStatus,
    ParsedFeed,
    Relation,
    ReviewDocument,
    ReviewRecord,
    SeriesRecord,
    StoreCounts,
)

_T = TypeVar("_T")


def open_storage(database_url: str) -> Storage:
    """Open (not migrate) the database at ``database_url``.

    ``sqlite:///path/to/file.db`` (the directory is created; WAL mode, foreign keys
    on, writers wait for each other) or ``postgresql+psycopg://user@host/db``. No
    connection is made until the first call.
    """
    url = parse_url(database_url)
    with storage_errors(f"cannot open {url.render_as_string(hide_password=True)}"):
        reads, writes = make_engines(url)
    return Storage(reads, writes)


class Storage:
    """Feeds, series, episodes, reviews and links in SQLite or PostgreSQL.

    Safe to share between threads: each call takes its own connection from the pool
    and holds it only for that call. Every datetime in and out is aware UTC.
    """

    def __init__(self, reads: Engine, writes: Engine) -> None:
        self._engine = reads
        self._write_engine = writes

    @property
    def url(self) -> str:
        """The database URL, password included (for handing to a child process)."""
        return self._engine.url.render_as_string(hide_password=False)

    def __enter__(self) -> Storage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _read(self, doing: str) -> Iterator[Session]:
        with storage_errors(doing), Session(self._engine) as session:
            yield session

    @contextmanager
    def _write(self, doing: str) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with storage_errors(doing), Session(self._write_engine) as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Create or upgrade the tables to the newest schema; harmless when current."""
        with storage_errors("migrating the database"):
            _migrate.upgrade_to_head(self._write_engine)

    # --- feeds ---------------------------------------------------------------------

    def add_feed(self, url: str, kind: FeedKind, now: datetime) -> FeedRecord:
        """Add a feed, due at once. AlreadyExistsError if its URL (or added URL) is known."""
        with self._write(f"adding feed {url}") as session:
            return _feeds.to_record(_feeds.add(session, url, kind, now))

    def ensure_feed(self, url: str, kind: FeedKind, now: datetime) -> tuple[FeedRecord, bool]:
        """The feed known by ``url`` (current or as added), else a new one; True if new."""
        try:
            with self._write(f"adding feed {url}") as session:
                existing = _feeds.by_url(session, url)
                if existing is not None:
                    return _feeds.to_record(existing), False
                return _feeds.to_record(_feeds.add(session, url, kind, now)), True
        except AlreadyExistsError:
            # Lost a race with another instance adding the same feed: it is there now.
            return self.find_feed(url), False

    def ensure_feeds(self, entries: Sequence[tuple[str, FeedKind]], now: datetime) -> int:
        """Add every (url, kind) whose URL is not known yet, in one transaction;
        returns how many were added. For long subscription lists (OPML)."""
        try:
            with self._write(f"adding {len(entries)} feeds") as session:
                return _feeds.add_many(session, entries, now)
        except StorageError:
            # Most likely another instance added some of them meanwhile (a unique
            # URL refused the insert): one at a time then, each knowing the other.
            return sum(self.ensure_feed(url, kind, now)[1] for url, kind in entries)

    def get_feed(self, feed_id: int) -> FeedRecord:
        with self._read(f"reading feed {feed_id}") as session:
            return _feeds.to_record(_feeds.get(session, feed_id))

    def find_feed(self, url_or_id: str) -> FeedRecord:
        """By id (all digits), else by URL, else by the URL it was added as."""
        with self._read(f"finding feed {url_or_id}") as session:
            return _feeds.to_record(_feeds.find(session, url_or_id))

    def list_feeds(self) -> list[FeedRecord]:
        with self._read("listing feeds") as session:
            return [_feeds.to_record(row) for row in _feeds.list_all(session)]

    def remove_feed(self, feed_id: int) -> None:
        """Delete a feed. NotFoundError if there is none.

        A podcast feed takes its series, episodes and every link to them along; a
        reviews feed leaves its reviews (they only forget which feed brought them).
        """
        with self._write(f"removing feed {feed_id}") as session:
            _feeds.remove(session, feed_id)

    def due_feeds(self, now: datetime, limit: int) -> list[FeedRecord]:
        """Feeds not gone whose next poll is due and which no instance holds:
        never-polled first, then most overdue."""
        with self._read("finding due feeds") as session:
            return [_feeds.to_record(row) for row in _feeds.due(session, now, limit)]

    def claim_due_feeds(
        self, now: datetime, limit: int, *, owner: str, lease_seconds: float
    ) -> list[FeedRecord]:
        """Like ``due_feeds``, but each feed is leased to ``owner``: no other instance
        takes it until its poll is stored (which ends the lease) or the lease runs out.
        """
        until = now + timedelta(seconds=lease_seconds)
        with self._write("claiming due feeds") as session:
            rows = _feeds.claim_due(session, now, limit, owner=owner, until=until)
            return [_feeds.to_record(row) for row in rows]

    def renew_feed_leases(self, now: datetime, *, owner: str, lease_seconds: float) -> int:
        """Extend the leases ``owner`` holds (feeds claimed, not yet stored)."""
        until = now + timedelta(seconds=lease_seconds)
        with self._write("renewing feed leases") as session:
            return _feeds.renew_leases(session.connection(), now, owner=owner, until=until)

    def release_feeds(self, feed_ids: Sequence[int], *, owner: str) -> None:
        """Give back feeds ``owner`` claimed but will not poll (it is stopping)."""
        if feed_ids:
            with self._write(f"releasing {len(feed_ids)} feeds") as session:
                _feeds.release_leases(session.connection(), feed_ids, owner=owner)

    # --- polls ---------------------------------------------------------------------

    def known_item_hashes(self, feed_id: int) -> frozenset[str]:
        """Raw item hashes of the feed's stored episodes (empty before its first poll)."""
        with self._read(f"reading item hashes of feed {feed_id}") as session:
            series_id = _series.id_for_feed(session, feed_id)
            if series_id is None:
                return frozenset()
            return _episodes.known_item_hashes(session.connection(), series_id)

    def recent_published(self, feed_id: int, limit: int) -> list[datetime]:
        """Publication dates of the feed's newest episodes, newest first; undated skipped.

        For estimating a feed's rhythm; missing episodes count too (they were published).
        Empty for a feed never polled (or unknown).
        """
        with self._read(f"reading episode dates of feed {feed_id}") as session:
            series_id = _series.id_for_feed(session, feed_id)
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
        with self._write(f"storing poll of feed {update.feed_id}") as session:
            connection = session.connection()
            if parsed is None and update.url is None:
                _feeds.apply_updates_fast(connection, [update], now)
                return StoreCounts()
            title = parsed.series.title if parsed is not None else None
            if update.url is None:
                _feeds.apply_update_fast(connection, update, now, title=title)
            else:  # a move may meet another feed's URL: the ORM path looks
                feed = _feeds.get(session, update.feed_id, for_update=True)
                _feeds.apply_update(session, feed, update, now)
                if title is not None:
                    feed.title = title
                session.flush()
            if parsed is None:
                return StoreCounts()
            series_id = _series.upsert(connection, update.feed_id, parsed.series, now)
            todo = _episodes.plan(_episodes.load_stored(connection, series_id), parsed)
            _episodes.write(connection, series_id, todo, now)
            if todo.writes:
                _series.mark_changed(connection, series_id, now)
            return todo.counts(series_id)

    def apply_schedule_updates(self, updates: Sequence[FeedUpdate], now: datetime) -> None:
        """Write many polls that brought nothing to store (304s, unchanged bodies).

        Each update must have ``url`` None: a moving feed goes through ``apply_poll``.
        One transaction; a feed deleted meanwhile is simply skipped.
        """
        if not updates:
            return
        if any(u.url is not None for u in updates):
            raise ValueError("a feed that moves is stored with apply_poll")
        with self._write(f"storing {len(updates)} unchanged polls") as session:
            _feeds.apply_updates_fast(session.connection(), updates, now)

    # --- series and episodes ---------------------------------------------------------

    def list_series(self) -> list[SeriesRecord]:
        """Every series, by title, with its feed's URL and its number of episodes."""
        with self._read("listing series") as session:
            return _series.list_all(session)

    def get_series(self, series_id: int) -> SeriesRecord:
        with self._read(f"reading series {series_id}") as session:
            return _series.get(session, series_id)

    def list_episodes(
        self, series_id: int | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[EpisodeRecord]:
        """Episodes (of one series, or all), newest published first, undated last, then by id.

        NotFoundError if ``series_id`` names no series. Missing episodes are included,
        with ``missing_since`` set.
        """
        with self._read("listing episodes") as session:
            if series_id is not None and not _series.exists(session, series_id):
                raise NotFoundError(f"no series with id {series_id}")
            return _episodes.list_page(session.connection(), series_id, limit, offset)

    # --- reviews -------------------------------------------------------------------

    def save_review(
        self,
        document: ReviewDocument,
        *,
        content_hash: str,
        source: str,
        now: datetime,
        feed_id: int | None = None,
    ) -> tuple[ReviewRecord, bool]:
        """Store a review, or update the one it repeats; True if it is new.

        A review is the one stored with the same URL, else the one with the same
        content (``content_hash``) and no other URL. Updating keeps its id and links;
        metadata the new copy lacks (title, author, date, URL, feed) is kept; a
        changed text makes the review due for linking again.
        """
        with self._write(f"saving review {document.url or content_hash}") as session:
            return _reviews.save(
                session.connection(),
                document,
                content_hash=content_hash,
                source=source,
                now=now,
                feed_id=feed_id,
            )

    def get_review(self, review_id: int) -> ReviewRecord:
        with self._read(f"reading review {review_id}") as session:
            return _reviews.get(session.connection(), review_id)

    def find_review(self, id_or_url: str) -> ReviewRecord:
        """By id (all digits), else by URL. NotFoundError if neither matches."""
        with self._read(f"finding review {id_or_url}") as session:
            return _reviews.find(session.connection(), id_or_url)

    def list_reviews(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        series_id: int | None = None,
        episode_id: int | None = None,
    ) -> list[ReviewRecord]:
        """Newest published first, undated last, then by id.

        With ``series_id`` or ``episode_id``: only reviews with a link (not rejected)
        to that series (or any of its episodes) or episode; NotFoundError if it does
        not exist.
        """
        with self._read("listing reviews") as session:
            return _reviews.list_page(
                session.connection(),
                limit=limit,
                offset=offset,
                series_id=series_id,
                episode_id=episode_id,
            )

    def reviews_with_any_word(
        self, words: Sequence[str], *, published_since: datetime | None = None
    ) -> list[ReviewRecord]:
        """Reviews having at least one of ``words`` (lower-case letters and digits, as
        ``search_words`` gives them), optionally published since a time (or undated);
        by id. Served by the full-text index: no review is read that has none."""
        with self._read("finding reviews by words") as session:
            connection = session.connection()
            ids = _search.review_ids_with_any(
                connection, list(words), published_since=published_since
            )
            return _reviews.by_ids(connection, ids)

    def delete_review(self, review_id: int) -> None:
        """Delete a review and its links. NotFoundError if there is none."""
        with self._write(f"deleting review {review_id}") as session:
            _reviews.delete(session.connection(), review_id)

    def reviews_linked_to(self, series_id: int) -> list[ReviewRecord]:
        """Reviews with a link (not rejected) to the series or one of its episodes."""
        return self.list_reviews(series_id=series_id)

    def reviews_needing_link(self, linker_version: str, *, limit: int) -> list[ReviewRecord]:
        """Reviews never linked, or last linked by another linker version; by id."""
        with self._read("finding reviews to link") as session:
            return _reviews.needing_link(session.connection(), linker_version, limit)

    def claim_reviews_needing_link(
        self,
        linker_version: str,
        *,
        limit: int,
        now: datetime,
        owner: str,
        lease_seconds: float,
    ) -> list[ReviewRecord]:
        """Like ``reviews_needing_link``, each review leased to ``owner`` until it is
        linked (``replace_links`` ends the lease) or the lease runs out."""
        until = now + timedelta(seconds=lease_seconds)
        with self._write("claiming reviews to link") as session:
            return _reviews.claim_needing_link(
                session.connection(), linker_version, limit, now=now, owner=owner, until=until
            )

    def review_count(self) -> int:
        with self._read("counting reviews") as session:
            return _reviews.count(session.connection())

    # --- links ---------------------------------------------------------------------

    def replace_links(
        self,
        review_id: int,
        proposals: Sequence[LinkProposal],
        *,
        linker_version: str,
        now: datetime,
    ) -> list[LinkRecord]:
        """Put the linker's proposals in place of the review's auto links, in one
        transaction, and mark the review linked by ``linker_version``.

        Confirmed and manual links stay (a proposal for them refreshes only score and
        evidence); a rejected one stays and drops its proposal; so do proposals for
        series or episodes deleted meanwhile; of two for one target the best scored
        wins. Returns the review's links, rejected left out. ValueError for a score
        outside [0, 1] or an episode proposed under another series.
        """
        with self._write(f"storing links of review {review_id}") as session:
            return _links.replace(
                session.connection(),
                review_id,
                proposals,
                linker_version=linker_version,
                now=now,
            )

    def list_links(
        self,
        *,
        review_id: int | None = None,
        series_id: int | None = None,
        episode_id: int | None = None,
        include_rejected: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[LinkRecord]:
        """Links with both ends described, by review (newest published first, then
        id), the series-level link before episode links, then best score first.

        ``feed_url`` is the feed's current URL. NotFoundError when a filter names a
        review, series or episode that does not exist.
        """
        with self._read("listing links") as session:
            return _links.list_page(
                session.connection(),
                review_id=review_id,
                series_id=series_id,
                episode_id=episode_id,
                include_rejected=include_rejected,
                limit=limit,
                offset=offset,
            )

    def set_link_status(self, link_id: int, status: LinkStatus, now: datetime) -> LinkRecord:
        """Record a person's decision (confirm, reject). NotFoundError for no such link."""
        with self._write(f"setting the status of link {link_id}") as session:
            connection = session.connection()
            _links.set_status(connection, link_id, status, now)
            return _links.get(connection, link_id)

    def add_link(
        self,
        review_id: int,
        series_id: int,
        episode_id: int | None,
        relation: Relation,
        now: datetime,
    ) -> LinkRecord:
        """Link a review by hand (status manual, score 1, evidence "manual").

        The linker's link (or a rejected one) for the same target becomes this manual
        link; one already confirmed or manual only takes the relation. NotFoundError
        for an unknown review or series, or an episode not of that series.
        """
        doing = f"adding a link from review {review_id} to series {series_id}"
        with self._write(doing) as session:
            connection = session.connection()
            link_id = _links.add(connection, review_id, series_id, episode_id, relation, now)
            return _links.get(connection, link_id)

    def link_counts(self) -> dict[str, int]:
        """Links not rejected, per relation value (every relation present)."""
        with self._read("counting links") as session:
            return _links.counts_by_relation(session.connection())

    # --- the linker's view -------------------------------------------------------

    def catalog(self, series_ids: Collection[int] | None = None) -> list[CatalogSeries]:
        """Every series (or those in ``series_ids``; unknown ids skipped) with all
        its episodes, missing ones included, descriptions as plain text; by id."""
        with self._read("reading the catalog") as session:
            return _catalog.load(session.connection(), series_ids)

    def with_catalog(self, use: Callable[[Iterator[CatalogSeries]], _T]) -> _T:
        """``use(series)`` over the whole catalog, streamed one series at a time in
        one read transaction: building the linker's index from it never holds every
        series' values at once (about 2 KB per episode at 100k episodes)."""
        with self._read("reading the catalog") as session:
            return use(_catalog.stream(session.connection(), None))

    # --- combined feeds (aggregator.syndicate) -------------------------------------

    def series_change_times(self) -> dict[int, datetime | None]:
        """Every series' last change (itself or its episodes), by id: what a linker's
        catalog must reload to match the database, whoever stored the change."""
        with self._read("reading series change times") as session:
            return _series.change_times(session.connection())

    def feed_version(self, *, series_id: int | None = None, reviews: bool = False) -> FeedVersion:
        """The version of a series feed (``reviews`` False), or of the reviews feed
        (of one series, or of all): cheap, to answer a conditional request.
        NotFoundError for an unknown series."""
        with self._read("reading a feed version") as session:
            connection = session.connection()
            if reviews:
                return _feed_queries.reviews_version(connection, series_id)
            if series_id is None:
                raise ValueError("a series feed needs a series id")
            return _feed_queries.series_version(connection, series_id)

    def series_feed_rows(self, series_id: int) -> SeriesFeedRows:
        """The series' episodes still in its feed, newest first, with their authors,
        and its owner (which the records leave out). NotFoundError for no series."""
        with self._read(f"reading the feed of series {series_id}") as session:
            return _feed_queries.series_feed_rows(session.connection(), series_id)

    def reviews_for_feed(self, *, series_id: int | None, limit: int) -> ReviewsForFeed:
        """The newest ``limit`` reviews with a link (not rejected), to the series if
        given, with those links and the episodes they name."""
        with self._read("reading reviews for a feed") as session:
            return _feed_queries.reviews_for_feed(session.connection(), series_id, limit)

    # --- pages and searches for the HTTP API (see _queries and _search) --------------

    def ping(self) -> None:
        """One round trip to the database; StorageError when it does not answer."""
        with self._read("checking the database") as session:
            session.connection().exec_driver_sql("SELECT 1")

    def stats(self) -> StoreStats:
        """Feeds per status, series, episodes, reviews, links per relation."""
        with self._read("counting the store") as session:
            return _queries.stats(session.connection())

    def series_page(self, *, limit: int | None = None, offset: int = 0) -> list[SeriesRow]:
        """Series by title, each with its episode count and linked-review count."""
        with self._read("listing series") as session:
            return _queries.series_page(session.connection(), limit=limit, offset=offset)

    def series_row(self, series_id: int) -> SeriesRow:
        with self._read(f"reading series {series_id}") as session:
            return _queries.series_row(session, series_id)

    def episodes_page(
        self,
        *,
        series_id: int | None = None,
        reviewed: bool | None = None,
        published_after: datetime | None = None,
        published_before: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[EpisodeRow]:
        """Episodes newest first, each with its review count; see ``_queries``."""
        with self._read("listing episodes") as session:
            return _queries.episodes_page(
                session.connection(),
                series_id=series_id,
                reviewed=reviewed,
                published_after=published_after,
                published_before=published_before,
                limit=limit,
                offset=offset,
            )

    def episode_row(self, episode_id: int) -> EpisodeRow:
        with self._read(f"reading episode {episode_id}") as session:
            return _queries.episode_row(session.connection(), episode_id)

    def reviews_page(
        self,
        *,
        series_id: int | None = None,
        episode_id: int | None = None,
        person: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ReviewSummary]:
        """Review summaries newest first; filters as in ``_review_queries.reviews_page``.

        InputError when ``person`` has no words.
        """
        with self._read("listing reviews") as session:
            return _review_queries.reviews_page(
                session.connection(),
                series_id=series_id,
                episode_id=episode_id,
                person=person,
                limit=limit,
                offset=offset,
            )

    def search_episodes(
        self,
        query: str,
        *,
        series_id: int | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[EpisodeRow]:
        """Episodes having every word of ``query``, best first (see ``_search``).

        InputError when the query has no words (or too many).
        """
        with self._read("searching episodes") as session:
            return _queries.search_episodes(
                session.connection(), query, series_id=series_id, limit=limit, offset=offset
            )

    def search_reviews(
        self, query: str, *, limit: int | None = None, offset: int = 0
    ) -> list[ReviewSummary]:
        """Reviews having every word of ``query``, best first (see ``_search``)."""
        with self._read("searching reviews") as session:
            return _review_queries.search_reviews(
                session.connection(), query, limit=limit, offset=offset
            )

    def links_page(
        self,
        *,
        review_id: int | None = None,
        series_id: int | None = None,
        episode_id: int | None = None,
        include_rejected: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[LinkRecord]:
        """What ``list_links`` returns, in its order; faster on unfiltered pages."""
        with self._read("listing links") as session:
            return _queries.links_page(
                session.connection(),
                review_id=review_id,
                series_id=series_id,
                episode_id=episode_id,
                include_rejected=include_rejected,
                limit=limit,
                offset=offset,
            )

    def get_link(self, link_id: int) -> LinkRecord:
        with self._read(f"reading link {link_id}") as session:
            return _queries.get_link(session.connection(), link_id)

    def add_api_feed(self, url: str, kind: FeedKind, now: datetime) -> FeedRecord:
        """Add a feed as ``add_feed`` does, marked as added through the HTTP API.

        The poller must fetch such a feed with the API's restrictions (see
        ``api_feed_ids``). AlreadyExistsError if its URL is known.
        """
        with self._write(f"adding feed {url}") as session:
            return _queries.add_api_feed(session, url, kind, now)

    def api_feed_ids(self, feed_ids: Collection[int] | None = None) -> set[int]:
        """Which of ``feed_ids`` (default: all feeds) were added through the HTTP API."""
        with self._read("finding feeds added through the API") as session:
            return _queries.api_feed_ids(session.connection(), feed_ids)
