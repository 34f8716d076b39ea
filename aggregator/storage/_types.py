"""Column types that make SQLite and PostgreSQL hand back the same Python values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, an aware UTC datetime out, on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is stored
    naive in UTC and given its zone back on the way out. A naive datetime is refused
    rather than guessed at: every datetime in aggregator is aware (STYLE.md).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: aggregator stores only aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONDocument(TypeDecorator[Any]):
    """JSON everywhere; ``jsonb`` on PostgreSQL (smaller, and indexable if we ever need it).

    PostgreSQL's type is looked up when a PostgreSQL database is used, not when the
    tables are declared: importing SQLAlchemy's PostgreSQL dialect cost every command
    on a SQLite database about 0.03 s CPU (bench/cli_startup.py).
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


def json_type() -> TypeEngine[Any]:
    return JSONDocument()
