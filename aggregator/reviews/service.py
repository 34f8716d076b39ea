"""Reviews in, links out: takes reviews in and keeps their links current.

The glue between intake (``extract``), the linker (``linking``, pure) and storage. A
review is linked the moment it is added. Links are kept current incrementally:

- a new series (its first poll) is looked for in every review, with a linker that
  knows only that series — reviews x one series, not reviews x the catalog;
- new or changed episodes of a known series re-link the reviews already linked to
  that series (their "latest episode" may have changed), and the reviews published
  after the earliest new or changed episode in which a linker that knows only that
  series finds something;
- a new linker version re-links reviews linked by an older one (``relink_outdated``),
  each review claimed with a lease so that instances sharing a database split the work.

Several instances may share one database, each with its linker's catalog in memory.
Before linking, an instance reloads the series whose change time moved since it last
looked (``Storage.series_change_times``), whichever instance stored the change; after
writing links it looks again, and links again if a series changed meanwhile (see
``_link_current``). What the linker derives from each series is kept across runs by a
``DigestCache`` when one is given: a command that links builds its catalog from it
(``reviews/digest_cache.py``).

Human decisions (confirmed, rejected, manual links) survive all of it: storage's
``replace_links`` only replaces the linker's own links.

Why one module of over 550 lines: ``Reviews`` is one object whose adding, linking,
re-linking and catalog refresh share one catalog and one lock; none of its parts is
used apart.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Unpack
from urllib.parse import urlsplit

from aggregator import fingerprint, metrics
from aggregator.exceptions import ReviewError, ReviewNotFound, StorageError
from aggregator.feeds import leases
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.locations import http_url_problem
from aggregator.linking import LINKER_VERSION, Catalog, Linker
from aggregator.linking.series_index import SeriesDigest, digest_series
from aggregator.reviews.digest_cache import DigestCache
from aggregator.reviews.extract import (
    DocumentGiven,
    extract_document,
    extract_html,
    review_content_hash,
)
from aggregator.storage import Storage
from aggregator.types import (
    CatalogSeries,
    FeedRecord,
    LinkRecord,
    ParsedFeed,
    ReviewDocument,
    ReviewRecord,
    SavedReview,
    StoreCounts,
)

__all__ = ["LINK_TEXT_LIMIT", "AddedReview", "Reviews", "name_words", "settle_after_build"]

log = logging.getLogger(__name__)


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class AddedReview:
    """A review taken in, with its links, and how storage saved it: new, or a copy of
    one stored (``SavedReview``: how it was found, whether the source is new, whether
    the stored review changed)."""

    review: ReviewRecord
    links: list[LinkRecord]
    saved: SavedReview

    @property
    def created(self) -> bool:
        return self.saved.created


class Reviews:
    """Review intake and linking, over one storage. Thread-safe."""

    # Reviews claimed at once for re-linking.
    RELINK_CLAIM = 20
    # Times a batch is linked again because series changed while it was linked.
    RELINK_ROUNDS = 3

    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher,
        *,
        clock: Callable[[], datetime],
        owner: str | None = None,
        lease_seconds: float = 120.0,
        digests: DigestCache | None = None,
    ) -> None:
        self._storage = storage
        self._fetcher = fetcher
        self._clock = clock
        self._owner = owner or leases.instance_name()
        self._lease_seconds = lease_seconds
        # The process the leases name, for others on this host to see when it is gone.
        self._holder = leases.this_process()
        self._linker: Linker | None = None
        # What the catalog needs of a series: from the cache, if there is one.
        self._digest: Callable[[CatalogSeries], SeriesDigest] = (
            digest_series if digests is None else digests.digest
        )
        self._digests = digests
        # Each series' change time as the catalog reflects it, and when we last looked.
        self._catalog_times: dict[int, datetime | None] = {}
        # Linking, and every change to the catalog, under this lock: the catalog is
        # not safe to change while a review is being linked with it.
        self._lock = threading.RLock()

    # --- intake ------------------------------------------------------------------

    def add(
        self,
        data: bytes,
        *,
        source: str,
        origin: str | None = None,
        **given: Unpack[DocumentGiven],
    ) -> AddedReview:
        """Take in a review from bytes (a file, stdin, an API body) and link it.

        ``origin`` says where the bytes came from when that is no URL (a file's path);
        ``given`` is what ``extract_document`` takes besides the bytes.
        """
        document = extract_document(data, **given)
        return self._save_and_link(document, source=source, origin=origin)

    def add_url(
        self,
        url: str,
        *,
        title: str | None = None,
        author: str | None = None,
        published: datetime | None = None,
    ) -> AddedReview:
        """Fetch a review page through our fetch layer, extract its main text, link it."""
        result = self._fetcher.fetch(url)
        if result.content is None:  # only local files answer "not modified" unasked
            raise ReviewError(f"{url}: no content")
        document = extract_document(
            result.content,
            content_type=result.headers.get("content-type"),
            url=result.final_url,
            title=title,
            author=author,
            published=published,
        )
        return self._save_and_link(document, source="url")

    def take_feed_items(self, feed: FeedRecord, parsed: ParsedFeed) -> int:
        """Every item of a reviews feed becomes a review; returns how many were taken.

        An item that is not a review we can read (empty, only an image) is skipped with
        a log line; the rest of the feed carries on. An item that meets a bug is logged
        and the rest carry on too; then the first such error is raised once all are
        done, so that the poll fails and the feed is polled again (after its backoff).
        """
        taken = 0
        bug: Exception | None = None
        for item in parsed.episodes:
            try:
                document = extract_html(
                    item.description_html,
                    # A link no browser can follow (port 99999, no host) is no
                    # review URL: the review is kept without one.
                    url=item.link if item.link and http_url_problem(item.link) is None else None,
                    title=item.title,
                    author=item.author,
                    published=item.published,
                )
            except ReviewError as e:
                log.info("reviews feed %s: item %s skipped: %s", feed.url, item.guid, e)
                continue
            # An item without a link is known by its guid within the feed.
            origin = item.link or item.guid
            try:
                self._save_and_link(document, source="feed", feed_id=feed.id, origin=origin)
            except StorageError:
                raise  # the database failed: the next items would fail alike
            except Exception as e:
                log.exception("reviews feed %s: item %s: internal error", feed.url, item.guid)
                bug = bug or e
                continue
            taken += 1
        if bug is not None:
            raise bug
        return taken

    def _save_and_link(
        self,
        document: ReviewDocument,
        *,
        source: str,
        feed_id: int | None = None,
        origin: str | None = None,
    ) -> AddedReview:
        # Fingerprinted before the lock: the MinHash is the costly part.
        content_hash = review_content_hash(document)
        sketch = fingerprint.sketch(document.text)
        # Saving and linking under the lock that series_changed holds too: a review
        # saved while a new series is being looked for is either seen by that search
        # or linked with a catalog that already has the series — never neither.
        with self._lock:
            saved = self._storage.save_review(
                document,
                content_hash=content_hash,
                sketch=sketch,
                source=source,
                origin=origin,
                now=self._clock(),
                feed_id=feed_id,
            )
            record = saved.review
            if record.linker_version == LINKER_VERSION:
                # A copy that changed nothing the linker reads: its links stand
                # (kept current as series and episodes change, see series_changed).
                return AddedReview(record, self._storage.list_links(review_id=record.id), saved)
            # Saved first, then the catalog brought up to date: a series another
            # instance stores meanwhile either finds this review when it looks for its
            # reviews (series_changed) or is in the catalog that links it.
            self._refresh_catalog()
            return AddedReview(record, self._link_current([record])[record.id], saved)

    # --- linking -------------------------------------------------------------------

    def linker(self) -> Linker:
        """The linker over the whole catalog, built on first use and kept current."""
        with self._lock:
            if self._linker is None:
                # Times read before the series: a change stored in between is seen
                # as a change at the next refresh, never missed.
                times = self._storage.series_change_times()
                catalog = self._storage.with_catalog(
                    lambda series: Catalog.build(series, self._digest)
                )
                self._linker = Linker(catalog)
                self._catalog_times = times
                if self._digests is not None:
                    # The files of series deleted since go.
                    self._digests.keep_only([info.id for info in catalog])
            return self._linker

    def warm_up(self) -> threading.Thread:
        """Build the linker in a background thread now, so the first review added to a
        large catalog does not wait for it (minutes at 100k episodes); callers that
        need it meanwhile wait on the lock instead of building it twice. For the
        long-running service: the catalog is then kept out of the garbage collector's
        sight (``settle_after_build``)."""

        def build() -> None:
            started = time.monotonic()
            try:
                with self._lock:
                    series = len(self.linker().catalog)
                    settle_after_build()
            except StorageError as e:
                log.warning("building the linker's catalog failed (tried again on use): %s", e)
                return
            log.info("linker ready: %d series in %.1f s", series, time.monotonic() - started)

        thread = threading.Thread(target=build, name="linker-warm-up", daemon=True)
        thread.start()
        return thread

    def _refresh_catalog(self) -> _Moved:
        """Reload the series that changed in the database since the catalog was read
        (stored by another instance, or by this one), and drop the deleted ones;
        returns what moved. With the lock held."""
        if self._linker is None:
            return _Moved()  # built from the database when first needed
        times = self._storage.series_change_times()
        catalog = self._linker.catalog
        gone = self._catalog_times.keys() - times.keys()
        for series_id in gone:
            if series_id in catalog:
                catalog.remove(series_id)
        changed = [i for i, t in times.items() if self._catalog_times.get(i, t) != t]
        changed += list(times.keys() - self._catalog_times.keys())
        loaded = self._storage.catalog(changed) if changed else []
        for series in loaded:
            catalog.put(series, self._digest(series))
        if changed:
            log.info("catalog: reloaded %d changed series", len(changed))
        self._catalog_times = times
        return _Moved(tuple(loaded), frozenset(gone))

    def relink(self, review: ReviewRecord) -> list[LinkRecord]:
        """Link one review afresh; human decisions on its links are kept."""
        with self._lock:
            self._refresh_catalog()
            return self._link_current([review])[review.id]

    def _link_current(self, reviews: list[ReviewRecord]) -> dict[int, list[LinkRecord]]:
        """Link ``reviews`` and write their links, with a catalog as current as the
        write; with the lock held and the catalog just refreshed.

        Another instance may store a series while we link. It then looks for the
        reviews naming that series and re-links them; a write of ours computed
        without the series, landing after its write, would undo it. So once written
        we look again, and link the batch again if any series changed meanwhile: the
        last write of a review's links is made with every series stored before it.
        """
        links: dict[int, list[LinkRecord]] = {}
        todo = reviews
        for _ in range(self.RELINK_ROUNDS):
            linker = self.linker()
            for review in todo:
                proposals = linker.link(_linkable(review.document()))
                links[review.id] = self._storage.replace_links(
                    review.id, proposals, linker_version=LINKER_VERSION, now=self._clock()
                )
            moved = self._refresh_catalog()
            # Again only the reviews the series that moved bear on: while feeds are
            # being polled some series moves every moment, mostly one a review is
            # not about.
            todo = moved.bearing_on(todo, links, self._digest) if moved else []
            if not todo:
                break
        else:
            # Still moving: the re-linking chore takes these reviews up again later.
            log.info("series kept changing while %d reviews were linked", len(todo))
            self._storage.mark_needing_link([r.id for r in todo])
        for found in links.values():
            metrics.observe_linking(len(found))
        return links

    # --- the poller's listener -------------------------------------------------------

    def podcast_stored(self, feed: FeedRecord, parsed: ParsedFeed, counts: StoreCounts) -> None:
        if counts.series_id is None:
            return
        relinked = self.series_changed(
            counts.series_id,
            new_series=feed.content_hash is None,
            since=counts.changed_since,
        )
        if relinked:
            log.info("re-linked %d reviews after a change to %s", relinked, feed.url)

    def reviews_fetched(self, feed: FeedRecord, parsed: ParsedFeed) -> int:
        return self.take_feed_items(feed, parsed)

    def series_changed(self, series_id: int, *, new_series: bool, since: datetime | None) -> int:
        """Re-link the reviews a changed series could change; returns how many.

        ``since`` is the earliest publication date among the new or changed episodes.
        """
        with self._lock:
            return self._series_changed(series_id, new_series=new_series, since=since)

    def _series_changed(self, series_id: int, *, new_series: bool, since: datetime | None) -> int:
        if self._storage.review_count() == 0:
            # Nothing to re-link: a catalog already built picks the series up from
            # its change time when it next links (``_refresh_catalog``).
            return 0
        # The reviews linked (not rejected) to the series or one of its episodes.
        linked = self._storage.reviews_page(series_id=series_id)
        todo = {r.id: r for r in self._storage.get_reviews([r.id for r in linked])}
        # Every series changed meanwhile, this one included: the links written below
        # must be made with all of them (see _link_current).
        changed = [s for s in self._refresh_catalog().loaded if s.id == series_id]
        if not changed:
            # Not reloaded: no catalog built yet, or its change time did not move (two
            # changes may share one). Read it, and put it in all the same.
            changed = self._storage.catalog([series_id])
            if self._linker is not None:
                for series in changed:
                    self._linker.catalog.put(series, self._digest(series))
        if not changed:
            return 0
        if new_series or since is not None:
            cutoff = None if new_series or since is None else since - timedelta(days=1)
            candidates = self._reviews_naming(changed[0], published_since=cutoff)
            only_this = Linker(Catalog.build(changed, self._digest))
            for review in candidates:
                if review.id not in todo and only_this.link(review.document()):
                    todo[review.id] = review
        if todo:
            failed = self._link_apart(list(todo.values()))
            if failed:
                # Left for the re-linking chore, which tries them again.
                self._storage.mark_needing_link(failed)
        return len(todo)

    def _reviews_naming(
        self, series: CatalogSeries, *, published_since: datetime | None
    ) -> list[ReviewRecord]:
        """The stored reviews that could be about ``series``: those using one of its
        names' words (title, author, people, site), found with the full-text index.

        Reading every review for every new series would make following a feed cost
        as much as the whole review store (a minute per feed at 1,000 reviews). A
        review that names neither the show nor any of its people (correctly spelled
        at least once) nor its site is left for the next re-link of that review.
        """
        words = name_words(series)
        if not words:  # a title of function words only: nothing to narrow by
            reviews = self._storage.get_reviews([r.id for r in self._storage.reviews_page()])
            if published_since is None:
                return reviews
            return [r for r in reviews if r.published is None or r.published >= published_since]
        return self._storage.reviews_with_any_word(words, published_since=published_since)

    def relink_outdated(self, *, limit: int = 1000, stop: Callable[[], bool] = _never) -> int:
        """Re-link reviews linked by another linker version (or never); returns how many.

        Each review is claimed first: instances sharing the database split the work.
        A review claimed by a process of this host that is gone (killed with -9) is
        taken back at once; one claimed by an instance elsewhere that died, when its
        lease ends. Once ``stop()`` says so (the service is shutting down), no more
        is claimed, and a batch claimed but not linked yet is given back.
        """
        self._take_back_from_dead()
        done = linked = 0
        while done < limit and not stop():
            # Small claims: a batch is linked well within one lease (no renewals), and
            # an instance that dies holds little work hostage.
            holder = self._holder
            batch = self._storage.claim_reviews_needing_link(
                LINKER_VERSION,
                limit=min(self.RELINK_CLAIM, limit - done),
                now=self._clock(),
                owner=self._owner,
                lease_seconds=self._lease_seconds,
                host=holder.host if holder else None,
                pid=holder.pid if holder else None,
            )
            if not batch:
                break
            if stop():  # came while claiming: the batch is for another instance
                self._give_back(batch)
                break
            try:
                with self._lock:
                    self.linker()
                    self._refresh_catalog()
                    # A review that fails stays claimed until its lease ends, then is
                    # tried again; the others are linked now.
                    failed = self._link_apart(batch)
            except BaseException:
                # Interrupted (Ctrl-C, where this runs in the main thread) or the
                # database failed: what is not linked is not held until the lease ends.
                self._give_back(batch)
                raise
            done += len(batch)
            linked += len(batch) - len(failed)
        return linked

    def _take_back_from_dead(self) -> None:
        if self._holder is None:
            return
        try:
            leases.take_back_reviews_from_dead(self._storage, self._clock(), self._holder)
        except StorageError as e:
            log.warning("taking back the reviews of dead processes failed: %s", e)

    def _give_back(self, batch: list[ReviewRecord]) -> None:
        """End our claims on the reviews of ``batch`` not linked (a linked one's claim
        ended with its links), so that they need not wait out the lease."""
        try:
            self._storage.release_reviews([r.id for r in batch], owner=self._owner)
        except StorageError as e:
            log.warning(
                "giving back %d reviews failed (their leases will run out): %s", len(batch), e
            )

    def _link_apart(self, reviews: list[ReviewRecord]) -> list[int]:
        """``_link_current`` over ``reviews``, and if that fails, over each on its own,
        so that a review that meets a bug keeps none of the others from their links;
        returns the ids of those that failed. With the lock held. A failing database
        fails them all alike: that is raised."""
        try:
            self._link_current(reviews)
            return []
        except StorageError:
            raise
        except Exception:
            if len(reviews) == 1:
                log.exception("linking review %d failed", reviews[0].id)
                return [reviews[0].id]
        failed = []
        for review in reviews:
            try:
                self._link_current([review])
            except StorageError:
                raise
            except ReviewNotFound:
                pass  # deleted meanwhile: nothing to link
            except Exception:
                log.exception("linking review %d failed", review.id)
                failed.append(review.id)
        return failed


def settle_after_build() -> None:
    """Put everything alive now — the linker's catalog above all, about a million
    objects at 100k episodes — out of the garbage collector's sight.

    A full collection walks every tracked object (~0.3 s with that catalog) and falls
    on whichever review is being linked: the slowest links of bench/link were such
    collections. Garbage is collected first so that none is frozen with the catalog;
    series reloaded later are tracked as usual.
    """
    gc.collect()
    gc.freeze()


@dataclass(frozen=True, slots=True)
class _Moved:
    """The series a catalog refresh reloaded, and the ids of those it dropped."""

    loaded: tuple[CatalogSeries, ...] = ()
    gone: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.loaded or self.gone)

    def bearing_on(
        self,
        reviews: list[ReviewRecord],
        links: dict[int, list[LinkRecord]],
        digest: Callable[[CatalogSeries], SeriesDigest] = digest_series,
    ) -> list[ReviewRecord]:
        """The reviews these series could change: linked to one of them, or in which
        a linker that knows only them finds something."""
        ids = self.gone | {s.id for s in self.loaded}
        only_these = Linker(Catalog.build(self.loaded, digest)) if self.loaded else None
        return [
            r
            for r in reviews
            if any(link.series_id in ids for link in links.get(r.id, ()))
            or (only_these is not None and only_these.link(_linkable(r.document())))
        ]


# The linker reads at most this much of a review's text: about 30,000 words, several
# times the longest review anyone writes, and ~0.2 s of linking (a 5 MiB text, the
# intake limit, took 25-30 s). Evidence spans still index into the full text.
LINK_TEXT_LIMIT = 200_000


def _linkable(document: ReviewDocument) -> ReviewDocument:
    if len(document.text) <= LINK_TEXT_LIMIT:
        return document
    # Without the HTML, which would no longer match the text it was cut to.
    return replace(document, text=document.text[:LINK_TEXT_LIMIT], html=None)


# Words too common to narrow a search for a show's reviews by.
_FUNCTION_WORDS = frozenset(
    (
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "he", "her"),
        *("his", "i", "in", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or"),
        *("our", "she", "so", "the", "their", "they", "this", "to", "us", "vs", "we"),
        *("with", "you", "your", "podcast", "podcasts", "show"),
        *("de", "der", "des", "die", "das", "du", "el", "en", "et", "la", "las", "le"),
        *("les", "los", "und"),
    )
)
_NAME_WORD = re.compile(r"[^\W_]+")
_MAX_NAME_WORDS = 64


def name_words(series: CatalogSeries) -> list[str]:
    """Lower-case words of a show's names (title, author, owner, people) and its
    site's host, function words left out, at most 64.

    >>> s = CatalogSeries(1, "The Daily", "u", author="The New York Times",
    ...                   link="https://www.nytimes.com/the-daily")
    >>> name_words(s)
    ['daily', 'new', 'york', 'times', 'nytimes']
    """
    names = [series.title, series.author or "", series.owner_name or ""]
    names += [person.name for person in series.persons]
    if series.link:
        host = urlsplit(series.link).hostname or ""
        names.append(" ".join(host.split(".")[-2:-1]))  # "nytimes" of www.nytimes.com
    words: list[str] = []
    for name in names:
        for word in _NAME_WORD.findall(name.lower()):
            if word not in _FUNCTION_WORDS and word not in words:
                words.append(word)
    return words[:_MAX_NAME_WORDS]
