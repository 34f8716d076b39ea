"""Feeds: the URLs we poll, and what each poll decided about them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from aggregator.exceptions import AlreadyExistsError, NotFoundError
from aggregator.storage._models import Feed
from aggregator.types import FeedKind, FeedRecord, FeedStatus, FeedUpdate, Validators


def to_record(row: Feed) -> FeedRecord:
    assert row.id is not None  # a row read back from the database has its id
    return FeedRecord(
        id=row.id,
        url=row.url,
        added_url=row.added_url,
        kind=FeedKind(row.kind),
        status=FeedStatus(row.status),
        validators=Validators(etag=row.etag, last_modified=row.last_modified),
        content_hash=row.content_hash,
        last_polled_at=row.last_polled_at,
        next_poll_at=row.next_poll_at,
        error_count=row.error_count,
        last_error=row.last_error,
        warning=row.warning,
        note=row.note,
        title=row.title,
        created_at=row.created_at,
    )


def get(session: Session, feed_id: int, *, for_update: bool = False) -> Feed:
    row = session.get(Feed, feed_id, with_for_update=for_update)
    if row is None:
        raise NotFoundError(f"no feed with id {feed_id}")
    return row


def by_url(session: Session, url: str) -> Feed | None:
    """The feed at ``url`` now, else the one first added as ``url`` (and since moved).

    Looking at ``added_url`` too means re-adding a feed that has moved finds it
    instead of making a second copy of the same podcast.
    """
    row = session.exec(select(Feed).where(Feed.url == url)).first()
    if row is not None:
        return row
    return session.exec(select(Feed).where(Feed.added_url == url).order_by(col(Feed.id))).first()


def find(session: Session, url_or_id: str) -> Feed:
    key = url_or_id.strip()
    if key.isdigit():
        return get(session, int(key))
    row = by_url(session, key)
    if row is None:
        raise NotFoundError(f"no feed with id or URL {url_or_id!r}")
    return row


def add(session: Session, url: str, kind: FeedKind, now: datetime) -> Feed:
    existing = by_url(session, url)
    if existing is not None:
        raise AlreadyExistsError(f"feed {existing.id} already has the URL {url}")
    row = Feed(
        url=url,
        added_url=url,
        kind=kind.value,
        status=FeedStatus.ACTIVE.value,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        session.flush()  # assigns the id
    except IntegrityError as e:
        # Another process added the same URL between our look and our insert.
        raise AlreadyExistsError(f"a feed with the URL {url} already exists") from e
    return row


def list_all(session: Session) -> list[Feed]:
    return list(session.exec(select(Feed).order_by(col(Feed.id))))


def remove(session: Session, feed_id: int) -> None:
    # The foreign keys cascade to the feed's series and their episodes.
    result = session.connection().execute(delete(Feed).where(col(Feed.id) == feed_id))
    if result.rowcount == 0:
        raise NotFoundError(f"no feed with id {feed_id}")


def due(session: Session, now: datetime, limit: int) -> list[Feed]:
    next_poll = col(Feed.next_poll_at)
    query = (
        select(Feed)
        .where(Feed.status != FeedStatus.GONE.value)
        .where(or_(next_poll.is_(None), next_poll <= now))
        # Never-polled feeds first, then the longest overdue.
        .order_by(next_poll.asc().nulls_first(), col(Feed.id))
        .limit(limit)
    )
    return list(session.exec(query))


def apply_update(session: Session, row: Feed, update: FeedUpdate, now: datetime) -> None:
    """Write what one poll decided; fields that are None in ``update`` keep their value."""
    row.last_polled_at = update.polled_at
    row.next_poll_at = update.next_poll_at
    row.status = update.status.value
    row.error_count = update.error_count
    row.last_error = update.last_error
    row.last_error_at = update.polled_at if update.last_error is not None else None
    row.warning = update.warning
    if update.validators is not None:
        row.etag = update.validators.etag
        row.last_modified = update.validators.last_modified
    if update.content_hash is not None:
        row.content_hash = update.content_hash
    if update.note is not None:
        row.note = update.note
    if update.url is not None and update.url != row.url:
        _move(session, row, update.url, update.polled_at)
    row.updated_at = now
    session.add(row)


def _move(session: Session, row: Feed, new_url: str, when: datetime) -> None:
    """Follow a permanent redirect, unless another feed already has the new URL."""
    other = session.exec(
        select(Feed).where(Feed.url == new_url).where(col(Feed.id) != row.id)
    ).first()
    if other is None:
        row.url = new_url
        return
    # Two feeds now lead to one document; merging them is for a person to decide.
    row.note = (
        f"moved to {new_url} on {when:%Y-%m-%d}, but feed {other.id} already has that "
        f"URL; kept {row.url}"
    )
