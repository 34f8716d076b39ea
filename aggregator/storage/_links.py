"""Links: a review's links to series and episodes, read, and decided on by a person.

Links are read in one place, ``read``: every list of links, a combined feed's and a
page's alike, describes them with the same query and in the same order. What the
linker writes is ``_relink``.

A link is identified by (review, series, ``episode_key``), where ``episode_key`` is the
episode id, or 0 for the series as a whole (see ``_models.Link``).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, func, insert, select, update

from aggregator.exceptions import EpisodeNotFound, LinkNotFound, ReviewNotFound, SeriesNotFound
from aggregator.storage._base import StorageBase
from aggregator.storage._models import EPISODE, FEED, LINK, REVIEW, SERIES
from aggregator.storage._sql import by_id, counts, in_lists, newest_first, page, record, require
from aggregator.types import Evidence, LinkRecord, LinkStatus, Relation

# What a link added by hand says for itself.
MANUAL_SCORE = 1.0
MANUAL_EVIDENCE = (Evidence(kind="manual", text="", start=-1, end=-1, detail="added by hand"),)

# The links that count: a rejected link is kept only to stop the linker proposing it.
NOT_REJECTED = LINK.c.status != LinkStatus.REJECTED.value

# Human decisions: the linker may update their score and evidence, nothing else.
KEPT = (LinkStatus.CONFIRMED.value, LinkStatus.MANUAL.value)


class LinkStore(StorageBase):
    """Links: listed, counted, and a person's decisions on them."""

    def list_links(
        self,
        *,
        review_id: int | None = None,
        series_id: int | None = None,
        episode_id: int | None = None,
        include_rejected: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[LinkRecord]:
        """Links with both ends described, by review (newest published first, then
        id), the series-level link before episode links, then best score first.

        ``feed_url`` is the feed's current URL. NotFoundError when a filter names a
        review, series or episode that does not exist (an empty list would hide a
        typo).
        """
        where = [] if include_rejected else [NOT_REJECTED]
        with self._read("listing links") as session:
            connection = session.connection()
            if review_id is None and series_id is None and episode_id is None:
                return _newest_first(connection, where, limit, offset)
            if review_id is not None:
                require(connection, REVIEW, review_id, ReviewNotFound)
                where.append(LINK.c.review_id == review_id)
            if series_id is not None:
                require(connection, SERIES, series_id, SeriesNotFound)
                where.append(LINK.c.series_id == series_id)
            if episode_id is not None:
                require(connection, EPISODE, episode_id, EpisodeNotFound)
                where.append(LINK.c.episode_id == episode_id)
            return read(connection, *where, limit=limit, offset=offset)

    def links_of_reviews(self, review_ids: Sequence[int]) -> dict[int, list[LinkRecord]]:
        """The links of each review (rejected ones left out) as ``list_links`` gives
        one review's, by review id; reviews without links are left out. One query for
        a page of reviews, where one per review was 40 % of the home page's CPU
        (bench/load.py)."""
        found: dict[int, list[LinkRecord]] = {}
        with self._read("listing links of reviews") as session:
            for batch in in_lists(sorted(set(review_ids))):
                links = read(session.connection(), LINK.c.review_id.in_(batch), NOT_REJECTED)
                for link in links:
                    found.setdefault(link.review_id, []).append(link)
        return found

    def get_link(self, link_id: int) -> LinkRecord:
        with self._read(f"reading link {link_id}") as session:
            return _get(session.connection(), link_id)

    def link_counts(self) -> dict[str, int]:
        """Links not rejected, per relation value (every relation present)."""
        with self._read("counting links") as session:
            return counts_by_relation(session.connection())

    def set_link_status(self, link_id: int, status: LinkStatus, now: datetime) -> LinkRecord:
        """Record a person's decision (confirm, reject). NotFoundError for no such link."""
        decide = (
            update(LINK).where(LINK.c.id == link_id).values(status=status.value, updated_at=now)
        )
        with self._write(f"setting the status of link {link_id}") as session:
            connection = session.connection()
            if connection.execute(decide).rowcount == 0:
                raise LinkNotFound(f"no link with id {link_id}")
            return _get(connection, link_id)

    def add_link(
        self,
        review_id: int,
        series_id: int,
        episode_id: int | None,
        relation: Relation,
        now: datetime,
    ) -> LinkRecord:
        """Link a review by hand (status manual, score 1, evidence "manual").

        The linker's link (or a rejected one) for the same target becomes this manual
        link; one already confirmed or manual keeps its status and evidence and only
        takes the relation. NotFoundError for an unknown review or series, or an
        episode not of that series.
        """
        doing = f"adding a link from review {review_id} to series {series_id}"
        with self._write(doing) as session:
            connection = session.connection()
            link_id = _add(connection, review_id, series_id, episode_id, relation, now)
            return _get(connection, link_id)


def read(
    connection: Connection, *where: Any, limit: int | None = None, offset: int = 0
) -> list[LinkRecord]:
    """The links ``where`` keeps, with both ends described, in the order of
    ``list_links``: where every list of links is read."""
    query = page(_records_query().where(*where), limit, offset)
    return [_to_record(row) for row in connection.execute(query)]


def _newest_first(
    connection: Connection, where: list[Any], limit: int | None, offset: int
) -> list[LinkRecord]:
    """One page of every link: its ids first, walking reviews newest first by their
    index, then their records. One query with the records let SQLite sort every link
    (60 ms for 6,000 links)."""
    query = select(LINK.c.id).select_from(REVIEW).join(LINK, LINK.c.review_id == REVIEW.c.id)
    order = [REVIEW.c.id, LINK.c.episode_key != 0, LINK.c.score.desc(), LINK.c.id]
    rows = newest_first(connection, query.where(*where), REVIEW.c.published, order, limit, offset)
    ids = [row.id for row in rows]
    return read(connection, LINK.c.id.in_(ids)) if ids else []  # in the same order


def _get(connection: Connection, link_id: int) -> LinkRecord:
    found = read(connection, LINK.c.id == link_id)
    if not found:
        raise LinkNotFound(f"no link with id {link_id}")
    return found[0]


def evidence_to_json(evidence: Sequence[Evidence]) -> list[dict[str, Any]]:
    return [asdict(item) for item in evidence]


def evidence_from_json(data: list[dict[str, Any]] | None) -> tuple[Evidence, ...]:
    return tuple(Evidence(**item) for item in data or ())


@functools.cache  # built once: building it took 0.8 ms, most of a review's links
def _records_query() -> Select[Any]:
    return (
        select(
            LINK,
            REVIEW.c.url.label("review_url"),
            REVIEW.c.title.label("review_title"),
            REVIEW.c.published.label("review_published"),
            SERIES.c.title.label("series_title"),
            FEED.c.url.label("feed_url"),
            EPISODE.c.guid.label("episode_guid"),
            EPISODE.c.title.label("episode_title"),
            EPISODE.c.published.label("episode_published"),
        )
        .select_from(LINK)
        .join(REVIEW, REVIEW.c.id == LINK.c.review_id)
        .join(SERIES, SERIES.c.id == LINK.c.series_id)
        .join(FEED, FEED.c.id == SERIES.c.feed_id)
        .outerjoin(EPISODE, EPISODE.c.id == LINK.c.episode_id)
        .order_by(
            REVIEW.c.published.desc().nulls_last(),
            REVIEW.c.id,
            LINK.c.episode_key != 0,  # the series-level link before episode links
            LINK.c.score.desc(),
            LINK.c.id,
        )
    )


def _to_record(row: Row[Any]) -> LinkRecord:
    return record(
        LinkRecord,
        row,
        relation=Relation(row.relation),
        evidence=evidence_from_json(row.evidence),
        status=LinkStatus(row.status),
    )


def review_counts(connection: Connection, key: Any, ids: Collection[int]) -> dict[int, int]:
    """How many reviews link (not rejected) to each of ``ids`` as ``key`` (the link's
    series or episode); ids no review links to are left out."""
    reviews = func.count(LINK.c.review_id.distinct())
    return counts(connection, key, ids, NOT_REJECTED, counted=reviews)


def counts_by_relation(connection: Connection) -> dict[str, int]:
    """Links not rejected, per relation; every relation present, zero if none."""
    found = dict.fromkeys((r.value for r in Relation), 0)
    rows = connection.execute(
        select(LINK.c.relation, func.count()).where(NOT_REJECTED).group_by(LINK.c.relation)
    )
    for relation, n in rows:
        found[relation] = int(n)
    return found


def lock_review(connection: Connection, review_id: int) -> None:
    """Lock the review's row until commit (on PostgreSQL): two instances writing the
    same review's links take turns instead of inserting the same link twice.
    ReviewNotFound if there is no such review."""
    by_id(connection, REVIEW, review_id, ReviewNotFound, columns=[REVIEW.c.id], for_update=True)


def _add(
    connection: Connection,
    review_id: int,
    series_id: int,
    episode_id: int | None,
    relation: Relation,
    now: datetime,
) -> int:
    lock_review(connection, review_id)
    require(connection, SERIES, series_id, SeriesNotFound)
    if episode_id is not None:
        owner = connection.execute(
            select(EPISODE.c.series_id).where(EPISODE.c.id == episode_id)
        ).scalar_one_or_none()
        if owner != series_id:
            raise EpisodeNotFound(f"no episode with id {episode_id} in series {series_id}")
    episode_key = episode_id or 0
    existing = connection.execute(
        select(LINK.c.id, LINK.c.status).where(
            LINK.c.review_id == review_id,
            LINK.c.series_id == series_id,
            LINK.c.episode_key == episode_key,
        )
    ).first()
    manual: dict[str, Any] = {
        "relation": relation.value,
        "score": MANUAL_SCORE,
        "evidence": evidence_to_json(MANUAL_EVIDENCE),
        "status": LinkStatus.MANUAL.value,
        "linker_version": None,
        "updated_at": now,
    }
    if existing is None:
        result = connection.execute(
            insert(LINK).values(
                review_id=review_id,
                series_id=series_id,
                episode_id=episode_id,
                episode_key=episode_key,
                created_at=now,
                **manual,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])
    link_id, status = existing
    by_id = update(LINK).where(LINK.c.id == link_id)
    if status in KEPT:
        connection.execute(by_id.values(relation=relation.value, updated_at=now))
    else:
        connection.execute(by_id.values(**manual))
    return int(link_id)
