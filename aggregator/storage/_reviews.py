"""Reviews: texts about podcasts, saved once however often they arrive.

A review is known by its URL when it has one, else by the hash of its content. Saving
a review again updates that row in place, so its id, and the human decisions on its
links, survive: the same review added twice (a feed re-sends it, a person pastes it
again) is one review, updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, exists, func, insert, or_, select, text, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.exc import IntegrityError

from aggregator.exceptions import (
    EpisodeNotFound,
    NotFoundError,
    ReviewAlreadyExists,
    ReviewNotFound,
    SeriesNotFound,
)
from aggregator.storage._models import EPISODE, LINK, REVIEW, SERIES
from aggregator.types import HyperLink, LinkStatus, ReviewDocument, ReviewRecord

# PostgreSQL advisory lock held while a review is saved. Two instances saving the same
# review (same content, no URL) at once would otherwise both find nothing and insert
# twice: no constraint can catch that. SQLite writers queue anyway (BEGIN IMMEDIATE).
_PG_SAVE_LOCK = 0x72657677  # "revw"

# Metadata kept from the stored row when a new copy of the review lacks it (a file
# added again without --published must not lose the date it was first given).
_KEPT_WHEN_MISSING = ("url", "title", "author", "published", "feed_id")


# What the linker reads (``ReviewRecord.document()``; the date places "the last
# episode"): a change to any of them makes the review due for linking again.
_LINKED_FROM = frozenset({"text", "html", "links", "title", "url", "author", "published"})


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


def get(connection: Connection, review_id: int, *, for_update: bool = False) -> ReviewRecord:
    query = select(REVIEW).where(REVIEW.c.id == review_id)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise ReviewNotFound(f"no review with id {review_id}")
    return to_record(row)


def find(connection: Connection, id_or_url: str) -> ReviewRecord:
    key = id_or_url.strip()
    if key.isdigit():
        return get(connection, int(key))
    row = connection.execute(select(REVIEW).where(REVIEW.c.url == key)).first()
    if row is None:
        raise ReviewNotFound(f"no review with id or URL {id_or_url!r}")
    return to_record(row)


def _match(connection: Connection, url: str | None, content_hash: str) -> Row[Any] | None:
    """The stored review that ``url`` or ``content_hash`` names, if any.

    By URL first. Failing that, by content, but a review at one address never takes
    over another's: the same text at two URLs stays two reviews (each URL must find
    its own), while text first added without an address takes the URL it comes with.
    """
    if url is not None:
        row = connection.execute(select(REVIEW).where(REVIEW.c.url == url)).first()
        if row is not None:
            return row
    query = select(REVIEW).where(REVIEW.c.content_hash == content_hash)
    if url is not None:
        query = query.where(REVIEW.c.url.is_(None))
    return connection.execute(query.order_by(REVIEW.c.id).limit(1)).first()


def save(
    connection: Connection,
    document: ReviewDocument,
    *,
    content_hash: str,
    source: str,
    now: datetime,
    feed_id: int | None,
) -> tuple[ReviewRecord, bool]:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SAVE_LOCK})
    values: dict[str, Any] = {
        "url": document.url,
        "title": document.title,
        "author": document.author,
        "published": document.published,
        "text": document.text,
        "html": document.html,
        "links": hyperlinks_to_json(document.links),
        "content_hash": content_hash,
        "source": source,
        "feed_id": feed_id,
    }
    stored = _match(connection, document.url, content_hash)
    if stored is None:
        try:
            new_id = connection.execute(
                insert(REVIEW).values(**values, created_at=now, updated_at=now)
            ).inserted_primary_key
        except IntegrityError as e:
            raise ReviewAlreadyExists(f"a review with the URL {document.url} exists") from e
        assert new_id is not None
        return get(connection, new_id[0]), True

    old = stored._mapping
    changes = {
        name: value
        for name, value in values.items()
        if old[name] != value and not (value is None and name in _KEPT_WHEN_MISSING)
    }
    if changes.keys() & _LINKED_FROM:
        # The links made from the old document must be remade (their evidence spans
        # point into the old text); reviews_needing_link returns the review again.
        changes.update(linker_version=None, linked_at=None)
    if changes:
        connection.execute(
            update(REVIEW).where(REVIEW.c.id == stored.id).values(**changes, updated_at=now)
        )
    return get(connection, stored.id), False


def _check_exists(
    connection: Connection, table: Any, row_id: int, missing: type[NotFoundError]
) -> None:
    if connection.execute(select(table.c.id).where(table.c.id == row_id)).first() is None:
        raise missing(f"no {missing.noun} with id {row_id}")


def list_page(
    connection: Connection,
    *,
    limit: int | None,
    offset: int,
    series_id: int | None,
    episode_id: int | None,
) -> list[ReviewRecord]:
    """Newest published first, undated last, then by id; optionally only those with a
    link (not rejected) to a series or an episode. NotFoundError for an unknown one."""
    query = select(REVIEW).order_by(REVIEW.c.published.desc().nulls_last(), REVIEW.c.id)
    if series_id is not None or episode_id is not None:
        linked = exists().where(
            LINK.c.review_id == REVIEW.c.id, LINK.c.status != LinkStatus.REJECTED.value
        )
        if series_id is not None:
            _check_exists(connection, SERIES, series_id, SeriesNotFound)
            linked = linked.where(LINK.c.series_id == series_id)
        if episode_id is not None:
            _check_exists(connection, EPISODE, episode_id, EpisodeNotFound)
            linked = linked.where(LINK.c.episode_id == episode_id)
        query = query.where(linked)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [to_record(row) for row in connection.execute(query)]


def by_ids(connection: Connection, ids: list[int]) -> list[ReviewRecord]:
    """The reviews with these ids (those that exist), by id."""
    records: list[ReviewRecord] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(REVIEW).where(REVIEW.c.id.in_(chunk)).order_by(REVIEW.c.id)
        records.extend(to_record(row) for row in connection.execute(query))
    return records


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
) -> list[ReviewRecord]:
    """Lease up to ``limit`` reviews needing links to ``owner``; oldest first.

    Like ``_feeds.claim_due``: rows another instance is claiming are skipped, and a
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
    if not ids:
        return []
    connection.execute(
        update(REVIEW).where(REVIEW.c.id.in_(ids)).values(lease_owner=owner, lease_until=until)
    )
    rows = connection.execute(select(REVIEW).where(REVIEW.c.id.in_(ids)).order_by(REVIEW.c.id))
    return [to_record(row) for row in rows]


def count(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(REVIEW)).scalar_one())
