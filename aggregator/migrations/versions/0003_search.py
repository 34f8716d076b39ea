"""Full-text search over episodes and reviews; feeds remember who added them.

SQLite: external-content FTS5 tables ``episode_fts`` and ``review_fts``, kept in step
with their tables by triggers, and filled from the rows already stored. PostgreSQL:
a generated ``search_vector`` column (title weighted A, the text B) on ``episode`` and
``review``, with a GIN index.

``feed.added_via`` is "api" for a feed added through the HTTP API: such a feed is
fetched with the restrictions the API imposes (no file:, no private addresses).
``ix_episode_published`` serves "newest episodes first" across series.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# PostgreSQL refuses a tsvector over 1 MiB, and a generated column that fails would
# fail the insert of the row: only the first characters of a long text are indexed
# (200k characters are ~30k words, far under the limit; reviews are at most 5 MiB).
PG_INDEXED_CHARS = 200_000
EPISODE_PG_VECTOR = (
    "(setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, "
    f"left(coalesce(description_text, ''), {PG_INDEXED_CHARS})), 'B'))"
)
REVIEW_PG_VECTOR = (
    "(setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
    f"setweight(to_tsvector('simple'::regconfig, left(\"text\", {PG_INDEXED_CHARS})), 'B'))"
)

# (FTS table, content table, indexed columns)
_SQLITE_FTS = (
    ("episode_fts", "episode", ("title", "description_text")),
    ("review_fts", "review", ("title", "text")),
)


def upgrade() -> None:
    op.add_column("feed", sa.Column("added_via", sa.String(length=16), nullable=True))
    op.create_index(op.f("ix_episode_published"), "episode", ["published"])
    if op.get_bind().dialect.name == "postgresql":
        for table, vector in (("episode", EPISODE_PG_VECTOR), ("review", REVIEW_PG_VECTOR)):
            # Stored, not only indexed: ranking reads the vector of every hit, and
            # computing it again for each took 100-300 ms a search (bench/api.py).
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
                f"GENERATED ALWAYS AS ({vector}) STORED"
            )
            op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin (search_vector)")
        return
    for fts, table, columns in _SQLITE_FTS:
        _create_sqlite_fts(fts, table, columns)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("review", "episode"):
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")
    else:
        for fts, _table, _columns in _SQLITE_FTS:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{event}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    op.drop_index(op.f("ix_episode_published"), table_name="episode")
    # A plain ALTER TABLE ... DROP COLUMN (see 0002 on why not batch mode).
    op.drop_column("feed", "added_via")


def _create_sqlite_fts(fts: str, table: str, columns: tuple[str, ...]) -> None:
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    # Diacritics kept, like PostgreSQL's "simple" configuration: one behaviour on both.
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
    )
    # External content: the index must be told the old values to forget them.
    forget = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"
    learn = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
    op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {learn} END")
    op.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {forget} END")
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {table} "
        f"BEGIN {forget} {learn} END"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
