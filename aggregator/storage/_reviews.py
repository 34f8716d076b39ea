"""Reviews: texts about podcasts, read whole or as summaries, found, and deleted.

A summary carries an excerpt, not the text: a page of 50 reviews of 5 KB each would
otherwise read a quarter of a megabyte to show a few lines of each. Saving a review,
once however often and however it arrives, is ``_review_save``; linking it,
``_relink``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Text, cast, delete, func, or_, select

from aggregator.exceptions import EpisodeNotFound, ReviewNotFound, SeriesNotFound
from aggregator.storage import _search
from aggregator.storage._base import StorageBase
from aggregator.storage._links import NOT_REJECTED
from aggregator.storage._models import EPISODE, LINK, REVIEW, REVIEW_SOURCE, SERIES
from aggregator.storage._sql import (
    by_id,
    by_id_or_url,
    counts,
    in_lists,
    in_order,
    newest_first,
    page,
    record,
    require,
)
from aggregator.types import HyperLink, ReviewRecord

# How much of a review's text a summary carries.
EXCERPT_CHARS = 300

# Evidence kinds that name a person (see types.Evidence).
PERSON_KINDS = frozenset({"person", "guest"})


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    """A review without its full text: what a list of reviews shows."""

    id: int
    url: str | None
    title: str | None
    author: str | None
    published: datetime | None
    source: str
    feed_id: int | None
    linker_version: str | None
    linked_at: datetime | None
    created_at: datetime | None
    excerpt: str  # the first characters of the text (EXCERPT_CHARS)
    text_length: int
    link_count: int  # links not rejected


@dataclass(frozen=True, slots=True)
class AuthorCount:
    """Someone who wrote reviews, as the reviews name them, and how many."""

    author: str
    reviews: int


class ReviewStore(StorageBase):
    """Reviews: whole or summed up, in pages, found by words, deleted."""

    def get_review(self, review_id: int) -> ReviewRecord:
        with self._read(f"reading review {review_id}") as session:
            return to_record(by_id(session.connection(), REVIEW, review_id, ReviewNotFound))

    def get_reviews(self, review_ids: Sequence[int]) -> list[ReviewRecord]:
        """The reviews with these ids, whole, in the order given; unknown ids are left
        out. A page of ``reviews_page`` read in full: ``get_reviews([r.id for r in
        page])``."""
        with self._read("reading reviews") as session:
            return _by_ids(session.connection(), review_ids)

    def find_review(self, id_or_url: str) -> ReviewRecord:
        """By id (all digits), else by URL: the review's own, or one it came from.
        NotFoundError if neither matches."""
        with self._read(f"finding review {id_or_url}") as session:
            connection = session.connection()
            return to_record(by_id_or_url(connection, REVIEW, id_or_url, ReviewNotFound, review_at))

    def reviews_page(
        self,
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
        ``person`` keeps reviews that name that person (see ``_reviews_naming``),
        InputError when it has no words; ``author`` those whose author is that name,
        exactly as stored.
        """
        query = _summary_query()
        if author is not None:
            query = query.where(REVIEW.c.author == author)
        with self._read("listing reviews") as session:
            connection = session.connection()
            if series_id is not None or episode_id is not None:
                # IN, not EXISTS: a series has few reviews, found by the link's index;
                # with EXISTS, SQLite walked every review newest first to find them
                # (7 ms, 10k).
                linked = select(LINK.c.review_id).where(NOT_REJECTED)
                if series_id is not None:
                    require(connection, SERIES, series_id, SeriesNotFound)
                    linked = linked.where(LINK.c.series_id == series_id)
                if episode_id is not None:
                    require(connection, EPISODE, episode_id, EpisodeNotFound)
                    linked = linked.where(LINK.c.episode_id == episode_id)
                query = query.where(REVIEW.c.id.in_(linked))
            if person is None:
                rows = newest_first(
                    connection, query, REVIEW.c.published, [REVIEW.c.id], limit, offset
                )
                return _summaries(connection, rows)
            ids = _naming_page(connection, query, person, limit, offset)
            return _summaries_by_id(connection, ids)

    def search_reviews(
        self, query: str, *, limit: int | None = None, offset: int = 0
    ) -> list[ReviewSummary]:
        """Reviews having every word of ``query``, best first (see ``_search``)."""
        words = _search.search_words(query)
        with self._read("searching reviews") as session:
            connection = session.connection()
            ids = _search.review_ids(connection, words, limit=limit, offset=offset)
            return _summaries_by_id(connection, ids)

    def reviews_with_any_word(
        self, words: Sequence[str], *, published_since: datetime | None = None
    ) -> list[ReviewRecord]:
        """Reviews having at least one of ``words`` (lower-case letters and digits, as
        ``search_words`` gives them), optionally published since a time (or undated);
        by id. Served by the full-text index: no review is read that has none."""
        with self._read("finding reviews by words") as session:
            connection = session.connection()
            ids = _search.review_ids_with_any(
                connection, list(words), published_since=published_since
            )
            return _by_ids(connection, ids)

    def review_authors(self, *, limit: int | None = None, offset: int = 0) -> list[AuthorCount]:
        """Who wrote the reviews (as they name their authors), most reviews first, then
        by name."""
        n = func.count().label("n")
        query = (
            select(REVIEW.c.author, n)
            .where(REVIEW.c.author.is_not(None), REVIEW.c.author != "")
            .group_by(REVIEW.c.author)
            .order_by(n.desc(), REVIEW.c.author)
        )
        with self._read("listing review authors") as session:
            rows = session.connection().execute(page(query, limit, offset))
            return [AuthorCount(str(a), int(n)) for a, n in rows]

    def review_count(self) -> int:
        with self._read("counting reviews") as session:
            query = select(func.count()).select_from(REVIEW)
            return int(session.connection().execute(query).scalar_one())

    def delete_review(self, review_id: int) -> None:
        """Delete a review and its links (the foreign key cascades). NotFoundError if
        there is none."""
        with self._write(f"deleting review {review_id}") as session:
            result = session.connection().execute(delete(REVIEW).where(REVIEW.c.id == review_id))
            if result.rowcount == 0:
                raise ReviewNotFound(f"no review with id {review_id}")


