"""Links: a review's links to series and episodes, and the human decisions on them.

The linker's links (``auto``) are replaced whenever a review is re-linked; a person's
decisions are not: a ``confirmed`` or ``manual`` link stays whatever the linker says
later, and a ``rejected`` one stays rejected and keeps the linker from proposing it
again: a human decision survives re-linking and new linker versions.

A link is identified by (review, series, ``episode_key``), where ``episode_key`` is the
episode id, or 0 for the series as a whole (see ``_models.Link``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, insert, select, update
from sqlalchemy import delete as sa_delete

from aggregator.exceptions import (
    EpisodeNotFound,
    LinkNotFound,
    NotFoundError,
    ReviewNotFound,
    SeriesNotFound,
)
from aggregator.storage._models import EPISODE, FEED, LINK, REVIEW, SERIES
from aggregator.storage._sql import counts, in_lists
from aggregator.types import Evidence, LinkProposal, LinkRecord, LinkStatus, Relation

# What a link added by hand says for itself.
MANUAL_SCORE = 1.0
MANUAL_EVIDENCE = (Evidence(kind="manual", text="", start=-1, end=-1, detail="added by hand"),)

# The links that count: a rejected link is kept only to stop the linker proposing it.
NOT_REJECTED = LINK.c.status != LinkStatus.REJECTED.value

# Human decisions: the linker may update their score and evidence, nothing else.
_KEPT = (LinkStatus.CONFIRMED.value, LinkStatus.MANUAL.value)

_Key = tuple[int, int]  # (series_id, episode_key)


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
    return LinkRecord(
        id=row.id,
        review_id=row.review_id,
        series_id=row.series_id,
        episode_id=row.episode_id,
        relation=Relation(row.relation),
        score=row.score,
        evidence=evidence_from_json(row.evidence),
        status=LinkStatus(row.status),
        linker_version=row.linker_version,
        review_url=row.review_url,
        review_title=row.review_title,
        review_published=row.review_published,
        series_title=row.series_title,
        feed_url=row.feed_url,
        episode_guid=row.episode_guid,
        episode_title=row.episode_title,
        episode_published=row.episode_published,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def review_counts(connection: Connection, key: Any, ids: Collection[int]) -> dict[int, int]:
    """How many reviews link (not rejected) to each of ``ids`` as ``key`` (the link's
    series or episode); ids no review links to are left out."""
    reviews = func.count(LINK.c.review_id.distinct())
    return counts(connection, key, ids, NOT_REJECTED, counted=reviews)


def _require(connection: Connection, table: Any, row_id: int, missing: type[NotFoundError]) -> None:
    if connection.execute(select(table.c.id).where(table.c.id == row_id)).first() is None:
        raise missing(f"no {missing.noun} with id {row_id}")


def list_page(
    connection: Connection,
    *,
    review_id: int | None = None,
    series_id: int | None = None,
    episode_id: int | None = None,
    include_rejected: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[LinkRecord]:
    """Links, filtered; NotFoundError when a filter names a review, series or episode
    that does not exist (an empty list would hide a typo)."""
    query = _records_query()
    if review_id is not None:
        _require(connection, REVIEW, review_id, ReviewNotFound)
        query = query.where(LINK.c.review_id == review_id)
    if series_id is not None:
        _require(connection, SERIES, series_id, SeriesNotFound)
        query = query.where(LINK.c.series_id == series_id)
    if episode_id is not None:
        _require(connection, EPISODE, episode_id, EpisodeNotFound)
        query = query.where(LINK.c.episode_id == episode_id)
    if not include_rejected:
        query = query.where(LINK.c.status != LinkStatus.REJECTED.value)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [_to_record(row) for row in connection.execute(query)]


def for_reviews(
    connection: Connection, review_ids: Sequence[int], *, include_rejected: bool = False
) -> dict[int, list[LinkRecord]]:
    """The links of each of these reviews, in ``list_page``'s order, by review id;
    reviews without links (or unknown) are left out. One query for a page of
    reviews, where one per review was 40 % of the home page's CPU (bench/load.py)."""
    found: dict[int, list[LinkRecord]] = {}
    for batch in in_lists(sorted(set(review_ids))):
        query = _records_query().where(LINK.c.review_id.in_(batch))
        if not include_rejected:
            query = query.where(LINK.c.status != LinkStatus.REJECTED.value)
        for row in connection.execute(query):
            found.setdefault(row.review_id, []).append(_to_record(row))
    return found


def get(connection: Connection, link_id: int) -> LinkRecord:
    row = connection.execute(_records_query().where(LINK.c.id == link_id)).first()
    if row is None:
        raise LinkNotFound(f"no link with id {link_id}")
    return _to_record(row)


