"""MinHash signatures and LSH bands of review texts, kept in the database.

A review's band hashes are rows of ``review_band``, indexed by hash: the reviews
that share a band with a new copy are found with one indexed query, whichever
instance stored them. The candidates' signatures (``review.minhash``) then say how
similar each is (``aggregator.fingerprint.similarity``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select

from aggregator import fingerprint
from aggregator.storage._models import REVIEW, REVIEW_BAND
from aggregator.types import TextSketch

# Unsigned 32-bit values: datasketch's default hash gives 32 bits in a 64-bit slot.
_SIGNATURE = struct.Struct(f"<{fingerprint.NUM_PERM}I")


def encode_signature(signature: Sequence[int]) -> bytes:
    """The signature as ``review.minhash`` stores it.

    >>> decode_signature(encode_signature(range(128)))[:3]
    (0, 1, 2)
    """
    return _SIGNATURE.pack(*signature)


def decode_signature(data: bytes) -> tuple[int, ...]:
    return _SIGNATURE.unpack(data) if len(data) == _SIGNATURE.size else ()


def replace_bands(connection: Connection, review_id: int, sketch: TextSketch | None) -> None:
    """Make the review's band rows those of ``sketch`` (none for None)."""
    connection.execute(delete(REVIEW_BAND).where(REVIEW_BAND.c.review_id == review_id))
    if sketch is not None:
        rows = [{"review_id": review_id, "band_hash": h} for h in sorted(set(sketch.bands))]
        connection.execute(insert(REVIEW_BAND), rows)


def most_similar(connection: Connection, sketch: TextSketch) -> int | None:
    """The stored review most similar to ``sketch`` (lowest id among equals), if one
    reaches ``fingerprint.SAME_REVIEW``."""
    candidates = (
        select(REVIEW_BAND.c.review_id)
        .where(REVIEW_BAND.c.band_hash.in_(sorted(set(sketch.bands))))
        .distinct()
    )
    rows = connection.execute(
        select(REVIEW.c.id, REVIEW.c.minhash).where(REVIEW.c.id.in_(candidates))
    )
    best: tuple[float, int] | None = None
    for review_id, minhash in rows:
        score = fingerprint.similarity(sketch.signature, decode_signature(minhash or b""))
        if score >= fingerprint.SAME_REVIEW and (best is None or (-score, review_id) < best):
            best = (-score, review_id)
    return None if best is None else best[1]
