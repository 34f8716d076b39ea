"""Series: one per podcast feed, rewritten only when its content changed."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, insert, select, update

from aggregator.exceptions import SeriesNotFound
from aggregator.sanitize import html_to_text
from aggregator.storage._models import EPISODE, FEED, SERIES
from aggregator.types import ParsedSeries, Person, SeriesRecord


def persons_to_json(persons: tuple[Person, ...]) -> list[dict[str, Any]]:
    # Absent attributes are left out to keep the stored JSON small.
    return [{k: v for k, v in asdict(p).items() if v is not None} for p in persons]


def persons_from_json(data: list[dict[str, Any]] | None) -> tuple[Person, ...]:
    fields = set(Person.__slots__)
    return tuple(Person(**{k: v for k, v in d.items() if k in fields}) for d in data or ())


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


def _records_query() -> Select[Any]:
    # The episodes of each series read counted, from the index on (series_id,
    # published): a subquery grouping the whole episode table was made in full for
    # one series too, and a series page or an episode page paid for every episode.
    count = (
        select(func.count())
        .select_from(EPISODE)
        .where(EPISODE.c.series_id == SERIES.c.id)
        .scalar_subquery()
    )
    return select(SERIES, FEED.c.url.label("feed_url"), count.label("n")).join(
        FEED, FEED.c.id == SERIES.c.feed_id
    )


def _to_record(row: Row[Any]) -> SeriesRecord:
    return SeriesRecord(
        id=row.id,
        feed_id=row.feed_id,
        feed_url=row.feed_url,
        title=row.title,
        author=row.author,
        description_html=row.description,
        link=row.link,
        image=row.image,
        language=row.language,
        categories=tuple(row.categories or ()),
        itunes_type=row.itunes_type,
        podcast_guid=row.podcast_guid,
        persons=persons_from_json(row.persons),
        episode_count=row.n,
    )


def get(connection: Connection, series_id: int) -> SeriesRecord:
    row = connection.execute(_records_query().where(SERIES.c.id == series_id)).first()
    if row is None:
        raise SeriesNotFound(f"no series with id {series_id}")
    return _to_record(row)


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


def change_times(connection: Connection) -> dict[int, datetime | None]:
    """Every series' last change time (``Series.changed_at``), by id."""
    rows = connection.execute(select(SERIES.c.id, SERIES.c.changed_at))
    return {row.id: row.changed_at for row in rows}
