"""Alembic, driven from code: the migration scripts ship inside the package.

Alembic (with Mako and Pygments behind it) takes ~0.3 s to import and to read the
scripts, which every CLI command would pay just to learn that the schema is current.
So it is imported only when there is something to do: a database whose
``alembic_version`` already says ``HEAD`` is left alone after one cheap SELECT.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from aggregator.exceptions import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions; test_migrations checks it is Alembic's head.
HEAD = "0010"

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"

# Any fixed number: every instance that migrates takes this PostgreSQL advisory lock,
# so two instances starting together do not both create the tables.
_PG_MIGRATION_LOCK = 0x61676772  # "aggr"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Without it Alembic >= 1.16 warns about legacy splitting of version_locations.
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def current_revision(engine: Engine) -> str | None:
    """The schema's revision, or None for a database Alembic has not touched."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None  # no alembic_version table yet (or no database: upgrade will say)


def require_head(engine: Engine, where: str) -> None:
    """StorageError naming the database unless its schema is the newest: for readers,
    who must not create or upgrade it (and may have no right to)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            raise StorageError(
                f"{where}: no aggregator tables yet (`aggregator init` creates them)"
            )
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if found != HEAD:
        raise StorageError(
            f"{where}: the database's schema is revision {found}, this aggregator reads "
            f"{HEAD} (`aggregator init` upgrades an older one)"
        )


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already."""
    if current_revision(engine) == HEAD:
        return
    from alembic import command
    from alembic.util import CommandError

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        try:
            command.upgrade(alembic_config(connection), "head")
        except CommandError as e:
            # Typically a database migrated by a newer aggregator than this one.
            raise StorageError(f"migrating the database: {e}") from e


def downgrade_to(engine: Engine, revision: str) -> None:
    """Step the schema back (``"base"`` drops every table); for tests and repairs."""
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def revision(database_url: str, message: str) -> None:
    """Generate a migration by comparing the models with a database at head.

    A developer's tool (see ``aggregator/migrations/env.py``); never called at run time.
    """
    from alembic import command

    command.revision(alembic_config(url=database_url), message=message, autogenerate=True)
