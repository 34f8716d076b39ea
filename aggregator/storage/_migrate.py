"""Alembic, driven from code: the migration scripts ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"

# Any fixed number: every instance that migrates takes this PostgreSQL advisory lock,
# so two instances starting together do not both create the tables.
_PG_MIGRATION_LOCK = 0x61676772  # "aggr"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Without it Alembic >= 1.16 warns about legacy splitting of version_locations.
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        command.upgrade(alembic_config(connection), "head")


def downgrade_to(engine: Engine, revision: str) -> None:
    """Step the schema back (``"base"`` drops every table); for tests and repairs."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def revision(database_url: str, message: str) -> None:
    """Generate a migration by comparing the models with a database at head.

    A developer's tool (see ``aggregator/migrations/env.py``); never called at run time.
    """
    command.revision(alembic_config(url=database_url), message=message, autogenerate=True)
