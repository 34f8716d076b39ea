"""Counters of the writes that change what the service shows.

``version_counter`` holds one row per kind of data shown: "content" (series,
episodes, reviews, links) and "feeds" (the feeds' polling state). Each write
transaction adds one to the counters of what it may change, as its last statement,
so a number moves exactly when such a transaction commits, whichever process or
instance wrote; the HTTP layer keys the answers it keeps by them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "version_counter",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_version_counter")),
    )
    op.bulk_insert(table, [{"name": "content", "value": 0}, {"name": "feeds", "value": 0}])


def downgrade() -> None:
    op.drop_table("version_counter")
