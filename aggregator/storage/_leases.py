"""Leases: the feeds an instance has claimed to poll.

A lease is a row value, not a lock held open: ``lease_owner`` (the instance),
``lease_until`` (when another may take the row), and ``lease_host``/``lease_pid``
(the process, so that others on its host can tell when it is gone). Feeds and
reviews (``_relink``) are leased alike, with the helpers here; the decisions behind
them are in docs/architecture.md ("Several instances on one PostgreSQL").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select, update

from aggregator.storage._base import StorageBase
from aggregator.storage._feeds import to_record
from aggregator.storage._models import FEED
from aggregator.storage._versions import NOTHING
from aggregator.types import FeedRecord, FeedStatus

# The columns of a row no one holds.
NO_LEASE: dict[str, Any] = {
    "lease_owner": None,
    "lease_until": None,
    "lease_host": None,
    "lease_pid": None,
}


class LeaseStore(StorageBase):
    """Feeds due for a poll, and the leases instances take on them."""

    def due_feeds(self, now: datetime, limit: int) -> list[FeedRecord]:
        """Feeds not gone whose next poll is due and which no instance holds:
        never-polled first, then most overdue."""
        with self._read("finding due feeds") as session:
            connection = session.connection()
            ids = list(connection.execute(_due_query(now).limit(limit)).scalars())
            return _feeds_in_order(connection, ids)

    def claim_due_feeds(
        self,
        now: datetime,
        limit: int,
        *,
        owner: str,
        lease_seconds: float,
        ahead_of_schedule: bool = False,
        host: str | None = None,
        pid: int | None = None,
    ) -> list[FeedRecord]:
        """Like ``due_feeds``, but each feed is leased to ``owner``: no other instance
        takes it until its poll is stored (which ends the lease) or the lease runs out.

        ``ahead_of_schedule`` also claims the healthy feeds not due yet (a poll asked
        for by hand); feeds whose last polls failed still wait out their backoff,
        Retry-After included. ``host`` and ``pid`` name the process holding the
        leases, for others on its host to see when it is gone (``feed_lease_holders``).

        ``FOR UPDATE SKIP LOCKED`` lets instances claim at the same moment without
        waiting on each other or taking the same feed: rows another transaction is
        claiming are passed over. (SQLite has no row locks and renders no FOR UPDATE;
        its writers are serialized by BEGIN IMMEDIATE, which gives the same guarantee.)
        """
        until = now + timedelta(seconds=lease_seconds)
        query = (
            _due_query(now, ahead=ahead_of_schedule).limit(limit).with_for_update(skip_locked=True)
        )
        with self._write("claiming due feeds", changes=NOTHING) as session:
            connection = session.connection()
            ids = claim(connection, FEED, query, owner=owner, until=until, host=host, pid=pid)
            return _feeds_in_order(connection, ids)

    def feed_lease_holders(self, now: datetime, *, host: str) -> list[tuple[str, int]]:
        """(owner, pid) of the processes on ``host`` that hold live feed leases."""
        with self._read("reading who holds feed leases") as session:
            return holders_on(session.connection(), FEED, now, host=host)

    def end_feed_leases_of(self, owners: Sequence[str]) -> int:
        """End the feed leases of these owners (processes known to be gone); returns
        how many feeds are free again."""
        if not owners:
            return 0
        doing = f"ending the feed leases of {len(owners)} processes"
        with self._write(doing, changes=NOTHING) as session:
            return end_leases_of(session.connection(), FEED, owners)

    def feeds_held_elsewhere(self, now: datetime, *, owner: str) -> tuple[int, datetime | None]:
        """Feeds another poller holds now (polling them, or stopped by kill -9 with the
        lease running on), and when the last of those leases ends."""
        query = select(func.count(), func.max(FEED.c.lease_until)).where(
            FEED.c.lease_owner.is_not(None),
            FEED.c.lease_owner != owner,
            FEED.c.lease_until > now,
        )
        with self._read("counting feeds leased elsewhere") as session:
            count, last = session.connection().execute(query).one()
            return int(count), last

    def renew_feed_leases(self, now: datetime, *, owner: str, lease_seconds: float) -> int:
        """Extend the leases ``owner`` still holds (feeds claimed, not yet stored);
        returns how many. A lease that already ran out is not renewed: another
        instance may hold the feed by now."""
        renew = (
            update(FEED)
            .where(FEED.c.lease_owner == owner)
            .where(FEED.c.lease_until > now)
            .values(lease_until=now + timedelta(seconds=lease_seconds))
        )
        with self._write("renewing feed leases", changes=NOTHING) as session:
            return session.connection().execute(renew).rowcount

    def release_feeds(self, feed_ids: Sequence[int], *, owner: str) -> None:
        """Give back feeds ``owner`` claimed but will not poll (it is stopping)."""
        if feed_ids:
            with self._write(f"releasing {len(feed_ids)} feeds", changes=NOTHING) as session:
                release(session.connection(), FEED, feed_ids, owner=owner)


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


def _feeds_in_order(connection: Connection, ids: Sequence[int]) -> list[FeedRecord]:
    if not ids:
        return []
    rows: dict[int, Row[Any]] = {
        row.id: row for row in connection.execute(select(FEED).where(FEED.c.id.in_(ids)))
    }
    return [to_record(rows[i]) for i in ids if i in rows]


# --- any leased table (feed, review) -------------------------------------------------


def claim(
    connection: Connection,
    table: Any,
    query: Any,
    *,
    owner: str,
    until: datetime,
    host: str | None,
    pid: int | None,
) -> list[int]:
    """Lease the rows of ``table`` whose ids ``query`` selects to ``owner`` (process
    ``pid`` of ``host``, when known) until ``until``; returns their ids, in the order
    ``query`` gives them."""
    ids = list(connection.execute(query).scalars())
    if ids:
        connection.execute(
            update(table)
            .where(table.c.id.in_(ids))
            .values(lease_owner=owner, lease_until=until, lease_host=host, lease_pid=pid)
        )
    return ids


def holders_on(
    connection: Connection, table: Any, now: datetime, *, host: str
) -> list[tuple[str, int]]:
    """(owner, pid) of every live lease on ``table`` held by a process on ``host``."""
    query = (
        select(table.c.lease_owner, table.c.lease_pid)
        .distinct()
        .where(table.c.lease_host == host, table.c.lease_until > now)
        .where(table.c.lease_owner.is_not(None), table.c.lease_pid.is_not(None))
    )
    return [(str(owner), int(pid)) for owner, pid in connection.execute(query)]


def end_leases_of(connection: Connection, table: Any, owners: Sequence[str]) -> int:
    """End every lease on ``table`` these owners hold; returns how many ended."""
    ended = connection.execute(
        update(table).where(table.c.lease_owner.in_(owners)).values(**NO_LEASE)
    )
    return int(ended.rowcount)


def release(connection: Connection, table: Any, ids: Sequence[int], *, owner: str) -> int:
    """End ``owner``'s leases on the rows of these ids; returns how many."""
    released = connection.execute(
        update(table).where(table.c.id.in_(ids), table.c.lease_owner == owner).values(**NO_LEASE)
    )
    return int(released.rowcount)
