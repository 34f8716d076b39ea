"""Reviews and their links; plain-text descriptions of series and episodes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types: a migration must not change when the models do.
UTC_DATETIME = sa.DateTime(timezone=True)

# Rows converted per round trip when deriving the plain-text descriptions.
_BACKFILL_BATCH = 1000


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    for table in ("series", "episode"):
        op.add_column(table, sa.Column("description_text", sa.Text(), nullable=True))
        _backfill_description_text(table)

    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("published", UTC_DATETIME, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("links", _json(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=True),
        sa.Column("linker_version", sa.Text(), nullable=True),
        sa.Column("linked_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feed.id"], name=op.f("fk_review_feed_id_feed"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review")),
    )
    # NULLs are distinct in a unique index on both backends: one review per URL,
    # any number without one.
    op.create_index(op.f("ix_review_url"), "review", ["url"], unique=True)
    op.create_index(op.f("ix_review_published"), "review", ["published"])
    op.create_index(op.f("ix_review_content_hash"), "review", ["content_hash"])
    op.create_index(op.f("ix_review_feed_id"), "review", ["feed_id"])

    op.create_table(
        "link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=True),
        # episode_id, or 0 for a link to the series as a whole: a unique constraint
        # over the nullable episode_id would let duplicate series-level links in.
        sa.Column("episode_key", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("linker_version", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "episode_key = COALESCE(episode_id, 0)", name=op.f("ck_link_episode_key")
        ),
        sa.ForeignKeyConstraint(
            ["review_id"], ["review.id"], name=op.f("fk_link_review_id_review"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_link_series_id_series"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episode.id"],
            name=op.f("fk_link_episode_id_episode"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link")),
        sa.UniqueConstraint(
            "review_id",
            "series_id",
            "episode_key",
            name=op.f("uq_link_review_id_series_id_episode_key"),
        ),
    )
    op.create_index(op.f("ix_link_series_id"), "link", ["series_id"])
    op.create_index(op.f("ix_link_episode_id"), "link", ["episode_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_link_episode_id"), table_name="link")
    op.drop_index(op.f("ix_link_series_id"), table_name="link")
    op.drop_table("link")
    op.drop_index(op.f("ix_review_feed_id"), table_name="review")
    op.drop_index(op.f("ix_review_content_hash"), table_name="review")
    op.drop_index(op.f("ix_review_published"), table_name="review")
    op.drop_index(op.f("ix_review_url"), table_name="review")
    op.drop_table("review")
    # A plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), not batch mode: batch mode
    # drops and recreates the table, and with foreign keys on, dropping series would
    # cascade into every episode.
    op.drop_column("episode", "description_text")
    op.drop_column("series", "description_text")


def _backfill_description_text(table_name: str) -> None:
    """Derive the plain text of the descriptions already stored, in batches by id."""
    # Imported here so that only this data step, not the schema, depends on app code.
    from aggregator.sanitize import html_to_text

    table = sa.table(
        table_name, sa.column("id"), sa.column("description"), sa.column("description_text")
    )
    fill = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values(description_text=sa.bindparam("b_text"))
    )
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c.description)
            .where(table.c.id > last_id)
            .order_by(table.c.id)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(fill, [{"b_id": i, "b_text": html_to_text(d or "")} for i, d in rows])
        last_id = rows[-1][0]