def _best_per_target(
    connection: Connection, proposals: Sequence[LinkProposal]
) -> dict[_Key, LinkProposal]:
    """One proposal per series or episode (the best scored), for targets still stored.

    A series or episode removed since the linker read the catalog is dropped rather
    than failing the whole review; an episode of another series is the caller's bug.
    """
    best: dict[_Key, LinkProposal] = {}
    for p in proposals:
        if math.isnan(p.score) or not 0.0 <= p.score <= 1.0:
            raise ValueError(f"link score {p.score} is not in [0, 1]")
        key = (p.series_id, p.episode_id or 0)
        if key not in best or p.score > best[key].score:
            best[key] = p
    if not best:
        return best
    series_ids = {s for s, _ in best}
    stored_series = set(
        connection.execute(select(SERIES.c.id).where(SERIES.c.id.in_(series_ids))).scalars()
    )
    episode_ids = {e for _, e in best if e}
    owners: dict[int, int] = {}
    if episode_ids:
        query = select(EPISODE.c.id, EPISODE.c.series_id).where(EPISODE.c.id.in_(episode_ids))
        owners = {row.id: row.series_id for row in connection.execute(query)}
    for series, episode in list(best):
        if series not in stored_series or (episode and episode not in owners):
            del best[(series, episode)]
        elif episode and owners[episode] != series:
            raise ValueError(f"episode {episode} is not an episode of series {series}")
    return best


def replace(
    connection: Connection,
    review_id: int,
    proposals: Sequence[LinkProposal],
    *,
    linker_version: str,
    now: datetime,
) -> list[LinkRecord]:
    # Locks the review's row on PostgreSQL so that two instances re-linking the same
    # review take turns instead of inserting the same link twice.
    _lock_review(connection, review_id)
    wanted = _best_per_target(connection, proposals)
    stored = connection.execute(
        select(LINK.c.id, LINK.c.series_id, LINK.c.episode_key, LINK.c.status).where(
            LINK.c.review_id == review_id
        )
    ).all()

    gone: list[int] = []
    rewrite: list[dict[str, Any]] = []  # auto links proposed again: updated in place
    refresh: list[dict[str, Any]] = []  # human decisions proposed again: new evidence
    for link_id, series_id, episode_key, status in stored:
        proposal = wanted.pop((series_id, episode_key), None)
        if proposal is None:
            if status == LinkStatus.AUTO.value:
                gone.append(link_id)
            continue
        values = {
            "b_id": link_id,
            "b_score": proposal.score,
            "b_evidence": evidence_to_json(proposal.evidence),
        }
        if status == LinkStatus.AUTO.value:
            rewrite.append({**values, "b_relation": proposal.relation.value})
        elif status in _KEPT:
            refresh.append(values)
        # A rejected link stays as it is, and the proposal goes no further.

    if gone:
        connection.execute(sa_delete(LINK).where(LINK.c.id.in_(gone)))
    common = {
        "score": bindparam("b_score"),
        "evidence": bindparam("b_evidence"),
        "linker_version": linker_version,
        "updated_at": now,
    }
    by_id = update(LINK).where(LINK.c.id == bindparam("b_id"))
    if rewrite:
        connection.execute(by_id.values(relation=bindparam("b_relation"), **common), rewrite)
    if refresh:
        connection.execute(by_id.values(**common), refresh)
    if wanted:
        rows = [
            {
                "review_id": review_id,
                "series_id": p.series_id,
                "episode_id": p.episode_id,
                "episode_key": p.episode_id or 0,
                "relation": p.relation.value,
                "score": p.score,
                "evidence": evidence_to_json(p.evidence),
                "status": LinkStatus.AUTO.value,
                "linker_version": linker_version,
                "created_at": now,
                "updated_at": now,
            }
            for p in wanted.values()
        ]
        connection.execute(insert(LINK), rows)
    # Linked: a claim on the review (relink work, see _reviews.claim_needing_link) ends.
    connection.execute(
        update(REVIEW)
        .where(REVIEW.c.id == review_id)
        .values(
            linker_version=linker_version,
            linked_at=now,
            lease_owner=None,
            lease_until=None,
            lease_host=None,
            lease_pid=None,
        )
    )
    return list_page(connection, review_id=review_id)


def _lock_review(connection: Connection, review_id: int) -> None:
    query = select(REVIEW.c.id).where(REVIEW.c.id == review_id).with_for_update()
    if connection.execute(query).first() is None:
        raise ReviewNotFound(f"no review with id {review_id}")


def set_status(connection: Connection, link_id: int, status: LinkStatus, now: datetime) -> None:
    result = connection.execute(
        update(LINK).where(LINK.c.id == link_id).values(status=status.value, updated_at=now)
    )
    if result.rowcount == 0:
        raise LinkNotFound(f"no link with id {link_id}")


def add(
    connection: Connection,
    review_id: int,
    series_id: int,
    episode_id: int | None,
    relation: Relation,
    now: datetime,
) -> int:
    """Add a link by hand, or make the linker's link for the same target a manual one.

    A link already confirmed or added by hand keeps its status and evidence and only
    takes the relation given.
    """
    _lock_review(connection, review_id)
    _require(connection, SERIES, series_id, SeriesNotFound)
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
    if status in _KEPT:
        connection.execute(by_id.values(relation=relation.value, updated_at=now))
    else:
        connection.execute(by_id.values(**manual))
    return int(link_id)


def counts_by_relation(connection: Connection) -> dict[str, int]:
    """Links not rejected, per relation; every relation present, zero if none."""
    counts = dict.fromkeys((r.value for r in Relation), 0)
    rows = connection.execute(
        select(LINK.c.relation, func.count())
        .where(LINK.c.status != LinkStatus.REJECTED.value)
        .group_by(LINK.c.relation)
    )
    for relation, n in rows:
        counts[relation] = int(n)
    return counts
