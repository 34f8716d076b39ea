"""Reviews, their links, and the linking work claimed on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from aggregator.storage import (
    _leases,
    _links,
    _queries,
    _review_save,
    _review_sources,
    _reviews,
    _search,
)
from aggregator.storage._base import StorageBase
from aggregator.storage._models import REVIEW
from aggregator.storage._versions import NOTHING
from aggregator.types import (
    LinkProposal,
    LinkRecord,
    LinkStatus,
    Relation,
    ReviewDocument,
    ReviewRecord,
    ReviewSourceRecord,
    SavedReview,
    TextSketch,
)


class ReviewStore(StorageBase):
    """Reviews, their links, and the linking work claimed on them."""

    # --- reviews -------------------------------------------------------------------

    def save_review(
        self,
        document: ReviewDocument,
        *,
        content_hash: str,
        source: str,
        now: datetime,
        feed_id: int | None = None,
        sketch: TextSketch | None = None,
        origin: str | None = None,
    ) -> SavedReview:
        """Store a review, or the copy of one already stored (``_review_save`` says
        how a copy is found and what it changes).

        ``content_hash`` and ``sketch`` are the text's fingerprints
        (``aggregator.fingerprint``); no sketch means a text too short to compare by
        MinHash, and to be one review with a copy at another address. ``source`` is
        how the copy came ("feed", "url", "file", "stdin", "api") and ``origin`` from
        where (a file's path; by default the document's URL). A changed text makes the
        review due for linking again.
        """
        with self._write(f"saving review {document.url or content_hash}") as session:
            return _review_save.save(
                session.connection(),
                document,
                content_hash=content_hash,
                sketch=sketch,
                source=source,
                origin=origin,
                now=now,
                feed_id=feed_id,
            )

    def review_sources(self, review_id: int) -> list[ReviewSourceRecord]:
        """The ways the review arrived, first come first. NotFoundError if there is
        no such review."""
        with self._read(f"reading the sources of review {review_id}") as session:
            connection = session.connection()
            _reviews.get_row(connection, review_id)
            return _review_sources.list_for(connection, review_id)

    def get_review(self, review_id: int) -> ReviewRecord:
        with self._read(f"reading review {review_id}") as session:
            return _reviews.get(session.connection(), review_id)

    def find_review(self, id_or_url: str) -> ReviewRecord:
        """By id (all digits), else by URL. NotFoundError if neither matches."""
        with self._read(f"finding review {id_or_url}") as session:
            return _reviews.find(session.connection(), id_or_url)

    def get_reviews(self, review_ids: Sequence[int]) -> list[ReviewRecord]:
        """The reviews with these ids, whole, in the order given; unknown ids are left
        out. A page of ``reviews_page`` read in full: ``get_reviews([r.id for r in
        page])``."""
        with self._read("reading reviews") as session:
            return _reviews.by_ids(session.connection(), review_ids)

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
            return _reviews.by_ids(connection, ids)

    def delete_review(self, review_id: int) -> None:
        """Delete a review and its links. NotFoundError if there is none."""
        with self._write(f"deleting review {review_id}") as session:
            _reviews.delete(session.connection(), review_id)

    def reviews_needing_link(self, linker_version: str, *, limit: int) -> list[ReviewRecord]:
        """Reviews never linked, or last linked by another linker version; by id."""
        with self._read("finding reviews to link") as session:
            return _reviews.needing_link(session.connection(), linker_version, limit)

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
        when it is gone (``review_lease_holders``)."""
        until = now + timedelta(seconds=lease_seconds)
        with self._write("claiming reviews to link", changes=NOTHING) as session:
            return _reviews.claim_needing_link(
                session.connection(),
                linker_version,
                limit,
                now=now,
                owner=owner,
                until=until,
                host=host,
                pid=pid,
            )

    def review_lease_holders(self, now: datetime, *, host: str) -> list[tuple[str, int]]:
        """(owner, pid) of the processes on ``host`` that hold live review leases."""
        with self._read("reading who holds review leases") as session:
            return _leases.holders_on(session.connection(), REVIEW, now, host=host)

    def end_review_leases_of(self, owners: Sequence[str]) -> int:
        """End the review leases of these owners (processes known to be gone); returns
        how many reviews are free again."""
        if not owners:
            return 0
        with self._write(f"ending the review leases of {len(owners)} processes") as session:
            return _leases.end_leases_of(session.connection(), REVIEW, owners)

    def release_reviews(self, review_ids: Sequence[int], *, owner: str) -> int:
        """Give back reviews ``owner`` claimed and will not link (it is stopping)."""
        if not review_ids:
            return 0
        with self._write(f"releasing {len(review_ids)} reviews") as session:
            return _leases.release(session.connection(), REVIEW, review_ids, owner=owner)

    def mark_needing_link(self, review_ids: Sequence[int]) -> None:
        """Have the reviews linked again by whichever instance next re-links
        (``claim_reviews_needing_link``): their links may be out of date."""
        if not review_ids:
            return
        with self._write("marking reviews to link again") as session:
            _reviews.mark_needing_link(session.connection(), review_ids)

    def review_count(self) -> int:
        with self._read("counting reviews") as session:
            return _reviews.count(session.connection())

    # --- links ---------------------------------------------------------------------

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
            return _links.replace(
                session.connection(),
                review_id,
                proposals,
                linker_version=linker_version,
                now=now,
            )

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
        review, series or episode that does not exist.
        """
        with self._read("listing links") as session:
            return _queries.links_page(
                session.connection(),
                review_id=review_id,
                series_id=series_id,
                episode_id=episode_id,
                include_rejected=include_rejected,
                limit=limit,
                offset=offset,
            )

    def links_of_reviews(self, review_ids: Sequence[int]) -> dict[int, list[LinkRecord]]:
        """The links of each review (rejected ones left out) as ``list_links`` gives
        one review's, by review id; reviews without links are left out."""
        with self._read("listing links of reviews") as session:
            return _links.for_reviews(session.connection(), review_ids)

    def set_link_status(self, link_id: int, status: LinkStatus, now: datetime) -> LinkRecord:
        """Record a person's decision (confirm, reject). NotFoundError for no such link."""
        with self._write(f"setting the status of link {link_id}") as session:
            connection = session.connection()
            _links.set_status(connection, link_id, status, now)
            return _links.get(connection, link_id)

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
        link; one already confirmed or manual only takes the relation. NotFoundError
        for an unknown review or series, or an episode not of that series.
        """
        doing = f"adding a link from review {review_id} to series {series_id}"
        with self._write(doing) as session:
            connection = session.connection()
            link_id = _links.add(connection, review_id, series_id, episode_id, relation, now)
            return _links.get(connection, link_id)

    def link_counts(self) -> dict[str, int]:
        """Links not rejected, per relation value (every relation present)."""
        with self._read("counting links") as session:
            return _links.counts_by_relation(session.connection())
