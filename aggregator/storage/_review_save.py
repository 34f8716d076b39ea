"""Saving a review: one review however often, and however, it arrives.

A copy of a review is the review already stored at the same address (its URL, or a
URL it came from before) when it is that review's text, an edit from the same source,
or a text that mostly overlaps it (an excerpt, another headline or footer); a different
text from elsewhere at one address is another review (the posts of one forum thread,
the listener reviews of one directory page). Else a copy is the review with the
same text (case, spacing and punctuation aside; the text it holds or one a source
brought), else the one with nearly the same text (MinHash, ``_sketches``): a blog
feed's copy without the headline and comment form of the page, a re-published copy
with another footer.
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

Each source (feed items, pages, files, stdin, the API) keeps the content hash of the
copy it last brought, so a review is found by any address it came from and by the
text of any of its copies, not only by the URL and text it holds now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, text, union, update
from sqlalchemy.exc import IntegrityError

from aggregator.exceptions import ReviewAlreadyExists, ReviewNotFound
from aggregator.fingerprint import SHINGLE_WORDS, words
from aggregator.storage import _sketches
from aggregator.storage._base import StorageBase
from aggregator.storage._models import REVIEW, REVIEW_SOURCE
from aggregator.storage._reviews import hyperlinks_to_json, reviews_at, to_record
from aggregator.storage._sql import by_id, record, require
from aggregator.types import (
    Match,
    ReviewDocument,
    ReviewSourceRecord,
    SavedReview,
    TextSketch,
)

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


@dataclass(frozen=True, slots=True)
class Arrival:
    """Where a copy of a review came from: a source's kind and location (the item's
    link, the page's URL, the file's path, or ""), its feed, and its text's hash."""

    kind: str
    location: str
    feed_id: int | None
    content_hash: str


class ReviewSaveStore(StorageBase):
    """Reviews saved, once each however they arrive, and the ways they arrived."""

    def save_review(
        self,
        document: ReviewDocument,
        *,
        content_hash: str,
        source: str,
        now: datetime,
        feed_id: int | None = None,
        sketch: TextSketch | None = None,
        origin: str | None = None,
    ) -> SavedReview:
        """Store a review, or the copy of one already stored (this module's docstring
        says how a copy is found and what it changes).

        ``content_hash`` and ``sketch`` are the text's fingerprints
        (``aggregator.fingerprint``); no sketch means a text too short to compare by
        MinHash, and to be one review with a copy at another address. ``source`` is
        how the copy came ("feed", "url", "file", "stdin", "api") and ``origin`` from
        where (a file's path; by default the document's URL). A changed text makes the
        review due for linking again.
        """
        columns = _columns(document, content_hash, sketch, source, feed_id)
        arrival = Arrival(source, origin or document.url or "", feed_id, content_hash)
        with self._write(f"saving review {document.url or content_hash}") as session:
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                connection.execute(_LOCK, {"key": _PG_SAVE_LOCK})
            found = _match(connection, document, arrival, sketch)
            if found is not None:
                return _save_copy(connection, *found, columns, arrival, sketch, now)
            try:
                inserted = connection.execute(
                    insert(REVIEW).values(**columns, created_at=now, updated_at=now)
                ).inserted_primary_key
            except IntegrityError as e:
                raise ReviewAlreadyExists(f"the review {document.url} could not be stored") from e
            assert inserted is not None
            review_id = int(inserted[0])
            _sketches.replace_bands(connection, review_id, sketch)
            _record(connection, review_id, arrival, None, now)
            return SavedReview(to_record(by_id(connection, REVIEW, review_id, ReviewNotFound)))

    def review_sources(self, review_id: int) -> list[ReviewSourceRecord]:
        """The ways the review arrived, first come first. NotFoundError if there is
        no such review."""
        query = (
            select(REVIEW_SOURCE)
            .where(REVIEW_SOURCE.c.review_id == review_id)
            .order_by(REVIEW_SOURCE.c.added_at, REVIEW_SOURCE.c.id)
        )
        with self._read(f"reading the sources of review {review_id}") as session:
            connection = session.connection()
            require(connection, REVIEW, review_id, ReviewNotFound)
            return [record(ReviewSourceRecord, row) for row in connection.execute(query)]


_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def _columns(
    document: ReviewDocument,
    content_hash: str,
    sketch: TextSketch | None,
    source: str,
    feed_id: int | None,
) -> dict[str, Any]:
    """The review's columns as this copy gives them."""
    return {
        "url": document.url,
        "title": document.title,
        "author": document.author,
        "published": document.published,
        "text": document.text,
        "html": document.html,
        "links": hyperlinks_to_json(document.links),
        "content_hash": content_hash,
        "minhash": None if sketch is None else _sketches.encode_signature(sketch.signature),
        "source": source,
        "feed_id": feed_id,
    }


