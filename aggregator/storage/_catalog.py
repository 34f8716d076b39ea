"""The catalog: every series and episode the linker can link to, as plain text.

Two queries for the whole catalog (series, then all episodes in series order), only
the columns the linker reads, and the plain-text descriptions stored beside the HTML
(``_models``), so 100k episodes cost one pass over rows rather than one HTML parse
each. Episodes gone from their feed are included: a review may be about them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, Select, Text, case, cast, select

from aggregator.storage._base import StorageBase
from aggregator.storage._models import EPISODE, FEED, SERIES
from aggregator.storage._series import persons_from_json
from aggregator.storage._sql import in_lists, record
from aggregator.types import CatalogEpisode, CatalogSeries, Person

_T = TypeVar("_T")


class CatalogStore(StorageBase):
    """The linker's view of the series and episodes."""

    def catalog(self, series_ids: Collection[int] | None = None) -> list[CatalogSeries]:
        """Every series (or those in ``series_ids``; unknown ids skipped) with all
        its episodes, missing ones included, descriptions as plain text; by id."""
        with self._read("reading the catalog") as session:
            return list(stream(session.connection(), series_ids))

    def with_catalog(self, use: Callable[[Iterator[CatalogSeries]], _T]) -> _T:
        """``use(series)`` over the whole catalog, streamed one series at a time in
        one read transaction: building the linker's index from it never holds every
        series' values at once (about 2 KB per episode at 100k episodes)."""
        with self._read("reading the catalog") as session:
            return use(stream(session.connection(), None))

    def series_change_times(self) -> dict[int, datetime | None]:
        """Every series' last change (itself or its episodes; ``Series.changed_at``),
        by id: what a linker's catalog must reload to match the database, whoever
        stored the change."""
        with self._read("reading series change times") as session:
            rows = session.connection().execute(select(SERIES.c.id, SERIES.c.changed_at))
            return {row.id: row.changed_at for row in rows}


def _html_if_no_text(table: Any) -> Any:
    """The HTML description only where the plain text is missing: reading both for
    every row would double what the catalog reads."""
    text: Column[Any] = table.c.description_text
    return case((text.is_(None), table.c.description), else_=None).label("description")


def _series_query() -> Select[Any]:
    return (
        select(
            SERIES.c.id,
            SERIES.c.title,
            FEED.c.url,
            SERIES.c.author,
            SERIES.c.owner_name,
            _html_if_no_text(SERIES),
            SERIES.c.description_text,
            SERIES.c.link,
            SERIES.c.image,
            SERIES.c.categories,
            SERIES.c.persons,
        )
        .join(FEED, FEED.c.id == SERIES.c.feed_id)
        .order_by(SERIES.c.id)
    )


def _episodes_query() -> Select[Any]:
    # Oldest first, undated last, in the order of the (series_id, published) index.
    return select(
        EPISODE.c.id,
        EPISODE.c.series_id,
        EPISODE.c.guid,
        EPISODE.c.title,
        _html_if_no_text(EPISODE),
        EPISODE.c.description_text,
        EPISODE.c.published,
        EPISODE.c.season,
        EPISODE.c.number,
        EPISODE.c.episode_type,
        EPISODE.c.link,
        EPISODE.c.enclosure_url,
        # As text, decoded once per distinct value (see _Persons).
        cast(EPISODE.c.persons, Text),
    ).order_by(EPISODE.c.series_id, EPISODE.c.published.asc().nulls_last(), EPISODE.c.id)


def _text(html: str | None, text: str | None) -> str:
    if text is not None:
        return text
    # No text: written before the text was derived on write; derive it now (imported
    # here, as in _merge._row, so that reading the store loads no HTML parser).
    from aggregator.sanitize import html_to_text

    return html_to_text(html or "")


class _Persons:
    """Episode persons from their JSON text, decoded once per distinct value.

    Most episodes have none ("[]") or the same hosts as the episode before; decoding
    and building ``Person`` values for each of 100k rows took a third of the catalog's
    time (profiled on 100k episodes with one guest each).
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[Person, ...]] = {"[]": ()}

    def __call__(self, raw: str | None) -> tuple[Person, ...]:
        if raw is None:
            return ()
        found = self._known.get(raw)
        if found is None:
            found = self._known[raw] = persons_from_json(json.loads(raw))
        return found


def stream(connection: Connection, series_ids: Collection[int] | None) -> Iterator[CatalogSeries]:
    """The catalog of every series, or of those in ``series_ids`` (unknown ids are
    skipped), by series id, one series at a time, each as soon as its last episode is
    read: ``Catalog.build(stream(...))`` never holds the whole catalog's values (about
    2 KB per episode, on top of the index). The connection must stay open while the
    iterator is consumed."""
    if series_ids is None:
        yield from _stream_rows(connection, _series_query(), _episodes_query())
        return
    for chunk in in_lists(sorted(set(series_ids))):
        yield from _stream_rows(
            connection,
            _series_query().where(SERIES.c.id.in_(chunk)),
            _episodes_query().where(EPISODE.c.series_id.in_(chunk)),
        )


def _stream_rows(
    connection: Connection, series_query: Select[Any], episodes_query: Select[Any]
) -> Iterator[CatalogSeries]:
    series_rows = connection.execute(series_query).all()  # one row per series: small
    # Episodes in series order (the query's), streamed rather than fetched at once.
    episode_rows = connection.execution_options(stream_results=True, yield_per=1000).execute(
        episodes_query
    )
    persons = _Persons()
    try:
        pending = next(episode_rows, None)
        for s in series_rows:
            episodes: list[CatalogEpisode] = []
            # Rows of series not in series_rows (stored after we read them) are skipped.
            while pending is not None and pending[1] <= s.id:
                if pending[1] == s.id:
                    episodes.append(_episode(pending, persons))
                pending = next(episode_rows, None)
            yield _series(s, episodes)
    finally:
        episode_rows.close()


def _episode(row: Any, persons: _Persons) -> CatalogEpisode:
    # Positional unpacking: attribute access on 100k rows was a fifth of the time.
    (
        episode_id,
        series_id,
        guid,
        title,
        html,
        text,
        published,
        season,
        number,
        episode_type,
        link,
        enclosure_url,
        persons_json,
    ) = row
    return CatalogEpisode(
        id=episode_id,
        series_id=series_id,
        guid=guid,
        title=title,
        description_text=_text(html, text),
        published=published,
        season=season,
        number=number,
        episode_type=episode_type,
        link=link,
        enclosure_url=enclosure_url,
        persons=persons(persons_json),
    )


def _series(s: Any, episodes: list[CatalogEpisode]) -> CatalogSeries:
    return record(
        CatalogSeries,
        s,
        feed_url=s.url,
        description_text=_text(s.description, s.description_text),
        categories=tuple(s.categories or ()),
        persons=persons_from_json(s.persons),
        episodes=tuple(episodes),
    )
