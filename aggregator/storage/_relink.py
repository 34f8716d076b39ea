"""Relinking: the reviews due for linking, the leases instances take on them, and
the linker's links put in place of a review's old ones (which ends its lease).

The linker's links (``auto``) are replaced whenever a review is re-linked; a person's
decisions are not: a ``confirmed`` or ``manual`` link stays whatever the linker says
later, and a ``rejected`` one stays rejected and keeps the linker from proposing it
again: a human decision survives re-linking and new linker versions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update

from aggregator.storage._base import StorageBase
from aggregator.storage._leases import NO_LEASE, claim, end_leases_of, holders_on, release
from aggregator.storage._links import KEPT, NOT_REJECTED, evidence_to_json, lock_review, read
from aggregator.storage._models import EPISODE, LINK, REVIEW, SERIES
from aggregator.storage._reviews import to_record
from aggregator.storage._versions import NOTHING
from aggregator.types import LinkProposal, LinkRecord, LinkStatus, ReviewRecord

_Key = tuple[int, int]  # (series_id, episode_key)


class RelinkStore(StorageBase):
    """Reviews to link, claimed by one instance at a time, and their new links."""

    def reviews_needing_link(self, linker_version: str, *, limit: int) -> list[ReviewRecord]:
        """Reviews never linked, or last linked by another linker version; by id."""
        ids = _needing_link(linker_version).order_by(REVIEW.c.id).limit(limit)
        query = select(REVIEW).where(REVIEW.c.id.in_(ids)).order_by(REVIEW.c.id)
        with self._read("finding reviews to link") as session:
            return [to_record(row) for row in session.connection().execute(query)]

    def claim_reviews_needing_link(
        self,
        linker_version: str,
        *,
        limit: int,
        now: datetime,
        owner: str,
        lease_seconds: float,
        host: str | None = None,
        pid: int | None = None,
    ) -> list[ReviewRecord]:
        """Like ``reviews_needing_link``, each review leased to ``owner`` until it is
        linked (``replace_links`` ends the lease) or the lease runs out. ``host`` and
        ``pid`` name the process holding the leases, for others on its host to see
        when it is gone (``review_lease_holders``).

        As ``claim_due_feeds`` does, rows another instance is claiming are skipped,
        and a lease that ran out (its holder died) lets the review be claimed again.
        """
        until = now + timedelta(seconds=lease_seconds)
        lease = REVIEW.c.lease_until
        query = (
            _needing_link(linker_version)
            .where(or_(lease.is_(None), lease <= now))
            .order_by(REVIEW.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write("claiming reviews to link", changes=NOTHING) as session:
            connection = session.connection()
            ids = claim(connection, REVIEW, query, owner=owner, until=until, host=host, pid=pid)
            claimed = select(REVIEW).where(REVIEW.c.id.in_(ids)).order_by(REVIEW.c.id)
            return [to_record(row) for row in connection.execute(claimed)]

    def review_lease_holders(self, now: datetime, *, host: str) -> list[tuple[str, int]]:
        """(owner, pid) of the processes on ``host`` that hold live review leases."""
        with self._read("reading who holds review leases") as session:
            return holders_on(session.connection(), REVIEW, now, host=host)

    def end_review_leases_of(self, owners: Sequence[str]) -> int:
        """End the review leases of these owners (processes known to be gone); returns
        how many reviews are free again."""
        if not owners:
            return 0
        with self._write(f"ending the review leases of {len(owners)} processes") as session:
            return end_leases_of(session.connection(), REVIEW, owners)

    def release_reviews(self, review_ids: Sequence[int], *, owner: str) -> int:
        """Give back reviews ``owner`` claimed and will not link (it is stopping)."""
        if not review_ids:
            return 0
        with self._write(f"releasing {len(review_ids)} reviews") as session:
            return release(session.connection(), REVIEW, review_ids, owner=owner)

    def mark_needing_link(self, review_ids: Sequence[int]) -> None:
        """Have the reviews linked again by whichever instance next re-links
        (``claim_reviews_needing_link``): their links may be out of date."""
        if not review_ids:
            return
        with self._write("marking reviews to link again") as session:
            session.connection().execute(
                update(REVIEW)
                .where(REVIEW.c.id.in_(review_ids))
                .values(linker_version=None, linked_at=None)
            )

    def replace_links(
        self,
        review_id: int,
        proposals: Sequence[LinkProposal],
        *,
        linker_version: str,
        now: datetime,
    ) -> list[LinkRecord]:
        """Put the linker's proposals in place of the review's auto links, in one
        transaction, and mark the review linked by ``linker_version``.

        Confirmed and manual links stay (a proposal for them refreshes only score and
        evidence); a rejected one stays and drops its proposal; so do proposals for
        series or episodes deleted meanwhile; of two for one target the best scored
        wins. Returns the review's links, rejected left out. ValueError for a score
        outside [0, 1] or an episode proposed under another series.
        """
        with self._write(f"storing links of review {review_id}") as session:
            return _replace(session.connection(), review_id, proposals, linker_version, now)


def _needing_link(linker_version: str) -> Any:
    return select(REVIEW.c.id).where(
        or_(REVIEW.c.linker_version.is_(None), REVIEW.c.linker_version != linker_version)
    )


def _replace(
    connection: Connection,
    review_id: int,
    proposals: Sequence[LinkProposal],
    linker_version: str,
    now: datetime,
) -> list[LinkRecord]:
    # Locks the review's row on PostgreSQL so that two instances re-linking the same
    # review take turns instead of inserting the same link twice.
    lock_review(connection, review_id)
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
        elif status in KEPT:
            refresh.append(values)
        # A rejected link stays as it is, and the proposal goes no further.

    if gone:
        connection.execute(delete(LINK).where(LINK.c.id.in_(gone)))
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
    # Linked: a claim on the review (``claim_reviews_needing_link``) ends.
    connection.execute(
        update(REVIEW)
        .where(REVIEW.c.id == review_id)
        .values(linker_version=linker_version, linked_at=now, **NO_LEASE)
    )
    return read(connection, LINK.c.review_id == review_id, NOT_REJECTED)


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
