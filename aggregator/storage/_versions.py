"""The data version: counters that move whenever what the service shows may have
changed (``_models.VersionCounter``), one per kind of data.

Added to as the last statement of a write transaction (``StorageBase._write``), so
a counter commits with the change it counts: a reader that reads the version before
the data never keeps data older than the version says. Last, because on PostgreSQL
the upsert locks the counter's row until commit: taken earlier, it would make
concurrent writers wait for each other's whole transactions, and could deadlock with
the row locks they take after it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from aggregator.storage._models import VERSION_COUNTER

# Series, episodes, reviews and links: what the pages and the API's content show.
CONTENT = "content"
# The feeds as the API lists them: when each was polled, how it went, when next.
FEEDS = "feeds"
# What a write changes unless it says otherwise: anything.
EVERYTHING = (CONTENT, FEEDS)
# Bookkeeping nobody is shown: leases, logins.
NOTHING: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DataVersion:
    """The counters, read together: equal versions, the same data shown."""

    content: int
    feeds: int


def _bump(insert: Any) -> Any:
    # An upsert, not an UPDATE: a table emptied by hand (or by a test's TRUNCATE)
    # must not leave a counter still for good.
    return insert(VERSION_COUNTER).on_conflict_do_update(
        index_elements=[VERSION_COUNTER.c.name],
        set_={"value": VERSION_COUNTER.c.value + 1},
    )


@functools.cache
def _bump_for(dialect: str) -> Any:
    """The upsert in the database's own dialect, its module imported on first use: a
    command that reads a SQLite store loads no PostgreSQL dialect (bench/cli_startup)."""
    return _bump(importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert)


_READ = select(VERSION_COUNTER.c.name, VERSION_COUNTER.c.value)


def bump(connection: Connection, names: Sequence[str]) -> None:
    if names:
        rows = [{"name": name, "value": 1} for name in names]
        connection.execute(_bump_for(connection.dialect.name), rows)


def read(connection: Connection) -> DataVersion:
    values = {str(name): int(value) for name, value in connection.execute(_READ)}
    return DataVersion(content=values.get(CONTENT, 0), feeds=values.get(FEEDS, 0))
