"""The people who wrote reviews."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from aggregator.storage._models import REVIEW

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class AuthorCount:
    """Someone who wrote reviews, as the reviews name them, and how many."""

    author: str
    reviews: int


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
