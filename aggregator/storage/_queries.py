"""Read-side queries for the HTTP API and pages: pages of rows with review counts,
review summaries, reviews that name a person, full-text search, and the feeds that
the API added.

Every list is one page (``limit``/``offset``) in a stable order, and counts are
taken for the rows of that page only, so a page costs the same with 100 or 100,000
episodes in the store (``bench/api.py``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Text, cast, exists, func, literal, or_, select
from sqlmodel import Session

from aggregator.exceptions import NotFoundError
from aggregator.storage import _episodes, _feeds, _links, _search, _series
from aggregator.storage._models import EPISODE, FEED, LINK, REVIEW, SERIES
from aggregator.types import (
    EpisodeRecord,
    FeedKind,
    FeedRecord,
    FeedStatus,
    LinkRecord,
    LinkStatus,
    SeriesRecord,
)

# How much of a review's text a summary carries.
EXCERPT_CHARS = 300

# feed.added_via for feeds added through the HTTP API.
ADDED_VIA_API = "api"

# Evidence kinds that name a person (see types.Evidence).
PERSON_KINDS = frozenset({"person", "guest"})

# Ids are ordered in batches this size: well under SQLite's limit on bound parameters.
_ID_BATCH = 1000

_NOT_REJECTED = LINK.c.status != LinkStatus.REJECTED.value


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
    excerpt: str  # the first EXCERPT_CHARS characters of the text
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


def _require(connection: Connection, table: Any, row_id: int, noun: str) -> None:
    if connection.execute(select(table.c.id).where(table.c.id == row_id)).first() is None:
        raise NotFoundError(f"no {noun} with id {row_id}")


def _page(query: Any, limit: int | None, offset: int) -> Any:
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return query


def _newest_first(
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
        connection.execute(_page(dated.order_by(published.desc(), *tiebreak), limit, offset))
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
    rows.extend(connection.execute(_page(undated, rest, max(0, offset - n_dated))))
    return rows


def _batches(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), _ID_BATCH):
        yield ids[start : start + _ID_BATCH]


def _in_order(ids: Sequence[int], rows: dict[int, Any]) -> list[Any]:
    return [rows[i] for i in ids if i in rows]


# --- series --------------------------------------------------------------------------


def _series_review_counts(connection: Connection, series_ids: Collection[int]) -> dict[int, int]:
    if not series_ids:
        return {}
    query = (
        select(LINK.c.series_id, func.count(LINK.c.review_id.distinct()))
        .where(LINK.c.series_id.in_(series_ids), _NOT_REJECTED)
        .group_by(LINK.c.series_id)
    )
    return {int(s): int(n) for s, n in connection.execute(query)}


def _episode_counts(connection: Connection, series_ids: Collection[int]) -> dict[int, int]:
    if not series_ids:
        return {}
    query = (
        select(EPISODE.c.series_id, func.count())
        .where(EPISODE.c.series_id.in_(series_ids))
        .group_by(EPISODE.c.series_id)
    )
    return {int(s): int(n) for s, n in connection.execute(query)}


def series_page(connection: Connection, *, limit: int | None, offset: int) -> list[SeriesRow]:
    """Series by title (case-insensitive), then id, with episode and review counts."""
    query = (
        select(SERIES, FEED.c.url.label("feed_url"), literal(0).label("n"))
        .join(FEED, FEED.c.id == SERIES.c.feed_id)
        .order_by(func.lower(SERIES.c.title), SERIES.c.id)
    )
    records = [_series._to_record(r) for r in connection.execute(_page(query, limit, offset))]
    ids = [s.id for s in records]
    episodes = _episode_counts(connection, ids)
    reviews = _series_review_counts(connection, ids)
    return [
        SeriesRow(replace(s, episode_count=episodes.get(s.id, 0)), reviews.get(s.id, 0))
        for s in records
    ]


def series_row(session: Session, series_id: int) -> SeriesRow:
    record = _series.get(session, series_id)
    counts = _series_review_counts(session.connection(), [series_id])
    return SeriesRow(record, counts.get(series_id, 0))


# --- episodes ------------------------------------------------------------------------


def _episode_review_counts(connection: Connection, episode_ids: Collection[int]) -> dict[int, int]:
    if not episode_ids:
        return {}
    query = (
        select(LINK.c.episode_id, func.count(LINK.c.review_id.distinct()))
        .where(LINK.c.episode_id.in_(episode_ids), _NOT_REJECTED)
        .group_by(LINK.c.episode_id)
    )
    return {int(e): int(n) for e, n in connection.execute(query)}


def _with_counts(connection: Connection, records: list[EpisodeRecord]) -> list[EpisodeRow]:
    counts = _episode_review_counts(connection, [e.id for e in records])
    return [EpisodeRow(e, counts.get(e.id, 0)) for e in records]


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
        _require(connection, SERIES, series_id, "series")
        query = query.where(EPISODE.c.series_id == series_id)
    if reviewed is not None:
        linked = exists().where(LINK.c.episode_id == EPISODE.c.id, _NOT_REJECTED)
        query = query.where(linked if reviewed else ~linked)
    if published_after is not None:
        query = query.where(EPISODE.c.published >= published_after)
    if published_before is not None:
        query = query.where(EPISODE.c.published < published_before)
    rows = _newest_first(connection, query, EPISODE.c.published, [EPISODE.c.id], limit, offset)
    return _with_counts(connection, [_episodes.to_record(r) for r in rows])


def episode_row(connection: Connection, episode_id: int) -> EpisodeRow:
    row = connection.execute(select(EPISODE).where(EPISODE.c.id == episode_id)).first()
    if row is None:
        raise NotFoundError(f"no episode with id {episode_id}")
    return _with_counts(connection, [_episodes.to_record(row)])[0]


def episodes_by_ids(connection: Connection, ids: Sequence[int]) -> list[EpisodeRow]:
    """The episodes with these ids, in the order given (unknown ids skipped)."""
    found: dict[int, EpisodeRecord] = {}
    for batch in _batches(ids):
        for row in connection.execute(select(EPISODE).where(EPISODE.c.id.in_(batch))):
            found[row.id] = _episodes.to_record(row)
    return _with_counts(connection, _in_order(ids, found))


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
        _require(connection, SERIES, series_id, "series")
    ids = _search.episode_ids(connection, words, series_id=series_id, limit=limit, offset=offset)
    return episodes_by_ids(connection, ids)


# --- reviews -------------------------------------------------------------------------


def _summary_query() -> Any:
    return select(
        REVIEW.c.id,
        REVIEW.c.url,
        REVIEW.c.title,
        REVIEW.c.author,
        REVIEW.c.published,
        REVIEW.c.source,
        REVIEW.c.feed_id,
        REVIEW.c.linker_version,
        REVIEW.c.linked_at,
        REVIEW.c.created_at,
        func.substr(REVIEW.c.text, 1, EXCERPT_CHARS).label("excerpt"),
        func.length(REVIEW.c.text).label("text_length"),
    )


def _summaries(connection: Connection, rows: list[Any]) -> list[ReviewSummary]:
    ids = [r.id for r in rows]
    counts: dict[int, int] = {}
    if ids:
        query = (
            select(LINK.c.review_id, func.count())
            .where(LINK.c.review_id.in_(ids), _NOT_REJECTED)
            .group_by(LINK.c.review_id)
        )
        counts = {int(r): int(n) for r, n in connection.execute(query)}
    return [
        ReviewSummary(
            id=r.id,
            url=r.url,
            title=r.title,
            author=r.author,
            published=r.published,
            source=r.source,
            feed_id=r.feed_id,
            linker_version=r.linker_version,
            linked_at=r.linked_at,
            created_at=r.created_at,
            excerpt=r.excerpt or "",
            text_length=int(r.text_length or 0),
            link_count=counts.get(r.id, 0),
        )
        for r in rows
    ]


def reviews_page(
    connection: Connection,
    *,
    series_id: int | None = None,
    episode_id: int | None = None,
    person: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ReviewSummary]:
    """Review summaries newest published first (undated last, then by id).

    ``series_id``/``episode_id`` keep reviews with a link (not rejected) to that
    series (or any of its episodes) or episode, NotFoundError if there is none;
    ``person`` keeps reviews that name that person (see ``reviews_naming``).
    """
    query = _summary_query()
    if series_id is not None or episode_id is not None:
        # IN, not EXISTS: a series has few reviews, found by the link's index; with
        # EXISTS, SQLite walked every review newest first to find them (7 ms, 10k).
        linked = select(LINK.c.review_id).where(_NOT_REJECTED)
        if series_id is not None:
            _require(connection, SERIES, series_id, "series")
            linked = linked.where(LINK.c.series_id == series_id)
        if episode_id is not None:
            _require(connection, EPISODE, episode_id, "episode")
            linked = linked.where(LINK.c.episode_id == episode_id)
        query = query.where(REVIEW.c.id.in_(linked))
    if person is None:
        rows = _newest_first(connection, query, REVIEW.c.published, [REVIEW.c.id], limit, offset)
        return _summaries(connection, rows)
    # The person's reviews are few; order them here, then read one page of them.
    named = sorted(reviews_naming(connection, person))
    keys: list[tuple[bool, float, int]] = []
    for batch in _batches(named):
        for row in connection.execute(query.where(REVIEW.c.id.in_(batch))):
            stamp = row.published.timestamp() if row.published is not None else 0.0
            keys.append((row.published is None, -stamp, row.id))
    keys.sort()
    end = None if limit is None else offset + limit
    page_ids = [k[2] for k in keys[offset:end]]
    return reviews_by_ids(connection, page_ids)


def reviews_by_ids(connection: Connection, ids: Sequence[int]) -> list[ReviewSummary]:
    """Summaries of the reviews with these ids, in the order given (unknown ids skipped)."""
    found: dict[int, Any] = {}
    for batch in _batches(ids):
        for row in connection.execute(_summary_query().where(REVIEW.c.id.in_(batch))):
            found[row.id] = row
    return _summaries(connection, _in_order(ids, found))


def search_reviews(
    connection: Connection, query: str, *, limit: int | None, offset: int
) -> list[ReviewSummary]:
    words = _search.search_words(query)
    ids = _search.review_ids(connection, words, limit=limit, offset=offset)
    return reviews_by_ids(connection, ids)


_SPACE = re.compile(r"\s+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]{3,}")


def _folded(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def reviews_naming(connection: Connection, person: str) -> set[int]:
    """Ids of the reviews that name ``person``: a link's evidence of kind person or
    guest whose text or detail contains the name (the linker matched it, however the
    review spelled it), or the name as a phrase in the review's title or text."""
    words = _search.search_words(person)
    name = _folded(" ".join(person.split()))
    found = set(_search.review_ids(connection, words, phrase=True))

    evidence = cast(LINK.c.evidence, Text)
    kinds = or_(*(evidence.like(f'%"{kind}"%') for kind in sorted(PERSON_KINDS)))
    query = select(LINK.c.review_id, LINK.c.evidence).where(_NOT_REJECTED, kinds)
    # A cheap first cut on the longest ASCII word of the name: JSON on SQLite may
    # escape other characters, so only those are sure to appear as typed.
    ascii_words = _ASCII_WORD.findall(person)
    if ascii_words:
        needle = max(ascii_words, key=len)
        query = query.where(_contains(evidence, needle))
    for review_id, items in connection.execute(query):
        if review_id in found:
            continue
        for item in items or ():
            if item.get("kind") in PERSON_KINDS and (
                name in _folded(str(item.get("text", "")))
                or name in _folded(str(item.get("detail", "")))
            ):
                found.add(int(review_id))
                break
    return found


