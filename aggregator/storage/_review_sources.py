"""The ways a review arrived: feed items, pages, files, stdin, the API.

Each source keeps the content hash of the copy it last brought, so a review is found
by any address it came from and by the text of any of its copies, not only by the
URL and text it holds now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, union, update

from aggregator.storage._models import REVIEW, REVIEW_SOURCE
from aggregator.types import ReviewSourceRecord


@dataclass(frozen=True, slots=True)
class Arrival:
    """Where a copy of a review came from: a source's kind and location (the item's
    link, the page's URL, the file's path, or ""), its feed, and its text's hash."""

    kind: str
    location: str
    feed_id: int | None
    content_hash: str


def review_at(connection: Connection, url: str) -> Row[Any] | None:
    """The review whose URL is ``url``, else the first one that came from it."""
    row = connection.execute(select(REVIEW).where(REVIEW.c.url == url)).first()
    if row is not None:
        return row
    came_from = (
        select(REVIEW_SOURCE.c.review_id)
        .where(REVIEW_SOURCE.c.location == url)
        .order_by(REVIEW_SOURCE.c.review_id)
        .limit(1)
        .scalar_subquery()
    )
    return connection.execute(select(REVIEW).where(REVIEW.c.id == came_from)).first()


def reviews_with_text(connection: Connection, content_hash: str) -> list[Row[Any]]:
    """The reviews holding this text, or having had it from one of their sources; by id."""
    # A UNION of two index lookups: with OR, PostgreSQL reads every review.
    ids = union(
        select(REVIEW.c.id).where(REVIEW.c.content_hash == content_hash),
        select(REVIEW_SOURCE.c.review_id).where(REVIEW_SOURCE.c.content_hash == content_hash),
    )
    query = select(REVIEW).where(REVIEW.c.id.in_(ids.scalar_subquery()))
    return list(connection.execute(query.order_by(REVIEW.c.id)))


def find(connection: Connection, review_id: int, arrival: Arrival) -> Row[Any] | None:
    """The review's source that ``arrival`` comes from again, if it is known."""
    query = select(REVIEW_SOURCE).where(
        REVIEW_SOURCE.c.review_id == review_id,
        REVIEW_SOURCE.c.kind == arrival.kind,
        REVIEW_SOURCE.c.location == arrival.location,
    )
    return connection.execute(query).first()


def record(
    connection: Connection, review_id: int, arrival: Arrival, known: Row[Any] | None, now: datetime
) -> bool:
    """Add ``arrival`` as a source of the review, or bring the known one up to date
    (the text it brought, its feed); True if the source is new."""
    if known is None:
        connection.execute(
            insert(REVIEW_SOURCE).values(
                review_id=review_id,
                kind=arrival.kind,
                location=arrival.location,
                feed_id=arrival.feed_id,
                content_hash=arrival.content_hash,
                added_at=now,
            )
        )
        return True
    changes: dict[str, Any] = {}
    if known.content_hash != arrival.content_hash:
        changes["content_hash"] = arrival.content_hash
    if arrival.feed_id is not None and known.feed_id != arrival.feed_id:
        changes["feed_id"] = arrival.feed_id
    if changes:
        connection.execute(
            update(REVIEW_SOURCE).where(REVIEW_SOURCE.c.id == known.id).values(**changes)
        )
    return False


def list_for(connection: Connection, review_id: int) -> list[ReviewSourceRecord]:
    """The review's sources, first come first."""
    query = (
        select(REVIEW_SOURCE)
        .where(REVIEW_SOURCE.c.review_id == review_id)
        .order_by(REVIEW_SOURCE.c.added_at, REVIEW_SOURCE.c.id)
    )
    return [
        ReviewSourceRecord(
            kind=row.kind, location=row.location, feed_id=row.feed_id, added_at=row.added_at
        )
        for row in connection.execute(query)
    ]
