"""Series: one per podcast feed, rewritten only when its content changed; read in
pages with their episode and review counts, and found by name.

Series are found by name in Python over their titles and authors rather than with a
full-text index: a store follows hundreds or a few thousand series, two short
columns of each are read in milliseconds, and casefolding here answers alike on
SQLite (whose ``lower()`` folds ASCII only) and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, insert, literal, select, update

from aggregator.exceptions import SeriesNotFound
from aggregator.storage import _links, _search
from aggregator.storage._base import StorageBase
from aggregator.storage._models import EPISODE, FEED, LINK, SERIES
from aggregator.storage._sql import counts, in_lists, in_order, page, record
from aggregator.types import ParsedSeries, Person, SeriesRecord

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """A series with the number of reviews linked to it or to one of its episodes."""

    series: SeriesRecord
    review_count: int


class SeriesStore(StorageBase):
    """Series: pages of them, one of them, found by name."""

    def series_page(self, *, limit: int | None = None, offset: int = 0) -> list[SeriesRow]:
        """Series by title (case-insensitive), then id, each with its episode count and
        linked-review count."""
        query = _records_query().order_by(func.lower(SERIES.c.title), SERIES.c.id)
        with self._read("listing series") as session:
            connection = session.connection()
            return _with_review_counts(connection, _records(connection, page(query, limit, offset)))

    def series_row(self, series_id: int) -> SeriesRow:
        """One series, as ``series_page`` gives it. NotFoundError if there is none."""
        query = _records_query().where(SERIES.c.id == series_id)
        with self._read(f"reading series {series_id}") as session:
            connection = session.connection()
            rows = _with_review_counts(connection, _records(connection, query))
        if not rows:
            raise SeriesNotFound(f"no series with id {series_id}")
        return rows[0]

    def series_by_ids(self, ids: Collection[int]) -> dict[int, SeriesRow]:
        """The series with these ids, by id; unknown ids are left out."""
        with self._read("reading series") as session:
            connection = session.connection()
            rows = _with_review_counts(connection, list(records_by_id(connection, ids).values()))
            return {row.series.id: row for row in rows}

    def search_series(
        self, query: str, *, limit: int | None = None, offset: int = 0
    ) -> list[SeriesRow]:
        """Series whose title or author has a word starting with each word of ``query``,
        by title (case-insensitive), then id. InputError when the query has no words
        (or too many)."""
        words = [w.casefold() for w in _search.search_words(query)]
        names = select(SERIES.c.id, SERIES.c.title, SERIES.c.author).order_by(
            func.lower(SERIES.c.title), SERIES.c.id
        )
        with self._read("searching series") as session:
            connection = session.connection()
            rows = connection.execute(names)
            ids = [r.id for r in rows if _matches(words, _name_words(r.title, r.author))]
            end = None if limit is None else offset + limit
            wanted = ids[offset:end]
            found = records_by_id(connection, wanted)
            return _with_review_counts(connection, in_order(wanted, found))

    def shared_series_titles(self) -> set[str]:
        """Titles that more than one series has (two feeds both called "Serial"):
        pages add who publishes each."""
        query = select(SERIES.c.title).group_by(SERIES.c.title).having(func.count() > 1)
        with self._read("reading series titles") as session:
            return {str(t) for t in session.connection().execute(query).scalars()}


def _name_words(*texts: str | None) -> list[str]:
    return [w.casefold() for text in texts if text for w in _WORD.findall(text)]


def _matches(query_words: Sequence[str], name_words: Sequence[str]) -> bool:
    # Each query word starts a word of the name: "ser" finds "Serial", "this am" finds
    # "This American Life"; no word of the query is left unmatched.
    return all(any(w.startswith(q) for w in name_words) for q in query_words)


# --- records -------------------------------------------------------------------------


def persons_to_json(persons: tuple[Person, ...]) -> list[dict[str, Any]]:
    # Absent attributes are left out to keep the stored JSON small.
    return [{k: v for k, v in asdict(p).items() if v is not None} for p in persons]


def persons_from_json(data: list[dict[str, Any]] | None) -> tuple[Person, ...]:
    fields = set(Person.__slots__)
    return tuple(Person(**{k: v for k, v in d.items() if k in fields}) for d in data or ())


def _records_query() -> Select[Any]:
    # Episode counts are taken for the rows read only (_records): a subquery grouping
    # the whole episode table was made in full for one series too.
    return select(SERIES, FEED.c.url.label("feed_url"), literal(0).label("n")).join(
        FEED, FEED.c.id == SERIES.c.feed_id
    )


def _records(connection: Connection, query: Select[Any]) -> list[SeriesRecord]:
    """The series ``query`` (over ``_records_query``) reads, each with its episode
    count, counted for these series only from the index on (series_id, published)."""
    records = [_to_record(row) for row in connection.execute(query)]
    episodes = counts(connection, EPISODE.c.series_id, [s.id for s in records])
    return [replace(s, episode_count=episodes.get(s.id, 0)) for s in records]


def records_by_id(connection: Connection, ids: Collection[int]) -> dict[int, SeriesRecord]:
    """The series of these ids (unknown ids left out) by id, with their episode counts."""
    found: dict[int, SeriesRecord] = {}
    for chunk in in_lists(sorted(set(ids))):
        query = _records_query().where(SERIES.c.id.in_(chunk)).order_by(SERIES.c.id)
        found.update((s.id, s) for s in _records(connection, query))
    return found


def _with_review_counts(connection: Connection, records: list[SeriesRecord]) -> list[SeriesRow]:
    reviews = _links.review_counts(connection, LINK.c.series_id, [s.id for s in records])
    return [SeriesRow(s, reviews.get(s.id, 0)) for s in records]


def _to_record(row: Row[Any]) -> SeriesRecord:
    return record(
        SeriesRecord,
        row,
        description_html=row.description,
        categories=tuple(row.categories or ()),
        persons=persons_from_json(row.persons),
        episode_count=row.n,
    )


# --- what a poll writes --------------------------------------------------------------


def upsert(connection: Connection, feed_id: int, parsed: ParsedSeries, now: datetime) -> int:
    """Insert or update the feed's series; return its id.

    An unchanged ``content_hash`` means no write at all. An empty hash means the
    parser did not compute one, so the series is written to be safe. Core statements:
    the ORM's load, model validation and flush cost a first poll ~10 ms (bench/poll).
    """
    query = select(SERIES.c.id, SERIES.c.content_hash).where(SERIES.c.feed_id == feed_id)
    row = connection.execute(query).first()
    if row is not None and parsed.content_hash and row.content_hash == parsed.content_hash:
        return int(row.id)
    from aggregator.sanitize import html_to_text  # on write only, as in _merge._row

    values: dict[str, Any] = {
        "title": parsed.title,
        "author": parsed.author,
        "owner_name": parsed.owner_name,
        "owner_email": parsed.owner_email,
        "description": parsed.description_html,
        "description_text": html_to_text(parsed.description_html),
        "link": parsed.link,
        "image": parsed.image,
        "language": parsed.language,
        "categories": list(parsed.categories),
        "itunes_type": parsed.itunes_type,
        "podcast_guid": parsed.podcast_guid,
        "persons": persons_to_json(parsed.persons),
        "content_hash": parsed.content_hash,
        "updated_at": now,
        "changed_at": now,
    }
    # Values as parameters of statements built once: literal values in a statement
    # make SQLAlchemy build a new one and its cache key on every call.
    if row is None:
        values |= {"feed_id": feed_id, "created_at": now}
        return int(connection.execute(_INSERT, values).scalar_one())
    connection.execute(_UPDATE, values | {"b_id": row.id})
    return int(row.id)


_INSERT = insert(SERIES).returning(SERIES.c.id)
_UPDATE = update(SERIES).where(SERIES.c.id == bindparam("b_id"))


def id_for_feed(connection: Connection, feed_id: int) -> int | None:
    query = select(SERIES.c.id).where(SERIES.c.feed_id == feed_id)
    found: int | None = connection.execute(query).scalar()
    return found


def state(connection: Connection, feed_id: int) -> tuple[int, datetime | None] | None:
    """The feed's series as (id, changed_at), None when it has none yet: what a poll's
    episode plan was made against (``_merge.Prepared``)."""
    query = select(SERIES.c.id, SERIES.c.changed_at).where(SERIES.c.feed_id == feed_id)
    row = connection.execute(query).first()
    return None if row is None else (int(row.id), row.changed_at)


def mark_changed(connection: Connection, series_id: int, now: datetime) -> None:
    """Its episodes changed: instances reload the series into their linker's catalog."""
    connection.execute(update(SERIES).where(SERIES.c.id == series_id).values(changed_at=now))