# --- whole reviews -------------------------------------------------------------------


def hyperlinks_to_json(links: tuple[HyperLink, ...]) -> list[dict[str, Any]]:
    return [asdict(link) for link in links]


def hyperlinks_from_json(data: list[dict[str, Any]] | None) -> tuple[HyperLink, ...]:
    return tuple(HyperLink(**item) for item in data or ())


def to_record(row: Row[Any]) -> ReviewRecord:
    return record(ReviewRecord, row, links=hyperlinks_from_json(row.links))


def _by_ids(connection: Connection, ids: Sequence[int]) -> list[ReviewRecord]:
    """The reviews with these ids (those that exist), in the order given."""
    found: dict[int, ReviewRecord] = {}
    for chunk in in_lists(ids):
        for row in connection.execute(select(REVIEW).where(REVIEW.c.id.in_(chunk))):
            found[row.id] = to_record(row)
    return in_order(ids, found)


def reviews_at(connection: Connection, url: str) -> list[Row[Any]]:
    """The reviews whose URL is ``url``, then those that came from it; by id."""
    held = list(connection.execute(select(REVIEW).where(REVIEW.c.url == url).order_by(REVIEW.c.id)))
    came_from = select(REVIEW_SOURCE.c.review_id).where(REVIEW_SOURCE.c.location == url).distinct()
    seen = {row.id for row in held}
    query = select(REVIEW).where(REVIEW.c.id.in_(came_from)).order_by(REVIEW.c.id)
    return held + [row for row in connection.execute(query) if row.id not in seen]


def review_at(connection: Connection, url: str) -> Row[Any] | None:
    """The review whose URL is ``url``, else the first one that came from it."""
    return next(iter(reviews_at(connection, url)), None)


# --- summaries -----------------------------------------------------------------------


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
        record(
            ReviewSummary,
            r,
            excerpt=r.excerpt or "",
            text_length=int(r.text_length or 0),
            link_count=links.get(r.id, 0),
        )
        for r in rows
    ]


def _summaries_by_id(connection: Connection, ids: Sequence[int]) -> list[ReviewSummary]:
    """Summaries of the reviews with these ids, in the order given (unknown ids skipped)."""
    found: dict[int, Any] = {}
    for batch in in_lists(ids):
        for row in connection.execute(_summary_query().where(REVIEW.c.id.in_(batch))):
            found[row.id] = row
    return _summaries(connection, in_order(ids, found))


def _naming_page(
    connection: Connection, query: Any, person: str, limit: int | None, offset: int
) -> list[int]:
    """The ids of one page of the reviews ``query`` keeps that name ``person``, newest
    first: they are few, so they are ordered here, and only that page is read."""
    named = sorted(_reviews_naming(connection, person))
    keys: list[tuple[bool, float, int]] = []
    for batch in in_lists(named):
        for row in connection.execute(query.where(REVIEW.c.id.in_(batch))):
            stamp = row.published.timestamp() if row.published is not None else 0.0
            keys.append((row.published is None, -stamp, row.id))
    keys.sort()
    end = None if limit is None else offset + limit
    return [k[2] for k in keys[offset:end]]


_SPACE = re.compile(r"\s+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]{3,}")


def _folded(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def _reviews_naming(connection: Connection, person: str) -> set[int]:
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
