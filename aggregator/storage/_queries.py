"""Read-side queries for the HTTP API and pages: pages of series, episodes and links
with review counts, episode search, the feeds that the API added, store totals;
the records they return (reviews: ``_review_queries``).

Every list is one page (``limit``/``offset``) in a stable order, and counts are
taken for the rows of that page only, so a page costs the same with 100 or 100,000
episodes in the store (``bench/api.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, literal, select

from aggregator.exceptions import EpisodeNotFound, NotFoundError, SeriesNotFound
from aggregator.storage import _episodes, _links, _search, _series
from aggregator.storage._models import EPISODE, FEED, LINK, REVIEW, SERIES
from aggregator.storage._sql import in_lists
from aggregator.types import (
    EpisodeRecord,
    FeedStatus,
    LinkRecord,
    LinkStatus,
    SeriesRecord,
)

NOT_REJECTED = LINK.c.status != LinkStatus.REJECTED.value


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """A series with the number of reviews linked to it or to one of its episodes."""

    series: SeriesRecord
    review_count: int


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    """An episode with the number of reviews linked to it (rejected links left out)."""

    episode: EpisodeRecord
    review_count: int


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    """A review without its full text: what a list of reviews shows."""

    id: int
    url: str | None
    title: str | None
    author: str | None
    published: datetime | None
    source: str
    feed_id: int | None
    linker_version: str | None
    linked_at: datetime | None
    created_at: datetime | None
    excerpt: str  # the first characters of the text (_review_queries.EXCERPT_CHARS)
    text_length: int
    link_count: int  # links not rejected


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Totals for /metrics."""

    feeds_by_status: dict[str, int]
    series: int
    episodes: int
    reviews: int
    links_by_relation: dict[str, int]


# --- helpers -----------------------------------------------------------------------


def require(connection: Connection, table: Any, row_id: int, missing: type[NotFoundError]) -> None:
    if connection.execute(select(table.c.id).where(table.c.id == row_id)).first() is None:
        raise missing(f"no {missing.noun} with id {row_id}")


def page(query: Any, limit: int | None, offset: int) -> Any:
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return query


def newest_first(
    connection: Connection,
    query: Any,
    published: Any,
    tiebreak: Sequence[Any],
    limit: int | None,
    offset: int,
) -> list[Any]:
    """One page of ``query``: newest ``published`` first, undated last, then ``tiebreak``.

    Read as two runs, dated rows by a plain ``ORDER BY published DESC`` and then the
    undated ones, rather than one ``ORDER BY published DESC NULLS LAST``: PostgreSQL
    cannot serve that from an ascending index, and sorted the whole table for it
    (bench/api.py); a backward scan serves the plain order on both backends.
    """
    dated = query.where(published.is_not(None))
    rows = list(
        connection.execute(page(dated.order_by(published.desc(), *tiebreak), limit, offset))
    )
    if limit is not None and len(rows) == limit:
        return rows
    if rows or offset == 0:
        n_dated = offset + len(rows)
    else:  # the page starts past the dated rows: how far past?
        n_dated = connection.execute(
            select(func.count()).select_from(dated.order_by(None).subquery())
        ).scalar_one()
    undated = query.where(published.is_(None)).order_by(*tiebreak)
    rest = None if limit is None else limit - len(rows)
    rows.extend(connection.execute(page(undated, rest, max(0, offset - n_dated))))
    return rows


def in_order(ids: Sequence[int], rows: dict[int, Any]) -> list[Any]:
    return [rows[i] for i in ids if i in rows]


def counts(
    connection: Connection,
    key: Any,
    values: Collection[int],
    *where: Any,
    counted: Any = None,
) -> dict[int, int]:
    """How many rows (or ``counted``) have each of ``values`` as ``key``, among those
    ``where`` keeps; values without any are left out. One grouped query per IN list."""
    found: dict[int, int] = {}
    for chunk in in_lists(sorted(set(values))):
        query = (
            select(key, func.count() if counted is None else counted)
            .where(key.in_(chunk), *where)
            .group_by(key)
        )
        found.update((int(k), int(n)) for k, n in connection.execute(query))
    return found


def _distinct_reviews() -> Any:
    return func.count(LINK.c.review_id.distinct())


# --- series --------------------------------------------------------------------------


def _series_query() -> Any:
    # Episode counts are taken for the rows read only (_with_series_counts).
    return select(SERIES, FEED.c.url.label("feed_url"), literal(0).label("n")).join(
        FEED, FEED.c.id == SERIES.c.feed_id
    )


def _with_series_counts(connection: Connection, records: list[SeriesRecord]) -> list[SeriesRow]:
    ids = [s.id for s in records]
    episodes = counts(connection, EPISODE.c.series_id, ids)
    reviews = counts(connection, LINK.c.series_id, ids, NOT_REJECTED, counted=_distinct_reviews())
    return [
        SeriesRow(replace(s, episode_count=episodes.get(s.id, 0)), reviews.get(s.id, 0))
        for s in records
    ]


def series_page(connection: Connection, *, limit: int | None, offset: int) -> list[SeriesRow]:
    """Series by title (case-insensitive), then id, with episode and review counts."""
    query = _series_query().order_by(func.lower(SERIES.c.title), SERIES.c.id)
    records = [_series._to_record(r) for r in connection.execute(page(query, limit, offset))]
    return _with_series_counts(connection, records)


