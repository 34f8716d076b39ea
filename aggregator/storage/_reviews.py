"""Reviews: texts about podcasts, read, listed, deleted, and claimed for linking.

Saving one, once however often and however it arrives, is ``_review_save``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select, update
from sqlalchemy import delete as sa_delete

from aggregator.exceptions import ReviewNotFound
from aggregator.storage import _leases, _review_sources
from aggregator.storage._models import REVIEW
from aggregator.storage._sql import in_lists
from aggregator.types import HyperLink, ReviewRecord


def hyperlinks_to_json(links: tuple[HyperLink, ...]) -> list[dict[str, Any]]:
    return [asdict(link) for link in links]


def hyperlinks_from_json(data: list[dict[str, Any]] | None) -> tuple[HyperLink, ...]:
    return tuple(HyperLink(**item) for item in data or ())


def to_record(row: Row[Any]) -> ReviewRecord:
    return ReviewRecord(
        id=row.id,
        text=row.text,
        content_hash=row.content_hash,
        source=row.source,
        url=row.url,
        title=row.title,
        author=row.author,
        published=row.published,
        html=row.html,
        links=hyperlinks_from_json(row.links),
        feed_id=row.feed_id,
        linker_version=row.linker_version,
        linked_at=row.linked_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_row(connection: Connection, review_id: int, *, for_update: bool = False) -> Row[Any]:
    query = select(REVIEW).where(REVIEW.c.id == review_id)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise ReviewNotFound(f"no review with id {review_id}")
    return row


def get(connection: Connection, review_id: int, *, for_update: bool = False) -> ReviewRecord:
    return to_record(get_row(connection, review_id, for_update=for_update))


def find(connection: Connection, id_or_url: str) -> ReviewRecord:
    """By id (all digits), else by URL: the review's own, or one it came from."""
    key = id_or_url.strip()
    if key.isdigit():
        return get(connection, int(key))
    row = _review_sources.review_at(connection, key)
    if row is None:
        raise ReviewNotFound(f"no review with id or URL {id_or_url!r}")
    return to_record(row)


def by_ids(connection: Connection, ids: Sequence[int]) -> list[ReviewRecord]:
    """The reviews with these ids (those that exist), in the order given."""
    found: dict[int, ReviewRecord] = {}
    for chunk in in_lists(ids):
        for row in connection.execute(select(REVIEW).where(REVIEW.c.id.in_(chunk))):
            found[row.id] = to_record(row)
    return [found[i] for i in ids if i in found]


def delete(connection: Connection, review_id: int) -> None:
    # The foreign key cascades to the review's links.
    result = connection.execute(sa_delete(REVIEW).where(REVIEW.c.id == review_id))
    if result.rowcount == 0:
        raise ReviewNotFound(f"no review with id {review_id}")


def _needing_link(linker_version: str) -> Any:
    return select(REVIEW.c.id).where(
        or_(REVIEW.c.linker_version.is_(None), REVIEW.c.linker_version != linker_version)
    )


def mark_needing_link(connection: Connection, review_ids: Sequence[int]) -> None:
    connection.execute(
        update(REVIEW)
        .where(REVIEW.c.id.in_(review_ids))
        .values(linker_version=None, linked_at=None)
    )


def needing_link(connection: Connection, linker_version: str, limit: int) -> list[ReviewRecord]:
    """Reviews never linked, or linked by another linker version; oldest first."""
    ids = _needing_link(linker_version).order_by(REVIEW.c.id).limit(limit)
    query = select(REVIEW).where(REVIEW.c.id.in_(ids)).order_by(REVIEW.c.id)
    return [to_record(row) for row in connection.execute(query)]


def claim_needing_link(
    connection: Connection,
    linker_version: str,
    limit: int,
    *,
    now: datetime,
    owner: str,
    until: datetime,
    host: str | None = None,
    pid: int | None = None,
) -> list[ReviewRecord]:
    """Lease up to ``limit`` reviews needing links to ``owner`` (process ``pid`` of
    ``host``, when known); oldest first.

    Like ``LeaseStore.claim_due_feeds``: rows another instance is claiming are skipped, and a
    lease that ran out (its holder died) lets the review be claimed again.
    """
    lease = REVIEW.c.lease_until
    query = (
        _needing_link(linker_version)
        .where(or_(lease.is_(None), lease <= now))
        .order_by(REVIEW.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(connection.execute(query).scalars())
    _leases.take(connection, REVIEW, ids, owner=owner, until=until, host=host, pid=pid)
    rows = connection.execute(select(REVIEW).where(REVIEW.c.id.in_(ids)).order_by(REVIEW.c.id))
    return [to_record(row) for row in rows]


def count(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(REVIEW)).scalar_one())
