"""Engines for SQLite and PostgreSQL, and the one place SQLAlchemy errors become ours."""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError, StatementError

from aggregator.exceptions import StorageError

log = logging.getLogger("aggregator.storage")

# How long a SQLite writer waits for another writer, each time it tries. A poll's
# write of a few thousand episodes takes well under a second, so this is generous.
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
# How many times a SQLite writer tries to take the write lock before its transaction
# fails with "database is locked": ten busy timeouts, five minutes by default. A
# poll's write carries work already fetched and parsed; writers queued behind a few
# long ones (several huge feeds polled at once) waited past one timeout, and that
# work was thrown away.
SQLITE_WRITE_ATTEMPTS = 10

# Execution option naming the SQLite BEGIN flavour of a connection (see _sqlite_begin).
_BEGIN_OPTION = "aggregator_sqlite_begin"


def parse_url(database_url: str) -> URL:
    """Parse a database URL and pin PostgreSQL to the psycopg 3 driver we ship."""
    try:
        url = make_url(database_url)
    except ArgumentError as e:
        raise StorageError(f"not a database URL: {database_url!r}") from e
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StorageError(
            f"unsupported database {url.get_backend_name()!r}: use sqlite:/// or "
            "postgresql+psycopg://"
        )
    return url


def where(url: URL) -> str:
    """The database as a user names it in a message: a SQLite file's path, or the URL
    without its password."""
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return url.database
    return url.render_as_string(hide_password=True)


def make_engines(
    url: URL,
    *,
    read_only: bool = False,
    busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS,
) -> tuple[Engine, Engine]:
    """Return (reads, writes): the same pool, but SQLite writers begin IMMEDIATE.

    A deferred SQLite transaction that reads and then writes cannot wait for a lock
    held by another writer: SQLite fails it at once with "database is locked", whatever
    the busy timeout. Taking the write lock at BEGIN makes writers queue instead, and
    a BEGIN that waited a whole busy timeout tries again (``SQLITE_WRITE_ATTEMPTS``).
    PostgreSQL needs none of this; both engines are the same there.

    ``read_only`` is for callers that only read: a SQLite file is then never created
    (nor its directory), nor switched to WAL, and is read even where we may not write.
    """
    if url.get_backend_name() == "sqlite":
        if read_only:
            url = _sqlite_read_url(url)
        else:
            _create_sqlite_dir(url)
        engine = create_engine(url)
        busy_ms = max(1, round(busy_timeout_seconds * 1000))
        on_connect = functools.partial(
            _sqlite_on_connect, busy_ms=busy_ms, switch_to_wal=not read_only
        )
        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine, engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
    engine = create_engine(url, pool_pre_ping=True)
    return engine, engine


def _sqlite_read_url(url: URL) -> URL:
    """A URL that opens an existing SQLite file without ever creating it.

    A reader of a WAL database needs its ``-shm`` file, which SQLite creates beside the
    database, so a database in a directory we may not write (another user's, a
    read-only mount) cannot be read once its last writer has closed it and removed
    ``-shm``. Then no writer has it open (one would hold ``-shm``) and, while we cannot
    write there, the file is read as immutable: SQLite takes no locks and needs no
    ``-shm``. A writer that starts meanwhile can at worst make this read fail.
    """
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    path = Path(database)
    if not path.is_file():
        raise StorageError(f"{database}: no database here (`aggregator init` creates one)")
    mode = "mode=rw"  # read-write when allowed, read-only otherwise; never created
    companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    if not any(p.exists() for p in companions) and not os.access(path.parent, os.W_OK):
        mode = "immutable=1"
    return url.set(database=f"{path.resolve().as_uri()}?{mode}").update_query_dict({"uri": "true"})


def _create_sqlite_dir(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"cannot create the directory of {database}: {e}") from e


def _sqlite_on_connect(
    dbapi_connection: Any,
    connection_record: Any,
    *,
    busy_ms: int = int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000),
    switch_to_wal: bool = True,
) -> None:
    # Let SQLAlchemy emit BEGIN itself (pysqlite's own handling skips it for SELECT
    # and DDL); the SQLAlchemy sqlite dialect documents this recipe.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # First: switching a new file to WAL needs a lock that another connection
        # (a migration in another instance) may hold, and must wait for it too.
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        if switch_to_wal:
            # WAL: readers never block the writer and the writer never blocks readers.
            # (A reader leaves the mode to the writers: switching it is a write.)
            cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode, and much faster.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    for attempt in range(1, SQLITE_WRITE_ATTEMPTS + 1):
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
            return
        except OperationalError as e:
            # Nothing has begun: trying again repeats nothing. Any other error, or
            # the last attempt's, is the caller's.
            if not _locked(e) or attempt == SQLITE_WRITE_ATTEMPTS:
                raise
            log.warning(
                "database is locked by another writer; waiting again (%d of %d)",
                attempt + 1,
                SQLITE_WRITE_ATTEMPTS,
            )


def _locked(error: OperationalError) -> bool:
    """Whether SQLite gave up waiting for another connection's lock (SQLITE_BUSY, or
    one of its extended codes)."""
    orig = error.orig
    return isinstance(orig, sqlite3.OperationalError) and (
        orig.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
    )


def describe(error: SQLAlchemyError) -> str:
    """The database's own words, without the SQL and parameters SQLAlchemy appends."""
    if isinstance(error, StatementError) and error.orig is not None:
        return _first_line(f"{type(error.orig).__name__}: {error.orig}")
    return _first_line(f"{type(error).__name__}: {error}")


def _first_line(message: str) -> str:
    # libpq adds hint lines ("This probably means the server terminated abnormally
    # ..."): an error is logged and stored as one line, and the first says what.
    return next((line.strip() for line in message.splitlines() if line.strip()), message)


@contextmanager
def storage_errors(doing: str) -> Iterator[None]:
    """Re-raise any SQLAlchemy error as StorageError, saying what we were doing."""
    try:
        yield
    except SQLAlchemyError as e:
        raise StorageError(f"{doing}: {describe(e)}") from e
