"""The storage facade's foundation: engines, sessions and transactions, migration."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import Connection, Engine

from aggregator.closing import Closing
from aggregator.storage import _migrate, _versions
from aggregator.storage._engine import storage_errors
from aggregator.storage._versions import DataVersion


class Session:
    """What one store call works in: a Core connection, in one transaction for a write.

    Not an ORM session: storage maps no classes (Core tables and statements only), and
    importing SQLAlchemy's ORM cost every command that reads the store about 0.1 s
    CPU more (bench/cli_startup.py). ``connection()`` is what the stores ask it for.
    """

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def connection(self) -> Connection:
        return self._connection


class StorageBase(Closing):
    """Engines and sessions: a short session per call, one transaction per write."""

    def __init__(self, reads: Engine, writes: Engine, *, where: str | None = None) -> None:
        self._engine = reads
        self._write_engine = writes
        # The database as messages name it (a SQLite path, a URL without password).
        self.where = where or reads.url.render_as_string(hide_password=True)
        # SQLite has one writer at a time, and its busy handler is no queue: a waiting
        # writer sleeps and looks again, and others may take the lock in between. Six
        # polls of big feeds in one process waited that way until one gave up after
        # the whole busy timeout ("database is locked"). The writers of this process
        # wait their turn here instead, without a timeout; SQLite's busy timeout is
        # left to writers in other processes. Reentrant, so that a write nested in
        # another fails at SQLite as before rather than hanging here.
        self._writer: AbstractContextManager[object] = (
            threading.RLock() if writes.dialect.name == "sqlite" else nullcontext()
        )

    @property
    def url(self) -> str:
        """The database URL, password included (for handing to a child process)."""
        return self._engine.url.render_as_string(hide_password=False)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _read(self, doing: str) -> Iterator[Session]:
        with storage_errors(doing), self._engine.connect() as connection:
            yield Session(connection)

    @contextmanager
    def _write(
        self, doing: str, *, changes: Sequence[str] = _versions.EVERYTHING
    ) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``changes`` names the kinds of shown data the write may change (``_versions``):
        their counters move as it commits. Anything, unless the write says less.
        """
        with (
            self._writer,
            storage_errors(doing),
            self._write_engine.begin() as connection,
        ):
            yield Session(connection)
            _versions.bump(connection, changes)

    def data_version(self) -> DataVersion:
        """Counters of the writes that may have changed what is shown: the same until
        such a write commits, in any process (``_versions``)."""
        with storage_errors("reading the data version"), self._engine.connect() as connection:
            return _versions.read(connection)

    def migrate(self) -> None:
        """Create or upgrade the tables to the newest schema; harmless when current."""
        with storage_errors("migrating the database"):
            _migrate.upgrade_to_head(self._write_engine)

    def check_schema(self) -> None:
        """StorageError naming the database unless its schema is current; a reader's
        ``migrate()``, which changes nothing."""
        with storage_errors(f"{self.where}: reading the schema version"):
            _migrate.require_head(self._engine, self.where)

    def ping(self) -> None:
        """One round trip to the database; StorageError when it does not answer."""
        with self._read("checking the database") as session:
            session.connection().exec_driver_sql("SELECT 1")