def _save_copy(
    connection: Connection,
    stored: Row[Any],
    match: Match,
    columns: dict[str, Any],
    arrival: Arrival,
    sketch: TextSketch | None,
    now: datetime,
) -> SavedReview:
    """Save a copy of the ``stored`` review: an update in place, or a merge."""
    known = _source(connection, stored.id, arrival)
    # The source whose copy the review holds sends it again: an update in place.
    in_place = known is not None and known.content_hash == stored.content_hash
    took_text = not in_place and len(columns["text"]) > len(stored.text)
    changes = _updated(stored, columns) if in_place else _merged(stored, columns, took_text)
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
    added = _record(connection, stored.id, arrival, known, now)
    return SavedReview(
        to_record(by_id(connection, REVIEW, stored.id, ReviewNotFound)),
        match=match,
        source_added=added,
        changed=bool(changes),
        took_text=took_text,
    )


def _match(
    connection: Connection,
    document: ReviewDocument,
    arrival: Arrival,
    sketch: TextSketch | None,
) -> tuple[Row[Any], Match] | None:
    """The stored review this copy repeats, and how it was found."""
    url, content_hash = document.url, arrival.content_hash
    if url is not None:
        for row in reviews_at(connection, url):
            if _same_at_address(connection, row, arrival, document.text):
                return row, Match.ADDRESS
    for row in _reviews_with_text(connection, content_hash):
        # Short texts at two different addresses stay two reviews (see above).
        if sketch is not None or url is None or row.url is None or row.url == url:
            return row, Match.TEXT
    if sketch is not None:
        similar = _sketches.most_similar(connection, sketch)
        if similar is not None:
            return by_id(connection, REVIEW, similar, ReviewNotFound), Match.NEAR_TEXT
    return None


# Two texts at one address are one review when most of the shorter one's runs of
# three words stand in the longer: an excerpt, an edit, a copy with another headline
# or footer. The posts of one forum thread, or the listener reviews of one directory
# page, share almost none (measured: 0.00-0.05 between the different reviews of the
# four pages the blind set's reviews share; 0.97-1.0 between the copies of
# tests/data/copies; 0.57 between two rewrites of one review by two hands).
_SAME_TEXT = 0.5
# Below this many words either way, two texts cannot be told apart by their words:
# they are taken as one review, as they were when an address was always one review.
_FEW_WORDS = 8


def _same_at_address(connection: Connection, stored: Row[Any], arrival: Arrival, text: str) -> bool:
    """Whether a copy arriving at the stored review's address is that review: its
    text, its source again (an edit), or a text that overlaps it."""
    if stored.content_hash == arrival.content_hash:
        return True
    if _source(connection, stored.id, arrival) is not None:
        return True
    ours, theirs = words(text), words(stored.text)
    if min(len(ours), len(theirs)) < _FEW_WORDS:
        return True
    a, b = _runs(ours), _runs(theirs)
    return len(a & b) >= _SAME_TEXT * min(len(a), len(b))


def _runs(text_words: list[str]) -> set[tuple[str, ...]]:
    n = SHINGLE_WORDS
    return {tuple(text_words[i : i + n]) for i in range(max(1, len(text_words) - n + 1))}


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


def _reviews_with_text(connection: Connection, content_hash: str) -> list[Row[Any]]:
    """The reviews holding this text, or having had it from one of their sources; by id."""
    # A UNION of two index lookups: with OR, PostgreSQL reads every review.
    ids = union(
        select(REVIEW.c.id).where(REVIEW.c.content_hash == content_hash),
        select(REVIEW_SOURCE.c.review_id).where(REVIEW_SOURCE.c.content_hash == content_hash),
    )
    query = select(REVIEW).where(REVIEW.c.id.in_(ids.scalar_subquery()))
    return list(connection.execute(query.order_by(REVIEW.c.id)))


def _source(connection: Connection, review_id: int, arrival: Arrival) -> Row[Any] | None:
    """The review's source that ``arrival`` comes from again, if it is known."""
    query = select(REVIEW_SOURCE).where(
        REVIEW_SOURCE.c.review_id == review_id,
        REVIEW_SOURCE.c.kind == arrival.kind,
        REVIEW_SOURCE.c.location == arrival.location,
    )
    return connection.execute(query).first()


def _record(
    connection: Connection, review_id: int, arrival: Arrival, known: Row[Any] | None, now: datetime
) -> bool:
    """Add ``arrival`` as a source of the review, or bring the known one up to date
    (the text it brought, its feed); True if the source is new."""
    if known is None:
        connection.execute(
            insert(REVIEW_SOURCE).values(
                review_id=review_id,
                kind=arrival.kind,
                location=arrival.location,
                feed_id=arrival.feed_id,
                content_hash=arrival.content_hash,
                added_at=now,
            )
        )
        return True
    changes: dict[str, Any] = {}
    if known.content_hash != arrival.content_hash:
        changes["content_hash"] = arrival.content_hash
    if arrival.feed_id is not None and known.feed_id != arrival.feed_id:
        changes["feed_id"] = arrival.feed_id
    if changes:
        connection.execute(
            update(REVIEW_SOURCE).where(REVIEW_SOURCE.c.id == known.id).values(**changes)
        )
    return False
