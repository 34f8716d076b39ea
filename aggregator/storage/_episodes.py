"""Episodes: read in pages with their review counts, searched, and the missing ones
pruned. (What a poll writes to them is ``_merge``.)

An episode that leaves its feed is kept and marked ``missing_since``: most feeds list
only their latest items, and the copy of the older ones is the archive. A feed that
changes every poll (new guids each time: a generated or broken feed) would grow
without limit that way, 50 items a poll making 1,000 episodes in 20 polls. So each
series keeps at most ``keep`` of its missing episodes, the ones gone most recently
(``prune_missing_episodes``); an episode any review is linked to (whatever the
link's status, a rejection too) is never deleted and does not count, so no link is
ever lost to this.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, exists, select

from aggregator.exceptions import EpisodeNotFound, SeriesNotFound
from aggregator.storage import _links, _search, _series
from aggregator.storage._base import StorageBase
from aggregator.storage._links import NOT_REJECTED
from aggregator.storage._models import EPISODE, LINK, SERIES
from aggregator.storage._series import persons_from_json
from aggregator.storage._sql import by_id, in_lists, in_order, newest_first, record, require
from aggregator.types import Enclosure, EpisodeRecord


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    """An episode with the number of reviews linked to it (rejected links left out)."""

    episode: EpisodeRecord
    review_count: int


class EpisodeStore(StorageBase):
    """Episodes: pages of them, one of them, found by words; the missing pruned."""

    def episodes_page(
        self,
        *,
        series_id: int | None = None,
        reviewed: bool | None = None,
        published_after: datetime | None = None,
        published_before: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[EpisodeRow]:
        """Episodes (of one series, or all) newest first, undated last, then by id,
        each with its review count. Missing episodes are included, with
        ``missing_since`` set.

        ``reviewed`` False keeps episodes no review links to (rejected links do not
        count), True those some review does; ``published_after`` is inclusive,
        ``published_before`` exclusive (an undated episode passes neither).
        NotFoundError when ``series_id`` names no series.
        """
        query = select(EPISODE)
        if series_id is not None:
            query = query.where(EPISODE.c.series_id == series_id)
        if reviewed is not None:
            linked = exists().where(LINK.c.episode_id == EPISODE.c.id, NOT_REJECTED)
            query = query.where(linked if reviewed else ~linked)
        if published_after is not None:
            query = query.where(EPISODE.c.published >= published_after)
        if published_before is not None:
            query = query.where(EPISODE.c.published < published_before)
        with self._read("listing episodes") as session:
            connection = session.connection()
            if series_id is not None:
                require(connection, SERIES, series_id, SeriesNotFound)
            rows = newest_first(
                connection, query, EPISODE.c.published, [EPISODE.c.id], limit, offset
            )
            return _with_review_counts(connection, [to_record(r) for r in rows])

    def episode_row(self, episode_id: int) -> EpisodeRow:
        """One episode, as ``episodes_page`` gives it. NotFoundError if there is none."""
        with self._read(f"reading episode {episode_id}") as session:
            connection = session.connection()
            row = by_id(connection, EPISODE, episode_id, EpisodeNotFound)
            return _with_review_counts(connection, [to_record(row)])[0]

    def search_episodes(
        self,
        query: str,
        *,
        series_id: int | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[EpisodeRow]:
        """Episodes having every word of ``query``, best first (see ``_search``).

        InputError when the query has no words (or too many).
        """
        words = _search.search_words(query)
        with self._read("searching episodes") as session:
            connection = session.connection()
            if series_id is not None:
                require(connection, SERIES, series_id, SeriesNotFound)
            ids = _search.episode_ids(
                connection, words, series_id=series_id, limit=limit, offset=offset
            )
            return _with_review_counts(connection, in_order(ids, records_by_id(connection, ids)))

    def prune_missing_episodes(self, series_id: int, *, keep: int, now: datetime) -> int:
        """Delete the series' missing episodes no review is linked to, beyond the
        ``keep`` gone most recently; returns how many were deleted."""
        linked = exists().where(LINK.c.episode_id == EPISODE.c.id)
        beyond = (
            select(EPISODE.c.id)
            .where(EPISODE.c.series_id == series_id)
            .where(EPISODE.c.missing_since.is_not(None))
            .where(~linked)
            .order_by(
                EPISODE.c.missing_since.desc(),
                EPISODE.c.published.desc().nulls_last(),
                EPISODE.c.id.desc(),
            )
            .offset(keep)
        )
        with self._write(f"deleting missing episodes of series {series_id}") as session:
            connection = session.connection()
            ids = list(connection.execute(beyond).scalars())
            deleted = 0
            for chunk in in_lists(ids):
                # Checked again as each row goes: a link made since the SELECT keeps it.
                gone = delete(EPISODE).where(EPISODE.c.id.in_(chunk)).where(~linked)
                deleted += connection.execute(gone).rowcount
            if deleted:
                # Catalogs in memory drop them too (every instance reloads a changed series).
                _series.mark_changed(connection, series_id, now)
            return deleted


def _with_review_counts(connection: Connection, records: list[EpisodeRecord]) -> list[EpisodeRow]:
    reviews = _links.review_counts(connection, LINK.c.episode_id, [e.id for e in records])
    return [EpisodeRow(e, reviews.get(e.id, 0)) for e in records]


def records_by_id(connection: Connection, ids: Collection[int]) -> dict[int, EpisodeRecord]:
    """The episodes of these ids (unknown ids left out), by id."""
    found: dict[int, EpisodeRecord] = {}
    for chunk in in_lists(sorted(set(ids))):
        rows = connection.execute(select(EPISODE).where(EPISODE.c.id.in_(chunk)))
        found.update((row.id, to_record(row)) for row in rows)
    return found


def to_record(row: Row[Any]) -> EpisodeRecord:
    enclosure = None
    if row.enclosure_url is not None:
        enclosure = Enclosure(
            url=row.enclosure_url, type=row.enclosure_type, length=row.enclosure_length
        )
    return record(
        EpisodeRecord,
        row,
        description_html=row.description,
        enclosure=enclosure,
        persons=persons_from_json(row.persons),
    )
