"""Which process holds a feed's lease: its host and its process id.

``feed.lease_host`` names where process ids can be compared (the host name, its boot
and its pid namespace: two containers may share a host name, never a pid namespace),
``feed.lease_pid`` the process. A poll killed with -9 leaves its leases held; another
process on the same host sees that pid gone and takes them back at once instead of
waiting out the lease (``aggregator.feeds.leases``). ``ix_feed_lease_host`` serves
that look ("live leases held on this host"), made at each claim.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("feed", sa.Column("lease_host", sa.Text(), nullable=True))
    op.add_column("feed", sa.Column("lease_pid", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_feed_lease_host"), "feed", ["lease_host"])


def downgrade() -> None:
    # A plain ALTER TABLE ... DROP COLUMN (see 0002 on why not batch mode).
    op.drop_index(op.f("ix_feed_lease_host"), table_name="feed")
    op.drop_column("feed", "lease_pid")
    op.drop_column("feed", "lease_host")