def _contains(column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


# --- feeds added through the API -------------------------------------------------------


def add_api_feed(session: Session, url: str, kind: FeedKind, now: datetime) -> FeedRecord:
    """Add a feed marked as added through the API, in the same transaction: the
    scheduler never sees it without its mark."""
    row = _feeds.add(session, url, kind, now)
    row.added_via = ADDED_VIA_API
    session.add(row)
    session.flush()
    return _feeds.to_record(row)


def api_feed_ids(connection: Connection, feed_ids: Collection[int] | None = None) -> set[int]:
    query = select(FEED.c.id).where(FEED.c.added_via == ADDED_VIA_API)
    if feed_ids is not None:
        if not feed_ids:
            return set()
        query = query.where(FEED.c.id.in_(list(feed_ids)))
    return {int(i) for i in connection.execute(query).scalars()}


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
    """``Storage.list_links``, in its order, read faster when no filter narrows it:
    the page's ids first, walking reviews newest first by their index (the full
    query let SQLite sort every link: 60 ms for 6,000 links), then their records."""
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
        query = query.where(_NOT_REJECTED)
    order = [REVIEW.c.id, LINK.c.episode_key != 0, LINK.c.score.desc(), LINK.c.id]
    ids = [
        row.id for row in _newest_first(connection, query, REVIEW.c.published, order, limit, offset)
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
