"""Feeds: the URLs we poll, and what each poll decided about them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, or_, select
from sqlalchemy import update as sa_update
from sqlalchemy.exc import IntegrityError

from aggregator.exceptions import FeedAlreadyExists, FeedNotFound
from aggregator.storage._batches import in_lists
from aggregator.storage._models import FEED
from aggregator.types import FeedKind, FeedRecord, FeedStatus, FeedUpdate, Validators


def to_record(row: Row[Any]) -> FeedRecord:
    """The record of a row of the feed table."""
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


def get(connection: Connection, feed_id: int, *, for_update: bool = False) -> Row[Any]:
    query = select(FEED).where(FEED.c.id == feed_id)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise FeedNotFound(f"no feed with id {feed_id}")
    return row


def by_url(connection: Connection, url: str) -> Row[Any] | None:
    """The feed at ``url`` now, else the one first added as ``url`` (and since moved).

    Looking at ``added_url`` too means re-adding a feed that has moved finds it
    instead of making a second copy of the same podcast.
    """
    row = connection.execute(select(FEED).where(FEED.c.url == url)).first()
    if row is not None:
        return row
    query = select(FEED).where(FEED.c.added_url == url).order_by(FEED.c.id)
    return connection.execute(query).first()


def find(connection: Connection, url_or_id: str) -> Row[Any]:
    key = url_or_id.strip()
    if key.isdigit():
        return get(connection, int(key))
    row = by_url(connection, key)
    if row is None:
        raise FeedNotFound(f"no feed with id or URL {url_or_id!r}")
    return row


def add(
    connection: Connection,
    url: str,
    kind: FeedKind,
    now: datetime,
    *,
    added_via: str | None = None,
) -> Row[Any]:
    """Add a feed, due at once; ``added_via`` marks one added through the HTTP API."""
    existing = by_url(connection, url)
    if existing is not None:
        raise FeedAlreadyExists(f"feed {existing.id} already has the URL {url}")
    values = {
        "url": url,
        "added_url": url,
        "kind": kind.value,
        "status": FeedStatus.ACTIVE.value,
        "added_via": added_via,
        "created_at": now,
        "updated_at": now,
    }
    try:
        feed_id = connection.execute(_INSERT, values).scalar_one()
    except IntegrityError as e:
        # Another process added the same URL between our look and our insert.
        raise FeedAlreadyExists(f"a feed with the URL {url} already exists") from e
    return get(connection, feed_id)


_INSERT = insert(FEED).returning(FEED.c.id)


def add_many(connection: Connection, entries: Sequence[tuple[str, FeedKind]], now: datetime) -> int:
    """Add the feeds whose URL (current or as added) is unknown; returns how many.

    One query for what is known and one multi-row insert: a subscription list of
    thousands of feeds goes in in one transaction, not one per feed.
    """
    urls = {url for url, _ in entries}
    known: set[str] = set()
    for chunk in in_lists(sorted(urls), 500):
        rows = connection.execute(
            select(FEED.c.url, FEED.c.added_url).where(
                or_(FEED.c.url.in_(chunk), FEED.c.added_url.in_(chunk))
            )
        )
        for url, added_url in rows:
            known.update((url, added_url))
    new: dict[str, FeedKind] = {}
    for url, kind in entries:
        if url not in known:
            new.setdefault(url, kind)
    if new:
        connection.execute(
            insert(FEED),
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


def page(
    connection: Connection,
    *,
    kind: FeedKind | None,
    status: FeedStatus | None,
    limit: int | None,
    offset: int,
) -> list[FeedRecord]:
    """Feeds by id, of that kind and status if given: one page, read as rows (the
    API's list read every feed as an ORM object to show 50)."""
    query = select(FEED).order_by(FEED.c.id).limit(limit).offset(offset)
    if kind is not None:
        query = query.where(FEED.c.kind == kind.value)
    if status is not None:
        query = query.where(FEED.c.status == status.value)
    return [to_record(row) for row in connection.execute(query)]


def remove(connection: Connection, feed_id: int) -> None:
    # The foreign keys cascade to the feed's series and their episodes.
    result = connection.execute(delete(FEED).where(FEED.c.id == feed_id))
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
    next_poll = FEED.c.next_poll_at
    lease = FEED.c.lease_until
    due = or_(next_poll.is_(None), next_poll <= now)
    if ahead:
        due = or_(due, FEED.c.status == FeedStatus.ACTIVE.value)
    return (
        select(FEED.c.id)
        .where(FEED.c.status != FeedStatus.GONE.value)
        .where(due)
        # Held by an instance polling it now, unless that lease ran out (a crash).
        .where(or_(lease.is_(None), lease <= now))
        # Never-polled feeds first, then the longest overdue.
        .order_by(next_poll.asc().nulls_first(), FEED.c.id)
    )


def due(connection: Connection, now: datetime, limit: int) -> list[Row[Any]]:
    ids = list(connection.execute(_due_query(now).limit(limit)).scalars())
    return _rows_in_order(connection, ids)


def claim_due(
    connection: Connection,
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
    ids = list(connection.execute(query).scalars())
    if not ids:
        return []
    connection.execute(
        sa_update(FEED)
        .where(FEED.c.id.in_(ids))
        .values(lease_owner=owner, lease_until=until, lease_host=host, lease_pid=pid)
    )
    return _rows_in_order(connection, ids)


def held_elsewhere(
    connection: Connection, now: datetime, *, owner: str
) -> tuple[int, datetime | None]:
    """How many feeds a lease other than ``owner``'s holds now, and when the last ends."""
    query = select(func.count(), func.max(FEED.c.lease_until)).where(
        FEED.c.lease_owner.is_not(None),
        FEED.c.lease_owner != owner,
        FEED.c.lease_until > now,
    )
    count, last = connection.execute(query).one()
    return int(count), last


def holders_on(connection: Connection, now: datetime, *, host: str) -> list[tuple[str, int]]:
    """(owner, pid) of every live feed lease held by a process on ``host``."""
    query = (
        select(FEED.c.lease_owner, FEED.c.lease_pid)
        .distinct()
        .where(FEED.c.lease_host == host)
        .where(FEED.c.lease_until > now)
        .where(FEED.c.lease_owner.is_not(None), FEED.c.lease_pid.is_not(None))
    )
    rows = connection.execute(query)
    return [(owner, pid) for owner, pid in rows if owner is not None and pid is not None]


def end_leases_of(connection: Connection, owners: Sequence[str]) -> int:
    """End every feed lease these owners hold; returns how many ended."""
    result = connection.execute(
        sa_update(FEED).where(FEED.c.lease_owner.in_(owners)).values(**_NO_LEASE)
    )
    return result.rowcount


def renew_leases(connection: Connection, now: datetime, *, owner: str, until: datetime) -> int:
    """Extend the leases ``owner`` still holds; returns how many."""
    result = connection.execute(
        sa_update(FEED)
        .where(FEED.c.lease_owner == owner)
        .where(FEED.c.lease_until > now)
        .values(lease_until=until)
    )
    return result.rowcount


def release_leases(connection: Connection, feed_ids: Sequence[int], *, owner: str) -> None:
    """Give back feeds claimed but not polled (the instance is stopping)."""
    connection.execute(
        sa_update(FEED)
        .where(FEED.c.id.in_(feed_ids))
        .where(FEED.c.lease_owner == owner)
        .values(**_NO_LEASE)
    )


def _rows_in_order(connection: Connection, ids: Sequence[int]) -> list[Row[Any]]:
    if not ids:
        return []
    query = select(FEED).where(FEED.c.id.in_(ids))
    rows = {row.id: row for row in connection.execute(query)}
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


def apply_move(
    connection: Connection, update: FeedUpdate, now: datetime, *, title: str | None
) -> None:
    """One poll's update that may move the feed (``update.url``), with the series
    ``title`` if any. The row is locked first: the move looks at other feeds' URLs."""
    row = get(connection, update.feed_id, for_update=True)
    values = update_values(update, now)
    if update.url is not None and update.url != row.url:
        values |= _move(connection, row, update.url, update.polled_at)
    if title is not None:
        values["title"] = title
    connection.execute(sa_update(FEED).where(FEED.c.id == row.id).values(values))


def apply_update_fast(
    connection: Connection, update: FeedUpdate, now: datetime, *, title: str | None
) -> None:
    """One poll's update that does not move the feed, with the series ``title`` if any.

    One UPDATE (it takes the row's lock, as ``apply_move``'s FOR UPDATE does): loading
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
    # One statement per set of columns: the ORM's bulk-update path, used once, doubled
    # the cost of each statement.
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
    columns: dict[str, Any] = {key: bindparam(key) for key in keys if key != "feed_id_"}
    return sa_update(FEED).where(FEED.c.id == bindparam("feed_id_")).values(columns)


def _move(connection: Connection, row: Row[Any], new_url: str, when: datetime) -> dict[str, Any]:
    """The columns that follow a permanent redirect: the new URL, unless another feed
    already has it."""
    query = select(FEED.c.id).where(FEED.c.url == new_url).where(FEED.c.id != row.id)
    other = connection.execute(query).scalar()
    if other is None:
        return {"url": new_url}
    # Two feeds now lead to one document; merging them is for a person to decide.
    return {
        "note": f"moved to {new_url} on {when:%Y-%m-%d}, but feed {other} already has that "
        f"URL; kept {row.url}"
    }
