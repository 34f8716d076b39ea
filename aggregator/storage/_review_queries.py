"""Review summaries: pages of reviews (by series, episode or person), review search.

A summary carries an excerpt, not the text: a page of 50 reviews of 5 KB each would
otherwise read a quarter of a megabyte to show a few lines of each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Text, cast, func, or_, select

from aggregator.exceptions import EpisodeNotFound, SeriesNotFound
from aggregator.storage import _search
from aggregator.storage._links import NOT_REJECTED
from aggregator.storage._models import EPISODE, LINK, REVIEW, SERIES
from aggregator.storage._queries import ReviewSummary
from aggregator.storage._sql import counts, in_lists, in_order, newest_first, require

# How much of a review's text a summary carries.
EXCERPT_CHARS = 300

# Evidence kinds that name a person (see types.Evidence).
PERSON_KINDS = frozenset({"person", "guest"})


def _summary_query() -> Any:
    return select(
        REVIEW.c.id,
        REVIEW.c.url,
        REVIEW.c.title,
        REVIEW.c.author,
        REVIEW.c.published,
        REVIEW.c.source,
        REVIEW.c.feed_id,
        REVIEW.c.linker_version,
        REVIEW.c.linked_at,
        REVIEW.c.created_at,
        func.substr(REVIEW.c.text, 1, EXCERPT_CHARS).label("excerpt"),
        func.length(REVIEW.c.text).label("text_length"),
    )


def _summaries(connection: Connection, rows: list[Any]) -> list[ReviewSummary]:
    links = counts(connection, LINK.c.review_id, [r.id for r in rows], NOT_REJECTED)
    return [
        ReviewSummary(
            id=r.id,
            url=r.url,
            title=r.title,
            author=r.author,
            published=r.published,
            source=r.source,
            feed_id=r.feed_id,
            linker_version=r.linker_version,
            linked_at=r.linked_at,
            created_at=r.created_at,
            excerpt=r.excerpt or "",
            text_length=int(r.text_length or 0),
            link_count=links.get(r.id, 0),
        )
        for r in rows
    ]


def reviews_page(
    connection: Connection,
    *,
    series_id: int | None = None,
    episode_id: int | None = None,
    person: str | None = None,
    author: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ReviewSummary]:
    """Review summaries newest published first (undated last, then by id).

    ``series_id``/``episode_id`` keep reviews with a link (not rejected) to that
    series (or any of its episodes) or episode, NotFoundError if there is none;
    ``person`` keeps reviews that name that person (see ``reviews_naming``);
    ``author`` those whose author is that name, exactly as stored.
    """
    query = _summary_query()
    if author is not None:
        query = query.where(REVIEW.c.author == author)
    if series_id is not None or episode_id is not None:
        # IN, not EXISTS: a series has few reviews, found by the link's index; with
        # EXISTS, SQLite walked every review newest first to find them (7 ms, 10k).
        linked = select(LINK.c.review_id).where(NOT_REJECTED)
        if series_id is not None:
            require(connection, SERIES, series_id, SeriesNotFound)
            linked = linked.where(LINK.c.series_id == series_id)
        if episode_id is not None:
            require(connection, EPISODE, episode_id, EpisodeNotFound)
            linked = linked.where(LINK.c.episode_id == episode_id)
        query = query.where(REVIEW.c.id.in_(linked))
    if person is None:
        rows = newest_first(connection, query, REVIEW.c.published, [REVIEW.c.id], limit, offset)
        return _summaries(connection, rows)
    # The person's reviews are few; order them here, then read one page of them.
    named = sorted(reviews_naming(connection, person))
    keys: list[tuple[bool, float, int]] = []
    for batch in in_lists(named):
        for row in connection.execute(query.where(REVIEW.c.id.in_(batch))):
            stamp = row.published.timestamp() if row.published is not None else 0.0
            keys.append((row.published is None, -stamp, row.id))
    keys.sort()
    end = None if limit is None else offset + limit
    page_ids = [k[2] for k in keys[offset:end]]
    return reviews_by_ids(connection, page_ids)


def reviews_by_ids(connection: Connection, ids: Sequence[int]) -> list[ReviewSummary]:
    """Summaries of the reviews with these ids, in the order given (unknown ids skipped)."""
    found: dict[int, Any] = {}
    for batch in in_lists(ids):
        for row in connection.execute(_summary_query().where(REVIEW.c.id.in_(batch))):
            found[row.id] = row
    return _summaries(connection, in_order(ids, found))


def search_reviews(
    connection: Connection, query: str, *, limit: int | None, offset: int
) -> list[ReviewSummary]:
    words = _search.search_words(query)
    ids = _search.review_ids(connection, words, limit=limit, offset=offset)
    return reviews_by_ids(connection, ids)


_SPACE = re.compile(r"\s+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]{3,}")


def _folded(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def reviews_naming(connection: Connection, person: str) -> set[int]:
    """Ids of the reviews that name ``person``: a link's evidence of kind person or
    guest whose text or detail contains the name (the linker matched it, however the
    review spelled it), or the name as a phrase in the review's title or text."""
    words = _search.search_words(person)
    name = _folded(" ".join(person.split()))
    found = set(_search.review_ids(connection, words, phrase=True))

    evidence = cast(LINK.c.evidence, Text)
    kinds = or_(*(evidence.like(f'%"{kind}"%') for kind in sorted(PERSON_KINDS)))
    query = select(LINK.c.review_id, LINK.c.evidence).where(NOT_REJECTED, kinds)
    # A cheap first cut on the longest ASCII word of the name: JSON on SQLite may
    # escape other characters, so only those are sure to appear as typed.
    ascii_words = _ASCII_WORD.findall(person)
    if ascii_words:
        needle = max(ascii_words, key=len)
        query = query.where(_contains(evidence, needle))
    for review_id, items in connection.execute(query):
        if review_id in found:
            continue
        for item in items or ():
            if item.get("kind") in PERSON_KINDS and (
                name in _folded(str(item.get("text", "")))
                or name in _folded(str(item.get("detail", "")))
            ):
                found.add(int(review_id))
                break
    return found


def _contains(column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
