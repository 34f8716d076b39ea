"""Several reviews may share an address: the posts of one forum thread, the listener
reviews of one directory page.

A copy of a review is still found by its address, but only when its text is the
stored review's, or near it, or comes from the same source again
(``storage._review_save``); a different text from elsewhere at the same address is
another review. The index on ``review.url`` stays, no longer unique.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_review_url", table_name="review")
    op.create_index("ix_review_url", "review", ["url"])


def downgrade() -> None:
    # Fails, as it should, while two reviews share an address.
    op.drop_index("ix_review_url", table_name="review")
    op.create_index("ix_review_url", "review", ["url"], unique=True)
