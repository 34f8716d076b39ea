"""The combined feeds' rows and versions (``aggregator.syndicate``).

Two jobs. First, a feed's *version*: a few aggregates (counts, sums of ids, latest
change times) over the rows a combined feed shows, cheap enough to answer a
conditional request with 304 without reading the episodes themselves (a podcast app
asks again every few minutes; a 3,000-episode series must not be read each time).
Second, the rows the
feeds show, read as the generic listings cannot: a series' present episodes with
their authors and its owner (not in ``EpisodeRecord``/``SeriesRecord``), and the
reviews feed's reviews, links and episodes in three queries.

A version only has to change whenever the feed could have: a spurious change costs
a client one full download, a missed one would keep it on stale content. Counts with
sums of ids notice rows that came and went (a deleted link leaves no change time
behind); latest change times notice rows rewritten in place (two writes at the very
same clock reading, microseconds apart at most, would look like one). A state the
feed was in before gives the version it had then: equal versions, equal feeds.

``last_modified`` may step back when a review is deleted (its time goes with it);
the token still changes, and If-None-Match decides over If-Modified-Since.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    FromClause,
    Select,
    Subquery,
    case,
    func,
    null,
    or_,
    select,
    true,
)

from aggregator.exceptions import SeriesNotFound
from aggregator.storage import _episodes, _links, _reviews, _series
from aggregator.storage._base import StorageBase
from aggregator.storage._links import NOT_REJECTED
from aggregator.storage._models import EPISODE, FEED, LINK, REVIEW, SERIES
from aggregator.storage._sql import in_lists, require
from aggregator.types import EpisodeRecord, LinkRecord, ReviewRecord, SeriesRecord


@dataclass(frozen=True, slots=True)
class FeedVersion:
    """What a combined feed was made from, in brief.

    ``token`` changes whenever anything the feed shows may have changed;
    ``last_modified`` is the latest change time among those rows (None for an empty
    store). A deleted review leaves no time behind: only ``token`` sees it.
    """

    token: str
    last_modified: datetime | None


@dataclass(frozen=True, slots=True)
class SeriesFeedRows:
    """One page of the episodes a series feed shows (those still in the source feed,
    newest first), the fields it carries that the records leave out, and the links
    (not rejected) to the series as a whole or to those episodes, with their reviews
    (``FEED_REVIEW_CHARS`` of their text)."""

    series: SeriesRecord
    episodes: tuple[EpisodeRecord, ...]
    owner_name: str | None
    owner_email: str | None
    episode_authors: Mapping[int, str]  # episode id -> itunes:author, when it has one
    links: tuple[LinkRecord, ...] = ()
    reviews: Mapping[int, ReviewRecord] = field(default_factory=dict)
    more: bool = False  # whether older episodes follow on a next page


@dataclass(frozen=True, slots=True)
class ReviewsForFeed:
    """A page of the linked reviews, newest first, their links (not rejected), and the
    episodes and series those links name (the series asked for among them)."""

    reviews: tuple[ReviewRecord, ...]
    links: tuple[LinkRecord, ...]
    episodes: Mapping[int, EpisodeRecord]
    series: Mapping[int, SeriesRecord]
    more: bool = False  # whether older reviews follow on a next page


class CombinedFeedStore(StorageBase):
    """What the combined feeds show, and their versions."""

    def feed_version(self, *, series_id: int | None = None, reviews: bool = False) -> FeedVersion:
        """The version of a series feed (``reviews`` False), or of the reviews feed
        (of one series, or of all): cheap, to answer a conditional request.
        NotFoundError for an unknown series."""
        with self._read("reading a feed version") as session:
            connection = session.connection()
            if reviews:
                return _reviews_version(connection, series_id)
            if series_id is None:
                raise ValueError("a series feed needs a series id")
            return _series_version(connection, series_id)

    def series_feed_rows(self, series_id: int, *, limit: int, offset: int = 0) -> SeriesFeedRows:
        """A page of the series' episodes still in its feed, newest first, with their
        authors, its owner (which the records leave out), and the links and reviews
        the page shows. NotFoundError for no series."""
        with self._read(f"reading the feed of series {series_id}") as session:
            return _series_feed_rows(session.connection(), series_id, limit, offset)

    def reviews_for_feed(
        self, *, series_id: int | None, limit: int, offset: int = 0
    ) -> ReviewsForFeed:
        """A page of the reviews with a link (not rejected), to the series if given,
        newest first: ``limit`` of them from ``offset`` on, with those links and the
        episodes they name, and whether more follow."""
        with self._read("reading reviews for a feed") as session:
            return _reviews_for_feed(session.connection(), series_id, limit, offset)


def _token(parts: Collection[Any]) -> str:
    return hashlib.sha256(repr(tuple(parts)).encode()).hexdigest()[:32]


def _latest(*times: datetime | None) -> datetime | None:
    return max((t for t in times if t is not None), default=None)


def _one_row(connection: Connection, *parts: Subquery) -> tuple[Any, ...] | None:
    """One-row aggregates read as one statement: a conditional request costs one round
    trip to the database, and each table is scanned once. None if a part is empty."""
    joined: FromClause = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, true())
    row = connection.execute(select(*parts).select_from(joined)).first()
    return None if row is None else tuple(row)


def _relinked_at() -> Subquery:
    """When any review was last linked: re-linking may delete a link to any series,
    and a deleted link leaves no change time of its own."""
    return select(func.max(REVIEW.c.linked_at).label("relinked")).subquery()


def _series_version(connection: Connection, series_id: int) -> FeedVersion:
    of_series = EPISODE.c.series_id == series_id
    present = EPISODE.c.missing_since.is_(None)
    linked = LINK.c.series_id == series_id
    series = (
        select(SERIES.c.updated_at, FEED.c.url)
        .join(FEED, FEED.c.id == SERIES.c.feed_id)
        .where(SERIES.c.id == series_id)
        .subquery()
    )
    episodes = select(
        func.count().label("episodes"),
        func.sum(case((present, EPISODE.c.id), else_=0)).label("present_ids"),
        func.max(EPISODE.c.updated_at).label("episode_updated"),
        func.max(EPISODE.c.missing_since).label("missing_since"),
    ).where(of_series)
    links = select(
        func.count().label("links"),
        func.sum(LINK.c.id).label("link_ids"),
        func.max(LINK.c.updated_at).label("link_updated"),
    ).where(linked)
    reviews = select(
        func.count().label("reviews"), func.max(REVIEW.c.updated_at).label("review_updated")
    ).where(REVIEW.c.id.in_(select(LINK.c.review_id).where(linked)))
    row = _one_row(
        connection,
        series,
        episodes.subquery(),
        links.subquery(),
        reviews.subquery(),
        _relinked_at(),
    )
    if row is None:
        raise SeriesNotFound(f"no series with id {series_id}")
    times = (row[0], row[4], row[5], row[8], row[10], row[11])
    return FeedVersion(token=_token(("series", series_id, *row)), last_modified=_latest(*times))


def _reviews_version(connection: Connection, series_id: int | None) -> FeedVersion:
    if series_id is not None:
        require(connection, SERIES, series_id, SeriesNotFound)
    # Rejected links are counted too: a rejection takes a review out of the feed.
    scope = [] if series_id is None else [LINK.c.series_id == series_id]
    shown = [NOT_REJECTED, *scope]
    links = select(
        func.count().label("links"),
        func.sum(LINK.c.id).label("link_ids"),
        func.max(LINK.c.updated_at).label("link_updated"),
    ).where(*scope)
    reviews = select(
        func.count().label("reviews"),
        func.sum(REVIEW.c.id).label("review_ids"),
        func.max(REVIEW.c.updated_at).label("review_updated"),
    ).where(REVIEW.c.id.in_(select(LINK.c.review_id).where(*shown)))
    episodes = select(func.max(EPISODE.c.updated_at).label("episode_updated")).where(
        EPISODE.c.id.in_(select(LINK.c.episode_id).where(*shown))
    )
    series = select(func.max(SERIES.c.updated_at).label("series_updated")).where(
        SERIES.c.id.in_(select(LINK.c.series_id).where(*shown))
    )
    row = _one_row(
        connection,
        links.subquery(),
        reviews.subquery(),
        episodes.subquery(),
        series.subquery(),
        _relinked_at(),
    )
    assert row is not None  # aggregates without GROUP BY always give one row
    times = (row[2], row[5], row[6], row[7], row[8])
    return FeedVersion(token=_token(("reviews", series_id, *row)), last_modified=_latest(*times))


# What ``_episodes.to_record`` reads, plus the author: not the plain-text copy of the
# description, nor the hashes, which a feed never shows (on PostgreSQL, reading
# every column of 3,000 episodes took a third longer).
_FEED_COLUMNS = [
    EPISODE.c[name]
    for name in (
        "id", "series_id", "guid", "title", "description", "link", "published",
        "enclosure_url", "enclosure_type", "enclosure_length", "duration_seconds",
        "season", "number", "episode_type", "image", "transcript_url", "chapters_url",
        "persons", "missing_since", "author",
    )
]  # fmt: skip


def _series_feed_rows(
    connection: Connection, series_id: int, limit: int, offset: int = 0
) -> SeriesFeedRows:
    """The page of ``limit`` episodes from ``offset`` on, with what the feed shows."""
    found = _series.records_by_id(connection, [series_id])
    if not found:
        raise SeriesNotFound(f"no series with id {series_id}")
    owner = connection.execute(
        select(SERIES.c.owner_name, SERIES.c.owner_email).where(SERIES.c.id == series_id)
    ).one()
    # The listing's order: newest published first, undated last, then by id.
    page = (
        select(*_FEED_COLUMNS)
        .where(EPISODE.c.series_id == series_id, EPISODE.c.missing_since.is_(None))
        .order_by(EPISODE.c.published.desc().nulls_last(), EPISODE.c.id)
        .offset(offset)
    )
    # One row more than the page says whether another page follows.
    rows = connection.execute(page.limit(limit + 1)).all()
    on_page = select(page.limit(limit).subquery().c.id)
    in_series = LINK.c.series_id == series_id
    on_series_or_page = or_(LINK.c.episode_id.is_(None), LINK.c.episode_id.in_(on_page))
    links = tuple(_links.read(connection, in_series, NOT_REJECTED, on_series_or_page))
    reviews = _feed_reviews(connection, {link.review_id for link in links})
    return SeriesFeedRows(
        series=found[series_id],
        episodes=tuple(_episodes.to_record(row) for row in rows[:limit]),
        owner_name=owner.owner_name,
        owner_email=owner.owner_email,
        episode_authors={row.id: row.author for row in rows[:limit] if row.author is not None},
        links=links,
        reviews={review.id: review for review in reviews},
        more=len(rows) > limit,
    )


# Characters of a review's text read for a feed. A feed quotes 300 characters around
# the linker's evidence, which lies this far in for any review we have seen; a review
# of megabytes (a page is allowed 5 MiB) must not be read whole for every request.
FEED_REVIEW_CHARS = 65_536


def _feed_review_query() -> Select[Any]:
    """Reviews as a feed shows them: the start of the text, without the HTML and the
    hyperlinks (which only the linker reads)."""
    kept = [c for c in REVIEW.c if c.name not in ("text", "html", "links")]
    return select(
        *kept,
        func.substr(REVIEW.c.text, 1, FEED_REVIEW_CHARS).label("text"),
        null().label("html"),
        null().label("links"),
    )


def _feed_reviews(connection: Connection, ids: Collection[int]) -> list[ReviewRecord]:
    found: list[ReviewRecord] = []
    for chunk in in_lists(sorted(ids)):
        rows = connection.execute(_feed_review_query().where(REVIEW.c.id.in_(chunk)))
        found.extend(_reviews.to_record(row) for row in rows)
    return found


def _reviews_for_feed(
    connection: Connection, series_id: int | None, limit: int, offset: int = 0
) -> ReviewsForFeed:
    """The page of ``limit`` linked reviews from ``offset`` on, with what the feed shows."""
    link_filter = [NOT_REJECTED]
    if series_id is not None:
        require(connection, SERIES, series_id, SeriesNotFound)
        link_filter.append(LINK.c.series_id == series_id)
    query = (
        _feed_review_query()
        .where(REVIEW.c.id.in_(select(LINK.c.review_id).where(*link_filter)))
        .order_by(REVIEW.c.published.desc().nulls_last(), REVIEW.c.id.desc())
        .offset(offset)
        .limit(limit + 1)  # one more than the page says whether another page follows
    )
    page = connection.execute(query).all()
    reviews = tuple(_reviews.to_record(row) for row in page[:limit])
    # A page may hold up to 100,000 reviews (http.feed_max_items): ids go in IN lists
    # of a bounded size.
    links: list[LinkRecord] = []
    for ids in in_lists([r.id for r in reviews]):
        links.extend(_links.read(connection, LINK.c.review_id.in_(ids), *link_filter))
    episode_ids = {x.episode_id for x in links if x.episode_id is not None}
    episodes = _episodes.records_by_id(connection, episode_ids)
    series_ids = {link.series_id for link in links} | ({series_id} if series_id else set())
    series = _series.records_by_id(connection, series_ids)
    return ReviewsForFeed(
        reviews=reviews,
        links=tuple(links),
        episodes=episodes,
        series=series,
        more=len(page) > limit,
    )
