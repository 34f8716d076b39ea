"""Which process holds a review's linking lease: its host and its process id.

As ``feed.lease_host``/``lease_pid`` (0007) for feeds: the re-linking chore leases the
reviews it links, and a process killed with -9 left them held for the lease's 120 s.
Another process on the same host now sees that pid gone and takes them back at once
(``aggregator.feeds.leases``). ``ix_review_lease_host`` serves that look ("live
leases held on this host"), made before each claim.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("review", sa.Column("lease_host", sa.Text(), nullable=True))
    op.add_column("review", sa.Column("lease_pid", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_review_lease_host"), "review", ["lease_host"])


def downgrade() -> None:
    # A plain ALTER TABLE ... DROP COLUMN (see 0002 on why not batch mode).
    op.drop_index(op.f("ix_review_lease_host"), table_name="review")
    op.drop_column("review", "lease_pid")
    op.drop_column("review", "lease_host")
