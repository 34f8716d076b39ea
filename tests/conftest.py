"""Shared fixtures.

Databases: every test that asks for ``storage`` or ``database_url`` runs once against
SQLite and, when ``AGGREGATOR_TEST_POSTGRES_URL`` is set (CI sets it), once more
against that PostgreSQL database (test ids ``[sqlite]`` and ``[postgres]``).

- ``storage``: a migrated, empty ``Storage``. ``storage.url`` is its database URL,
  for tests that also drive the CLI against the same data.
- ``database_url``: the URL of a database with nothing in it, not even tables.

PostgreSQL tests never leave the database named in the URL: each test session works
in its own schemas there (``search_path`` set in the URL) and drops them at the end.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from aggregator.feeds.fetch import Fetcher
from aggregator.settings import FetchSettings
from aggregator.storage import Storage, open_storage
from tests.cli_support import Cli
from tests.feedserver import FeedServer

# --- databases ---------------------------------------------------------------------

POSTGRES_URL_ENV = "AGGREGATOR_TEST_POSTGRES_URL"
BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get(POSTGRES_URL_ENV) else [])

_schema_numbers = itertools.count()


def _pg_url(schema: str) -> str:
    url = make_url(os.environ[POSTGRES_URL_ENV])
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _new_schema_name() -> str:
    # The pid keeps parallel test runs (pytest-xdist, two checkouts) apart.
    return f"aggregator_test_{os.getpid()}_{next(_schema_numbers)}"


@pytest.fixture(scope="session")
def _pg_admin() -> Iterator[Engine]:
    engine = create_engine(_pg_url("public"), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _create_schema(admin: Engine, schema: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))


def _drop_schema(admin: Engine, schema: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(scope="session")
def _pg_migrated_schema(_pg_admin: Engine) -> Iterator[str]:
    """One schema migrated once per session; ``storage`` empties it before each test.

    Migrating per test costs ~0.1 s on PostgreSQL; TRUNCATE costs a few ms.
    """
    schema = _new_schema_name()
    _create_schema(_pg_admin, schema)
    with open_storage(_pg_url(schema)) as store:
        store.migrate()
    yield schema
    _drop_schema(_pg_admin, schema)


def _empty_tables(admin: Engine, schema: str) -> None:
    with admin.connect() as connection:
        tables = connection.execute(
            text(
                "SELECT tablename FROM pg_tables "
                "WHERE schemaname = :schema AND tablename <> 'alembic_version'"
            ),
            {"schema": schema},
        ).scalars()
        names = ", ".join(f'"{schema}"."{t}"' for t in tables)
        if names:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session", autouse=True)
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The user's cache directory (where a PostgreSQL database's linker cache goes by
    default) in a temporary folder, for this process and the processes it starts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgres"; parametrizes every test that uses a database."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL to an empty database (no tables): a new SQLite file, or a new PG schema."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'aggregator.db'}"
        return
    admin: Engine = request.getfixturevalue("_pg_admin")
    schema = _new_schema_name()
    _create_schema(admin, schema)
    yield _pg_url(schema)
    _drop_schema(admin, schema)


@pytest.fixture
def storage(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Storage]:
    """A migrated, empty Storage, closed after the test."""
    if backend == "sqlite":
        store = open_storage(f"sqlite:///{tmp_path / 'storage.db'}")
        store.migrate()
    else:
        schema: str = request.getfixturevalue("_pg_migrated_schema")
        _empty_tables(request.getfixturevalue("_pg_admin"), schema)
        store = open_storage(_pg_url(schema))
    yield store
    store.close()


@pytest.fixture
def pg_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty PostgreSQL schema's URL, for tests only PostgreSQL can run (several
    instances on one database). CI always sets AGGREGATOR_TEST_POSTGRES_URL."""
    if not os.environ.get(POSTGRES_URL_ENV):
        pytest.skip(f"{POSTGRES_URL_ENV} is not set: no PostgreSQL to share")
    admin: Engine = request.getfixturevalue("_pg_admin")
    schema = _new_schema_name()
    _create_schema(admin, schema)
    yield _pg_url(schema)
    _drop_schema(admin, schema)


# --- the CLI, in process --------------------------------------------------------------


@pytest.fixture
def cli(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """The CLI run in this process on an empty database (both backends), with an
    empty config file (a test module may override it); see tests/cli_support.py."""
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    return Cli(config, database_url, monkeypatch, capsys)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A feed server on 127.0.0.1 serving what a test puts on it."""
    with FeedServer() as s:
        yield s


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    """A fetcher with short timeouts, for feeds on the test's own server."""
    with Fetcher(FetchSettings(connect_timeout=2, read_timeout=5, total_timeout=20)) as f:
        yield f
