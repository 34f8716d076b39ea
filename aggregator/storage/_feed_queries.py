"""Queries behind the combined feeds (``aggregator.syndicate``).

Two jobs. First, a feed's *version*: a few aggregates (counts, sums of ids, latest
change times) over the rows a combined feed shows, cheap enough to answer a
conditional request with 304 without reading the episodes themselves (issue 4: "a
3,000-episode series ... answered with 304 when unchanged"). Second, the rows the
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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, case, func, select

from aggregator.exceptions import NotFoundError
from aggregator.storage import _episodes, _links, _reviews
from aggregator.storage._models import EPISODE, FEED, LINK, REVIEW, SERIES
from aggregator.types import EpisodeRecord, LinkRecord, LinkStatus, ReviewRecord


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
    """The episodes a series feed shows (those still in the source feed, newest
    first) and the fields it carries that the records leave out."""

    episodes: tuple[EpisodeRecord, ...]
    owner_name: str | None
    owner_email: str | None
    episode_authors: Mapping[int, str]  # episode id -> itunes:author, when it has one


@dataclass(frozen=True, slots=True)
class ReviewsForFeed:
    """The newest linked reviews, their links (not rejected) and the linked episodes."""

    reviews: tuple[ReviewRecord, ...]
    links: tuple[LinkRecord, ...]
    episodes: Mapping[int, EpisodeRecord]


def _token(parts: Collection[Any]) -> str:
    return hashlib.sha256(repr(tuple(parts)).encode()).hexdigest()[:32]


def _latest(*times: datetime | None) -> datetime | None:
    return max((t for t in times if t is not None), default=None)


def _not_rejected() -> Any:
    return LINK.c.status != LinkStatus.REJECTED.value


def _read_all(connection: Connection, queries: Sequence[Select[Any]]) -> tuple[Any, ...]:
    """Single-value queries read as one statement of scalar subqueries: a conditional
    request costs one round trip to the database, not one per aggregate."""
    return tuple(connection.execute(select(*(q.scalar_subquery() for q in queries))).one())


def _relinked_at() -> Select[Any]:
    """When any review was last linked: re-linking may delete a link to any series,
    and a deleted link leaves no change time of its own."""
    return select(func.max(REVIEW.c.linked_at))


def series_version(connection: Connection, series_id: int) -> FeedVersion:
    of_series = EPISODE.c.series_id == series_id
    present = EPISODE.c.missing_since.is_(None)
    linked = LINK.c.series_id == series_id
    reviews_linked = REVIEW.c.id.in_(select(LINK.c.review_id).where(linked))
    row = _read_all(
        connection,
        [
            select(SERIES.c.updated_at).where(SERIES.c.id == series_id),
            select(FEED.c.url)
            .join(SERIES, SERIES.c.feed_id == FEED.c.id)
            .where(SERIES.c.id == series_id),
            select(func.count()).select_from(EPISODE).where(of_series),
            select(func.sum(case((present, EPISODE.c.id), else_=0))).where(of_series),
            select(func.max(EPISODE.c.updated_at)).where(of_series),
            select(func.max(EPISODE.c.missing_since)).where(of_series),
            select(func.count()).select_from(LINK).where(linked),
            select(func.sum(LINK.c.id)).where(linked),
            select(func.max(LINK.c.updated_at)).where(linked),
            select(func.count()).select_from(REVIEW).where(reviews_linked),
            select(func.max(REVIEW.c.updated_at)).where(reviews_linked),
            _relinked_at(),
        ],
    )
    if row[0] is None:
        raise NotFoundError(f"no series with id {series_id}")
    times = (row[0], row[4], row[5], row[8], row[10], row[11])
    return FeedVersion(token=_token(("series", series_id, *row)), last_modified=_latest(*times))


def reviews_version(connection: Connection, series_id: int | None) -> FeedVersion:
    # Rejected links are counted too: a rejection takes a review out of the feed.
    scope = [] if series_id is None else [LINK.c.series_id == series_id]
    shown = [_not_rejected(), *scope]
    reviews_linked = REVIEW.c.id.in_(select(LINK.c.review_id).where(*shown))
    row = _read_all(
        connection,
        [
            # Whether the series asked for exists (ids start at 1: 0 names none).
            select(func.count(SERIES.c.id)).where(SERIES.c.id == (series_id or 0)),
            select(func.count()).select_from(LINK).where(*scope),
            select(func.sum(LINK.c.id)).where(*scope),
            select(func.max(LINK.c.updated_at)).where(*scope),
            select(func.count()).select_from(REVIEW).where(reviews_linked),
            select(func.sum(REVIEW.c.id)).where(reviews_linked),
            select(func.max(REVIEW.c.updated_at)).where(reviews_linked),
            select(func.max(EPISODE.c.updated_at)).where(
                EPISODE.c.id.in_(select(LINK.c.episode_id).where(*shown))
            ),
            select(func.max(SERIES.c.updated_at)).where(
                SERIES.c.id.in_(select(LINK.c.series_id).where(*shown))
            ),
            _relinked_at(),
        ],
    )
    if series_id is not None and not row[0]:
        raise NotFoundError(f"no series with id {series_id}")
    times = (row[3], row[6], row[7], row[8], row[9])
    return FeedVersion(
        token=_token(("reviews", series_id, *row[1:])), last_modified=_latest(*times)
    )


def _require_series(connection: Connection, series_id: int) -> None:
    if connection.execute(select(SERIES.c.id).where(SERIES.c.id == series_id)).first() is None:
        raise NotFoundError(f"no series with id {series_id}")


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


def series_feed_rows(connection: Connection, series_id: int) -> SeriesFeedRows:
    owner = connection.execute(
        select(SERIES.c.owner_name, SERIES.c.owner_email).where(SERIES.c.id == series_id)
    ).first()
    if owner is None:
        raise NotFoundError(f"no series with id {series_id}")
    # The listing's order: newest published first, undated last, then by id.
    query = (
        select(*_FEED_COLUMNS)
        .where(EPISODE.c.series_id == series_id, EPISODE.c.missing_since.is_(None))
        .order_by(EPISODE.c.published.desc().nulls_last(), EPISODE.c.id)
    )
    rows = connection.execute(query).all()
    return SeriesFeedRows(
        episodes=tuple(_episodes.to_record(row) for row in rows),
        owner_name=owner.owner_name,
        owner_email=owner.owner_email,
        episode_authors={row.id: row.author for row in rows if row.author is not None},
    )


def reviews_for_feed(connection: Connection, series_id: int | None, limit: int) -> ReviewsForFeed:
    link_filter = [_not_rejected()]
    if series_id is not None:
        _require_series(connection, series_id)
        link_filter.append(LINK.c.series_id == series_id)
    query = (
        select(REVIEW)
        .where(REVIEW.c.id.in_(select(LINK.c.review_id).where(*link_filter)))
        .order_by(REVIEW.c.published.desc().nulls_last(), REVIEW.c.id.desc())
        .limit(limit)
    )
    reviews = tuple(_reviews.to_record(row) for row in connection.execute(query))
    if not reviews:
        return ReviewsForFeed(reviews=(), links=(), episodes={})
    ids = [r.id for r in reviews]
    # The links listing's own query and row mapping, so both describe links alike.
    query_links = _links._records_query().where(LINK.c.review_id.in_(ids), *link_filter)
    links = tuple(_links._to_record(row) for row in connection.execute(query_links))
    episode_ids = {link.episode_id for link in links if link.episode_id is not None}
    episodes: dict[int, EpisodeRecord] = {}
    if episode_ids:
        rows = connection.execute(select(EPISODE).where(EPISODE.c.id.in_(episode_ids)))
        episodes = {row.id: _episodes.to_record(row) for row in rows}
    return ReviewsForFeed(reviews=reviews, links=links, episodes=episodes)
