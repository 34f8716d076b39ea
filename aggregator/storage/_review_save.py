"""Saving a review: one review however often, and however, it arrives.

A copy of a review is the review already stored at the same address (its URL, or a
URL it came from before), else the one with the same text (case, spacing and
punctuation aside; the text it holds or one a source brought), else the one with
nearly the same text (MinHash, ``_sketches``): a blog feed's copy without the
headline and comment form of the page, a re-published copy with another footer.
Copies at two different addresses are one review only when the text is long enough
to have a MinHash (``fingerprint.MIN_WORDS``): a feed whose items all read "Listen
now." is not one review.

What a copy does to the review it repeats:

- from the source whose copy the review holds (the same page, feed item or file
  again; stdin, and text given to the API without a URL, are one source each, so a
  text pasted again after an edit is that edit): it replaces the review in place, as
  an update — its text, and what it says about the review (title, author, date), what
  it lacks being kept;
- from another source: the source is recorded, and the richer copy wins — the longer
  main text (with its HTML and hyperlinks; on a tie the stored one), that copy's title
  and author (the other's where it has none), the earliest date, the first URL.

The review keeps its id and the human decisions on its links; a change to what the
linker reads makes it due for linking again, nothing else does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, text, update
from sqlalchemy.exc import IntegrityError

from aggregator.exceptions import ReviewAlreadyExists
from aggregator.storage import _review_sources, _reviews, _sketches
from aggregator.storage._models import REVIEW
from aggregator.storage._review_sources import Arrival
from aggregator.types import Match, ReviewDocument, SavedReview, TextSketch

# PostgreSQL advisory lock held while a review is saved. Two instances saving copies
# of one review at once would otherwise both find nothing and insert twice: no
# constraint can catch a near-duplicate. SQLite writers queue anyway (BEGIN IMMEDIATE).
_PG_SAVE_LOCK = 0x72657677  # "revw"

# Metadata kept from the stored row when a new copy of the review lacks it (a file
# added again without --published must not lose the date it was first given).
_KEPT_WHEN_MISSING = ("url", "title", "author", "published", "feed_id")

# What the linker reads (``ReviewRecord.document()``; the date places "the last
# episode"): a change to any of them makes the review due for linking again.
_LINKED_FROM = frozenset({"text", "html", "links", "title", "url", "author", "published"})

# The text and what comes with it: taken together from one copy.
_TEXT_FIELDS = ("text", "html", "links", "content_hash", "minhash")


def save(
    connection: Connection,
    document: ReviewDocument,
    *,
    content_hash: str,
    sketch: TextSketch | None,
    source: str,
    origin: str | None,
    now: datetime,
    feed_id: int | None,
) -> SavedReview:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SAVE_LOCK})
    values: dict[str, Any] = {
        "url": document.url,
        "title": document.title,
        "author": document.author,
        "published": document.published,
        "text": document.text,
        "html": document.html,
        "links": _reviews.hyperlinks_to_json(document.links),
        "content_hash": content_hash,
        "minhash": None if sketch is None else _sketches.encode_signature(sketch.signature),
        "source": source,
        "feed_id": feed_id,
    }
    arrival = Arrival(source, origin or document.url or "", feed_id, content_hash)
    found = _match(connection, document.url, content_hash, sketch)
    if found is None:
        try:
            new_id = connection.execute(
                insert(REVIEW).values(**values, created_at=now, updated_at=now)
            ).inserted_primary_key
        except IntegrityError as e:
            raise ReviewAlreadyExists(f"a review with the URL {document.url} exists") from e
        assert new_id is not None
        _sketches.replace_bands(connection, new_id[0], sketch)
        _review_sources.record(connection, new_id[0], arrival, None, now)
        return SavedReview(_reviews.get(connection, new_id[0]))

    stored, match = found
    known = _review_sources.find(connection, stored.id, arrival)
    # The source whose copy the review holds sends it again: an update in place.
    in_place = known is not None and known.content_hash == stored.content_hash
    took_text = not in_place and len(document.text) > len(stored.text)
    changes = _updated(stored, values) if in_place else _merged(stored, values, took_text)
    if changes.keys() & _LINKED_FROM:
        # The links made from the old document must be remade (their evidence spans
        # point into the old text); reviews_needing_link returns the review again.
        changes.update(linker_version=None, linked_at=None)
    if changes:
        connection.execute(
            update(REVIEW).where(REVIEW.c.id == stored.id).values(**changes, updated_at=now)
        )
    if changes.keys() & {"content_hash", "minhash"}:
        _sketches.replace_bands(connection, stored.id, sketch)
    added = _review_sources.record(connection, stored.id, arrival, known, now)
    return SavedReview(
        _reviews.get(connection, stored.id),
        match=match,
        source_added=added,
        changed=bool(changes),
        took_text=took_text,
    )


def _match(
    connection: Connection, url: str | None, content_hash: str, sketch: TextSketch | None
) -> tuple[Row[Any], Match] | None:
    """The stored review this copy repeats, and how it was found."""
    if url is not None:
        row = _review_sources.review_at(connection, url)
        if row is not None:
            return row, Match.ADDRESS
    for row in _review_sources.reviews_with_text(connection, content_hash):
        # Short texts at two different addresses stay two reviews (see above).
        if sketch is not None or url is None or row.url is None or row.url == url:
            return row, Match.TEXT
    if sketch is not None:
        similar = _sketches.most_similar(connection, sketch)
        if similar is not None:
            return _reviews.get_row(connection, similar), Match.NEAR_TEXT
    return None


def _updated(stored: Row[Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy from the source the review holds replaces it: what it says wins, what
    it lacks is kept, and the address the review was first stored at stays."""
    old = stored._mapping
    return {
        name: value
        for name, value in values.items()
        if old[name] != value
        and name != "source"  # how it first came: the sources say the rest
        and not (value is None and name in _KEPT_WHEN_MISSING)
        and not (name == "url" and old[name] is not None)
    }


def _merged(stored: Row[Any], values: dict[str, Any], took_text: bool) -> dict[str, Any]:
    """A copy from another source: the longer text wins (``took_text``) with its title
    and author; the other copy fills what the winner lacks; the earliest date stays."""
    old = stored._mapping
    merged: dict[str, Any] = {}
    if took_text:
        merged.update({name: values[name] for name in _TEXT_FIELDS})
    winner, other = (values, old) if took_text else (old, values)
    for name in ("title", "author"):
        merged[name] = winner[name] if winner[name] is not None else other[name]
    dates = [d for d in (old["published"], values["published"]) if d is not None]
    merged["published"] = min(dates) if dates else None
    for name in ("url", "feed_id"):
        merged[name] = old[name] if old[name] is not None else values[name]
    return {name: value for name, value in merged.items() if old[name] != value}
