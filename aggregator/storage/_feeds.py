"""Feeds: the URLs we poll, and what each poll decided about them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, or_
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from aggregator.exceptions import FeedAlreadyExists, FeedNotFound
from aggregator.storage._batches import in_lists
from aggregator.storage._models import FEED, Feed
from aggregator.types import FeedKind, FeedRecord, FeedStatus, FeedUpdate, Validators


def to_record(row: Feed | Row[Any]) -> FeedRecord:
    """The record of an ORM row or a Core row of the feed table (same names)."""
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
        typical_gap_minutes=row.typical_gap_minutes,
        newest_published_at=row.newest_published_at,
        ttl_minutes=row.ttl_minutes,
        added_via=row.added_via,
    )


def get(session: Session, feed_id: int, *, for_update: bool = False) -> Feed:
    row = session.get(Feed, feed_id, with_for_update=for_update)
    if row is None:
        raise FeedNotFound(f"no feed with id {feed_id}")
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
        raise FeedNotFound(f"no feed with id or URL {url_or_id!r}")
    return row


def add(session: Session, url: str, kind: FeedKind, now: datetime) -> Feed:
    existing = by_url(session, url)
    if existing is not None:
        raise FeedAlreadyExists(f"feed {existing.id} already has the URL {url}")
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
        raise FeedAlreadyExists(f"a feed with the URL {url} already exists") from e
    return row


def add_many(session: Session, entries: Sequence[tuple[str, FeedKind]], now: datetime) -> int:
    """Add the feeds whose URL (current or as added) is unknown; returns how many.

    One query for what is known and one multi-row insert: a subscription list of
    thousands of feeds goes in in one transaction, not one per feed.
    """
    urls = {url for url, _ in entries}
    known: set[str] = set()
    for chunk in in_lists(sorted(urls), 500):
        rows = session.connection().execute(
            select(col(Feed.url), col(Feed.added_url)).where(
                or_(col(Feed.url).in_(chunk), col(Feed.added_url).in_(chunk))
            )
        )
        for url, added_url in rows:
            known.update((url, added_url))
    new: dict[str, FeedKind] = {}
    for url, kind in entries:
        if url not in known:
            new.setdefault(url, kind)
    if new:
        session.connection().execute(
            insert(Feed),
            [
                {
                    "url": url,
                    "added_url": url,
                    "kind": kind.value,
                    "status": FeedStatus.ACTIVE.value,
                    "error_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for url, kind in new.items()
            ],
        )
    return len(new)


def list_all(session: Session) -> list[Feed]:
    return list(session.exec(select(Feed).order_by(col(Feed.id))))


def page(
    connection: Connection,
    *,
    kind: FeedKind | None,
    status: FeedStatus | None,
    limit: int,
    offset: int,
) -> list[FeedRecord]:
    """Feeds by id, of that kind and status if given: one page, read as rows (the
    API's list read every feed as an ORM object to show 50)."""
    query = sa_select(FEED).order_by(FEED.c.id).limit(limit).offset(offset)
    if kind is not None:
        query = query.where(FEED.c.kind == kind.value)
    if status is not None:
        query = query.where(FEED.c.status == status.value)
    return [to_record(row) for row in connection.execute(query)]


def remove(session: Session, feed_id: int) -> None:
    # The foreign keys cascade to the feed's series and their episodes.
    result = session.connection().execute(delete(Feed).where(col(Feed.id) == feed_id))
    if result.rowcount == 0:
        raise FeedNotFound(f"no feed with id {feed_id}")


# The columns of a feed no one holds.
_NO_LEASE: dict[str, Any] = {
    "lease_owner": None,
    "lease_until": None,
    "lease_host": None,
    "lease_pid": None,
}


def _due_query(now: datetime, *, ahead: bool = False) -> Any:
    """Feeds to poll now; with ``ahead``, also the healthy ones whose next poll is later
    (a poll asked for by hand), while failing feeds still wait out their backoff."""
    next_poll = col(Feed.next_poll_at)
    lease = col(Feed.lease_until)
    due = or_(next_poll.is_(None), next_poll <= now)
    if ahead:
        due = or_(due, col(Feed.status) == FeedStatus.ACTIVE.value)
    return (
        select(Feed.id)
        .where(Feed.status != FeedStatus.GONE.value)
        .where(due)
        # Held by an instance polling it now, unless that lease ran out (a crash).
        .where(or_(lease.is_(None), lease <= now))
        # Never-polled feeds first, then the longest overdue.
        .order_by(next_poll.asc().nulls_first(), col(Feed.id))
    )


def due(session: Session, now: datetime, limit: int) -> list[Row[Any]]:
    ids = list(session.exec(_due_query(now).limit(limit)))
    return _rows_in_order(session, ids)


def claim_due(
    session: Session,
    now: datetime,
    limit: int,
    *,
    owner: str,
    until: datetime,
    ahead: bool = False,
    host: str | None = None,
    pid: int | None = None,
) -> list[Row[Any]]:
    """Lease up to ``limit`` due feeds to ``owner`` until ``until``; return them.

    ``FOR UPDATE SKIP LOCKED`` lets instances claim at the same moment without
    waiting on each other or taking the same feed: rows another transaction is
    claiming are passed over. (SQLite has no row locks and renders no FOR UPDATE;
    its writers are serialized by BEGIN IMMEDIATE, which gives the same guarantee.)
    """
    query = _due_query(now, ahead=ahead).limit(limit).with_for_update(skip_locked=True)
    ids = list(session.exec(query))
    if not ids:
        return []
    session.connection().execute(
        sa_update(Feed)
        .where(col(Feed.id).in_(ids))
        .values(lease_owner=owner, lease_until=until, lease_host=host, lease_pid=pid)
    )
    return _rows_in_order(session, ids)


def held_elsewhere(session: Session, now: datetime, *, owner: str) -> tuple[int, datetime | None]:
    """How many feeds a lease other than ``owner``'s holds now, and when the last ends."""
    query = sa_select(func.count(), func.max(col(Feed.lease_until))).where(
        col(Feed.lease_owner).is_not(None),
        col(Feed.lease_owner) != owner,
        col(Feed.lease_until) > now,
    )
    count, last = session.connection().execute(query).one()
    return int(count), last


def holders_on(connection: Connection, now: datetime, *, host: str) -> list[tuple[str, int]]:
    """(owner, pid) of every live feed lease held by a process on ``host``."""
    query = (
        sa_select(col(Feed.lease_owner), col(Feed.lease_pid))
        .distinct()
        .where(col(Feed.lease_host) == host)
        .where(col(Feed.lease_until) > now)
        .where(col(Feed.lease_owner).is_not(None), col(Feed.lease_pid).is_not(None))
    )
    rows = connection.execute(query)
    return [(owner, pid) for owner, pid in rows if owner is not None and pid is not None]


def end_leases_of(connection: Connection, owners: Sequence[str]) -> int:
    """End every feed lease these owners hold; returns how many ended."""
    result = connection.execute(
        sa_update(Feed).where(col(Feed.lease_owner).in_(owners)).values(**_NO_LEASE)
    )
    return result.rowcount


def renew_leases(connection: Connection, now: datetime, *, owner: str, until: datetime) -> int:
    """Extend the leases ``owner`` still holds; returns how many."""
    result = connection.execute(
        sa_update(Feed)
        .where(col(Feed.lease_owner) == owner)
        .where(col(Feed.lease_until) > now)
        .values(lease_until=until)
    )
    return result.rowcount


def release_leases(connection: Connection, feed_ids: Sequence[int], *, owner: str) -> None:
    """Give back feeds claimed but not polled (the instance is stopping)."""
    connection.execute(
        sa_update(Feed)
        .where(col(Feed.id).in_(feed_ids))
        .where(col(Feed.lease_owner) == owner)
        .values(**_NO_LEASE)
    )


def _rows_in_order(session: Session, ids: Sequence[int]) -> list[Row[Any]]:
    if not ids:
        return []
    # Core rows, not ORM objects: building and tracking a model instance per feed was
    # ~8 % of the CPU of a poll answered 304 (bench/poll).
    query = sa_select(FEED).where(FEED.c.id.in_(ids))
    rows = {row.id: row for row in session.connection().execute(query)}
    return [rows[i] for i in ids if i in rows]


def update_values(update: FeedUpdate, now: datetime) -> dict[str, Any]:
    """The columns one poll writes; fields that are None in ``update`` keep their value."""
    values: dict[str, Any] = {
        "last_polled_at": update.polled_at,
        "next_poll_at": update.next_poll_at,
        "status": update.status.value,
        "error_count": update.error_count,
        "last_error": update.last_error,
        "last_error_at": update.polled_at if update.last_error is not None else None,
        "warning": update.warning,
        "updated_at": now,
        # The poll is stored: the claim on the feed ends with it.
        **_NO_LEASE,
    }
    if update.validators is not None:
        values["etag"] = update.validators.etag
        values["last_modified"] = update.validators.last_modified
    optional = ("content_hash", "note", "typical_gap_minutes", "newest_published_at", "ttl_minutes")
    for name in optional:
        value = getattr(update, name)
        if value is not None:
            values[name] = value
    return values


def apply_update(session: Session, row: Feed, update: FeedUpdate, now: datetime) -> None:
    """Write what one poll decided onto a loaded row (the path that may move the feed)."""
    for name, value in update_values(update, now).items():
        setattr(row, name, value)
    if update.url is not None and update.url != row.url:
        _move(session, row, update.url, update.polled_at)
    session.add(row)


def apply_update_fast(
    connection: Connection, update: FeedUpdate, now: datetime, *, title: str | None
) -> None:
    """One poll's update that does not move the feed, with the series ``title`` if any.

    A Core UPDATE (it takes the row's lock, as the ORM path's FOR UPDATE does): loading
    the row into the ORM and flushing it cost a first poll several ms (bench/poll).
    """
    values = update_values(update, now)
    if title is not None:
        values["title"] = title
    values["feed_id_"] = update.feed_id
    result = connection.execute(_update_statement(tuple(sorted(values))), values)
    if result.rowcount == 0:
        raise FeedNotFound(f"no feed with id {update.feed_id}")


def apply_updates_fast(
    connection: Connection, updates: Sequence[FeedUpdate], now: datetime
) -> None:
    """UPDATE statements for polls that brought nothing to store, batched.

    A 304 or an unchanged body only moves a feed's schedule and validators. Going
    through the ORM for that cost more than the HTTP request, and one executemany per
    set of columns costs a fraction of one statement per feed (bench/poll).
    """
    # Core, not ORM: the ORM's bulk-update path doubled the cost of each statement.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for update in updates:
        values = update_values(update, now)
        values["feed_id_"] = update.feed_id
        groups.setdefault(tuple(sorted(values)), []).append(values)
    for keys, rows in groups.items():
        connection.execute(_update_statement(keys), rows)


@functools.cache
def _update_statement(keys: tuple[str, ...]) -> Any:
    """UPDATE feed SET <keys> WHERE id = :feed_id_, built once per set of columns
    (there are a few dozen at most: which optional values a poll sets)."""
    table = Feed.metadata.tables[Feed.__tablename__]
    columns: dict[str, Any] = {key: bindparam(key) for key in keys if key != "feed_id_"}
    return sa_update(table).where(table.c.id == bindparam("feed_id_")).values(columns)


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
