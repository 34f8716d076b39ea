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

from sqlalchemy import Connection, select, update

from aggregator.storage._models import CONTENT_VERSION

_ROW = CONTENT_VERSION.c.id == 1
_BUMP = update(CONTENT_VERSION).where(_ROW).values(version=CONTENT_VERSION.c.version + 1)
_READ = select(CONTENT_VERSION.c.version).where(_ROW)


def bump(connection: Connection) -> None:
    connection.execute(_BUMP)


def read(connection: Connection) -> int:
    return int(connection.execute(_READ).scalar_one_or_none() or 0)
