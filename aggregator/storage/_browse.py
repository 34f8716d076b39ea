"""What the web pages browse by that the API's pages do not: series found by name,
the people who wrote reviews, and series looked up by id for a list of episodes.

Series are matched in Python over their titles and authors rather than with a
full-text index: a store follows hundreds or a few thousand series, two short
columns of each are read in milliseconds, and casefolding here answers alike on
SQLite (whose ``lower()`` folds ASCII only) and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from aggregator.storage import _search
from aggregator.storage._models import REVIEW, SERIES
from aggregator.storage._queries import SeriesRow, series_rows_for
from aggregator.storage._sql import in_lists

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class AuthorCount:
    """Someone who wrote reviews, as the reviews name them, and how many."""

    author: str
    reviews: int


def _name_words(*texts: str | None) -> list[str]:
    return [w.casefold() for text in texts if text for w in _WORD.findall(text)]


def _matches(query_words: Sequence[str], name_words: Sequence[str]) -> bool:
    # Each query word starts a word of the name: "ser" finds "Serial", "this am" finds
    # "This American Life"; no word of the query is left unmatched.
    return all(any(w.startswith(q) for w in name_words) for q in query_words)


def search_series(
    connection: Connection, query: str, *, limit: int | None, offset: int
) -> list[SeriesRow]:
    """Series whose title or author has a word starting with each word of ``query``,
    by title (case-insensitive), then id. InputError when the query has no words."""
    words = [w.casefold() for w in _search.search_words(query)]
    rows = connection.execute(
        select(SERIES.c.id, SERIES.c.title, SERIES.c.author).order_by(
            func.lower(SERIES.c.title), SERIES.c.id
        )
    )
    ids = [r.id for r in rows if _matches(words, _name_words(r.title, r.author))]
    end = None if limit is None else offset + limit
    wanted = ids[offset:end]
    return [row for batch in in_lists(wanted) for row in series_rows_for(connection, batch)]


def series_by_ids(connection: Connection, ids: Collection[int]) -> dict[int, SeriesRow]:
    """The series with these ids (unknown ids left out), by id."""
    found: dict[int, SeriesRow] = {}
    for batch in in_lists(sorted(set(ids))):
        for row in series_rows_for(connection, batch):
            found[row.series.id] = row
    return found


def shared_series_titles(connection: Connection) -> set[str]:
    """Titles that more than one series has (two feeds both called "Serial")."""
    query = select(SERIES.c.title).group_by(SERIES.c.title).having(func.count() > 1)
    return {str(t) for t in connection.execute(query).scalars()}


def review_authors(connection: Connection, *, limit: int | None, offset: int) -> list[AuthorCount]:
    """The authors of reviews, those with most reviews first, then by name."""
    count = func.count().label("n")
    query = (
        select(REVIEW.c.author, count)
        .where(REVIEW.c.author.is_not(None), REVIEW.c.author != "")
        .group_by(REVIEW.c.author)
        .order_by(count.desc(), REVIEW.c.author)
    )
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [AuthorCount(str(a), int(n)) for a, n in connection.execute(query)]
