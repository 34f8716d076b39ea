"""One review however it arrives: its sources, and fingerprints to find its copies.

``review_source``: each way a review arrived (a feed's item, a page, a file, stdin,
the API), with the content hash of the copy it brought. ``review.minhash`` and
``review_band``: the MinHash signature of the review's text and its LSH band hashes
(``aggregator.fingerprint``), which find a copy that is nearly the same text.

Reviews already stored get one source each (how and where they came, as the review
row says) and their fingerprints: the content hash recomputed from the stored text,
and a signature with band hashes for texts long enough to have one. Reviews stored
twice before this revision stay two: nothing is merged here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)

# Reviews fingerprinted per round trip.
_BACKFILL_BATCH = 200


def upgrade() -> None:
    op.add_column("review", sa.Column("minhash", sa.LargeBinary(), nullable=True))
    op.create_table(
        "review_band",
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("band_hash", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["review.id"],
            name=op.f("fk_review_band_review_id_review"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("review_id", "band_hash", name=op.f("pk_review_band")),
    )
    op.create_index("ix_review_band_band_hash", "review_band", ["band_hash"])
    op.create_table(
        "review_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("added_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["review.id"],
            name=op.f("fk_review_source_review_id_review"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feed.id"],
            name=op.f("fk_review_source_feed_id_feed"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_source")),
        sa.UniqueConstraint(
            "review_id",
            "kind",
            "location",
            name=op.f("uq_review_source_review_id_kind_location"),
        ),
    )
    op.create_index("ix_review_source_location", "review_source", ["location"])
    op.create_index("ix_review_source_content_hash", "review_source", ["content_hash"])
    op.create_index(op.f("ix_review_source_feed_id"), "review_source", ["feed_id"])
    _backfill()


def downgrade() -> None:
    op.drop_index(op.f("ix_review_source_feed_id"), table_name="review_source")
    op.drop_index("ix_review_source_content_hash", table_name="review_source")
    op.drop_index("ix_review_source_location", table_name="review_source")
    op.drop_table("review_source")
    op.drop_index("ix_review_band_band_hash", table_name="review_band")
    op.drop_table("review_band")
    # A plain ALTER TABLE ... DROP COLUMN (see 0002 on why not batch mode).
    op.drop_column("review", "minhash")


def _backfill() -> None:
    """Fingerprints and a source for every review stored, in batches by id."""
    # Imported here so that only this data step, not the schema, depends on app code.
    from aggregator import fingerprint
    from aggregator.storage._sketches import encode_signature

    review = sa.table(
        "review",
        sa.column("id"),
        sa.column("text"),
        sa.column("url"),
        sa.column("source"),
        sa.column("feed_id"),
        sa.column("created_at"),
        sa.column("content_hash"),
        sa.column("minhash"),
    )
    band = sa.table("review_band", sa.column("review_id"), sa.column("band_hash"))
    source = sa.table(
        "review_source",
        sa.column("review_id"),
        sa.column("kind"),
        sa.column("location"),
        sa.column("feed_id"),
        sa.column("content_hash"),
        sa.column("added_at"),
    )
    fill = (
        sa.update(review)
        .where(review.c.id == sa.bindparam("b_id"))
        .values(content_hash=sa.bindparam("b_hash"), minhash=sa.bindparam("b_minhash"))
    )
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(
                review.c.id,
                review.c.text,
                review.c.url,
                review.c.source,
                review.c.feed_id,
                review.c.created_at,
            )
            .where(review.c.id > last_id)
            .order_by(review.c.id)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        fills, bands, sources = [], [], []
        for row in rows:
            digest = fingerprint.content_hash(row.text)
            sketch = fingerprint.sketch(row.text)
            minhash = None if sketch is None else encode_signature(sketch.signature)
            fills.append({"b_id": row.id, "b_hash": digest, "b_minhash": minhash})
            if sketch is not None:
                bands += [{"review_id": row.id, "band_hash": h} for h in set(sketch.bands)]
            sources.append(
                {
                    "review_id": row.id,
                    "kind": row.source,
                    "location": row.url or "",
                    "feed_id": row.feed_id,
                    "content_hash": digest,
                    "added_at": row.created_at,
                }
            )
        connection.execute(fill, fills)
        if bands:
            connection.execute(sa.insert(band), bands)
        connection.execute(sa.insert(source), sources)
        last_id = rows[-1].id
