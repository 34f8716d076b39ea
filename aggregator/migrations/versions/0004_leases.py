"""Leases for several instances on one database, and a catalog change time.

``review.lease_owner``/``lease_until``: linking work claimed by one instance, like
the feed leases of 0001 (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL).
``ix_feed_lease_owner`` serves the lease renewal ("every feed this instance holds").

``series.changed_at``: when the series or any of its episodes last changed (new,
updated or gone missing). Each instance keeps the linker's catalog in memory and
reloads the series whose ``changed_at`` moved, whichever instance stored the change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("review", sa.Column("lease_owner", sa.Text(), nullable=True))
    op.add_column("review", sa.Column("lease_until", UTC_DATETIME, nullable=True))
    op.create_index(op.f("ix_feed_lease_owner"), "feed", ["lease_owner"])
    op.add_column("series", sa.Column("changed_at", UTC_DATETIME, nullable=True))
    op.execute("UPDATE series SET changed_at = updated_at")


def downgrade() -> None:
    # A plain ALTER TABLE ... DROP COLUMN (see 0002 on why not batch mode).
    op.drop_column("series", "changed_at")
    op.drop_index(op.f("ix_feed_lease_owner"), table_name="feed")
    op.drop_column("review", "lease_until")
    op.drop_column("review", "lease_owner")
