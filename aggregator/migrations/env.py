"""Alembic environment for aggregator.

Run programmatically by ``Storage.migrate()``, which hands over an open connection in
``config.attributes["connection"]`` (no ``alembic.ini`` needed). To write a new
migration, change ``aggregator/storage/_models.py`` and let Alembic compare; e.g.

    python -c "from aggregator.storage._migrate import revision; \
revision('sqlite:///dev.db', 'add reviews')"

then read and tidy the generated file in ``versions/`` (name it ``NNNN_what.py``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from aggregator.storage._models import METADATA


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url given to the migrations")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("aggregator's migrations run online only (Storage.migrate)")
_run_online()