def series_rows_for(connection: Connection, ids: Sequence[int]) -> list[SeriesRow]:
    """The series with these ids (at most ``_batches.IN_LIST_SIZE``), in the order given, unknown
    ids skipped, with episode and review counts."""
    if not ids:
        return []
    rows = connection.execute(_series_query().where(SERIES.c.id.in_(ids)))
    found = {r.id: _series._to_record(r) for r in rows}
    return _with_series_counts(connection, in_order(ids, found))


def series_row(connection: Connection, series_id: int) -> SeriesRow:
    record = _series.get(connection, series_id)
    reviews = counts(
        connection, LINK.c.series_id, [series_id], NOT_REJECTED, counted=_distinct_reviews()
    )
    return SeriesRow(record, reviews.get(series_id, 0))


# --- episodes ------------------------------------------------------------------------


def _with_counts(connection: Connection, records: list[EpisodeRecord]) -> list[EpisodeRow]:
    ids = [e.id for e in records]
    reviews = counts(connection, LINK.c.episode_id, ids, NOT_REJECTED, counted=_distinct_reviews())
    return [EpisodeRow(e, reviews.get(e.id, 0)) for e in records]


def episodes_page(
    connection: Connection,
    *,
    series_id: int | None = None,
    reviewed: bool | None = None,
    published_after: datetime | None = None,
    published_before: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[EpisodeRow]:
    """Episodes newest first (undated last, then by id), with their review counts.

    ``reviewed`` False keeps episodes no review links to (rejected links do not
    count), True those some review does; ``published_after`` is inclusive,
    ``published_before`` exclusive (an undated episode passes neither).
    NotFoundError when ``series_id`` names no series.
    """
    query = select(EPISODE)
    if series_id is not None:
        require(connection, SERIES, series_id, SeriesNotFound)
        query = query.where(EPISODE.c.series_id == series_id)
    if reviewed is not None:
        linked = exists().where(LINK.c.episode_id == EPISODE.c.id, NOT_REJECTED)
        query = query.where(linked if reviewed else ~linked)
    if published_after is not None:
        query = query.where(EPISODE.c.published >= published_after)
    if published_before is not None:
        query = query.where(EPISODE.c.published < published_before)
    rows = newest_first(connection, query, EPISODE.c.published, [EPISODE.c.id], limit, offset)
    return _with_counts(connection, [_episodes.to_record(r) for r in rows])


def episode_row(connection: Connection, episode_id: int) -> EpisodeRow:
    row = connection.execute(select(EPISODE).where(EPISODE.c.id == episode_id)).first()
    if row is None:
        raise EpisodeNotFound(f"no episode with id {episode_id}")
    return _with_counts(connection, [_episodes.to_record(row)])[0]


def episodes_by_ids(connection: Connection, ids: Sequence[int]) -> list[EpisodeRow]:
    """The episodes with these ids, in the order given (unknown ids skipped)."""
    found: dict[int, EpisodeRecord] = {}
    for batch in in_lists(ids):
        for row in connection.execute(select(EPISODE).where(EPISODE.c.id.in_(batch))):
            found[row.id] = _episodes.to_record(row)
    return _with_counts(connection, in_order(ids, found))


def search_episodes(
    connection: Connection,
    query: str,
    *,
    series_id: int | None,
    limit: int | None,
    offset: int,
) -> list[EpisodeRow]:
    words = _search.search_words(query)
    if series_id is not None:
        require(connection, SERIES, series_id, SeriesNotFound)
    ids = _search.episode_ids(connection, words, series_id=series_id, limit=limit, offset=offset)
    return episodes_by_ids(connection, ids)


# --- links and totals ------------------------------------------------------------------


def links_page(
    connection: Connection,
    *,
    review_id: int | None = None,
    series_id: int | None = None,
    episode_id: int | None = None,
    include_rejected: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[LinkRecord]:
    """``Storage.list_links``. Unfiltered, the page's ids are read first, walking
    reviews newest first by their index, then their records: one query with the
    records let SQLite sort every link (60 ms for 6,000 links)."""
    if review_id is not None or series_id is not None or episode_id is not None:
        return _links.list_page(
            connection,
            review_id=review_id,
            series_id=series_id,
            episode_id=episode_id,
            include_rejected=include_rejected,
            limit=limit,
            offset=offset,
        )
    query = select(LINK.c.id).select_from(REVIEW).join(LINK, LINK.c.review_id == REVIEW.c.id)
    if not include_rejected:
        query = query.where(NOT_REJECTED)
    order = [REVIEW.c.id, LINK.c.episode_key != 0, LINK.c.score.desc(), LINK.c.id]
    ids = [
        row.id for row in newest_first(connection, query, REVIEW.c.published, order, limit, offset)
    ]
    if not ids:
        return []
    records = connection.execute(_links._records_query().where(LINK.c.id.in_(ids)))
    return [_links._to_record(row) for row in records]  # in the same order


def get_link(connection: Connection, link_id: int) -> LinkRecord:
    return _links.get(connection, link_id)


def stats(connection: Connection) -> StoreStats:
    by_status = dict.fromkeys((s.value for s in FeedStatus), 0)
    for status, n in connection.execute(
        select(FEED.c.status, func.count()).group_by(FEED.c.status)
    ):
        by_status[status] = int(n)

    def count(table: Any) -> int:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

    return StoreStats(
        feeds_by_status=by_status,
        series=count(SERIES),
        episodes=count(EPISODE),
        reviews=count(REVIEW),
        links_by_relation=_links.counts_by_relation(connection),
    )
