"""The content version: one number that moves whenever what the service shows may
have changed (``_models.ContentVersion``).

Added to as the last statement of a write transaction (``StorageBase._write``), so
it commits with the change it counts: a reader that reads the number before the
data never keeps data older than the number says. Last, because on PostgreSQL the
UPDATE locks the one row until commit: taken earlier, it would make concurrent
writers wait for each other's whole transactions, and could deadlock with the row
locks they take after it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from aggregator.storage._models import CONTENT_VERSION

_READ = select(CONTENT_VERSION.c.version).where(CONTENT_VERSION.c.id == 1)


def _bump(insert: Any) -> Any:
    # An upsert, not an UPDATE: a table emptied by hand (or by a test's TRUNCATE)
    # must not leave the number still for good.
    return (
        insert(CONTENT_VERSION)
        .values(id=1, version=1)
        .on_conflict_do_update(
            index_elements=[CONTENT_VERSION.c.id],
            set_={"version": CONTENT_VERSION.c.version + 1},
        )
    )


_BUMPS = {"postgresql": _bump(postgresql.insert), "sqlite": _bump(sqlite.insert)}


def bump(connection: Connection) -> None:
    connection.execute(_BUMPS[connection.dialect.name])


def read(connection: Connection) -> int:
    return int(connection.execute(_READ).scalar_one_or_none() or 0)
