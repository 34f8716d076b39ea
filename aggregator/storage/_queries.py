"""Read-side queries for the HTTP API and pages: pages of links, store totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from aggregator.storage import _links
from aggregator.storage._links import NOT_REJECTED
from aggregator.storage._models import EPISODE, FEED, LINK, REVIEW, SERIES
from aggregator.storage._sql import newest_first
from aggregator.types import FeedStatus, LinkRecord


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
