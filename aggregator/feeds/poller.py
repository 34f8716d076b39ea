"""The update pipeline: fetch -> parse -> decide -> store, for one feed or a batch.

One bad feed never stops a batch: a fetch or parse failure becomes data on the feed
(last error, error count, backoff) and the batch goes on. Each feed's result is
written in one storage transaction, so a poll interrupted by shutdown leaves either
the old state or the new one, never half of it.

``Poller`` is one class whose single poll and batch share settings, fetchers,
claims and the stop flag; how a batch hands out feeds and defers its writes is in
``_batch``, how its feeds are claimed and given back in ``_claims``, what a poll
reports in ``_reports``.
"""

from __future__ import annotations

import hashlib
import logging
import random as _random
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from aggregator import metrics
from aggregator.exceptions import (
    AggregatorError,
    AlreadyExistsError,
    BlockedURL,
    FetchError,
    NotFoundError,
    ParseError,
    StorageError,
)
from aggregator.feeds import decide, leases
from aggregator.feeds._batch import Deferred, HostQueue
from aggregator.feeds._claims import Claims
from aggregator.feeds._reports import PollReport, PollSummary
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.parse import parse_feed
from aggregator.settings import PollSettings
from aggregator.storage import Storage
from aggregator.types import FeedKind, FeedRecord, FeedUpdate, ParsedFeed, StoreCounts

__all__ = ["ContentListener", "PollReport", "PollSummary", "Poller"]

log = logging.getLogger(__name__)

# The metrics' name for a poll failed by a bug (any exception not ours): one name, so
# that the failure counter's labels stay a small fixed set.
INTERNAL_ERROR = "InternalError"

# Enough recent publication dates to see a feed's rhythm (decide.RHYTHM_WINDOW).
_RHYTHM_DATES = decide.RHYTHM_WINDOW


class ContentListener(Protocol):
    """Told what a poll brought, after it is stored (``reviews.service.Reviews`` is one)."""

    def podcast_stored(self, feed: FeedRecord, parsed: ParsedFeed, counts: StoreCounts) -> None:
        """A podcast feed's new or changed content was stored."""

    def reviews_fetched(self, feed: FeedRecord, parsed: ParsedFeed) -> int:
        """A reviews feed changed: take its items in; returns how many were taken."""


class Poller:
    """Polls feeds: one at a time (``poll_feed``) or due ones in a bounded pool."""

    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher,
        settings: PollSettings,
        *,
        clock: Callable[[], datetime],
        random: Callable[[], float] = _random.random,
        listener: ContentListener | None = None,
        restricted_fetcher: Fetcher | None = None,
        owner: str | None = None,
    ) -> None:
        self._storage = storage
        # The feeds this poller holds, under this instance's name (feeds.leases).
        self._claims = Claims(storage, settings, clock, owner or leases.instance_name())
        self._listener = listener
        # Feeds added through the HTTP API are fetched with this one: public addresses
        # only, redirects included (no server-side request forgery through a feed URL).
        self._restricted_fetcher = restricted_fetcher
        self._fetcher = fetcher
        self._settings = settings
        self._clock = clock
        self._random = random
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Start no new poll; polls in flight finish and are stored."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def poll_feed(self, feed: FeedRecord, *, defer: Deferred | None = None) -> PollReport:
        """Poll one feed now, due or not, and store the outcome.

        With ``defer``, a poll that brought nothing to store (a 304, an unchanged
        body) leaves its schedule update there, for the caller to write in a batch.
        """
        started = self._clock()
        try:
            report = self._poll(feed, started, defer)
        except (StorageError, NotFoundError, AlreadyExistsError) as e:
            # The database refused the write (or the feed was removed meanwhile):
            # nothing of this poll was stored; the feed stays due and is tried again
            # at the next tick.
            log.error("poll %s: storage error: %s", feed.url, e)
            report = PollReport(
                feed.id, feed.url, "failed", error=f"storage error: {e}", error_kind="StorageError"
            )
        except Exception as e:
            # A bug met on this feed's content (an input no stage foresaw): that feed's
            # poll failed, as a fetch error fails it; the worker, and with it the rest
            # of the batch, carries on. An exception out of here would end the worker
            # thread and leave the feeds it had yet to take claimed until their leases
            # ran out, with a summary that counted none of them.
            log.exception("poll %s: internal error", feed.url)
            report = self._fail_internal(feed, e, started)
        metrics.observe_poll(report.outcome, error=report.error_kind)
        return report

    def _fail_internal(self, feed: FeedRecord, error: Exception, started: datetime) -> PollReport:
        """Store a poll that a bug failed: backed off like any failing feed, so a feed
        that meets the bug at every poll is not polled at every tick; its lease ends."""
        reason = AggregatorError(
            f"internal error ({type(error).__name__}: {error}); the log has the details"
        )
        now = self._clock()
        try:
            update = decide.failure_update(
                feed, reason, now=now, poll=self._settings, random=self._random
            )
            self._storage.apply_poll(update, None, now)
        except Exception as e:
            # Not even the failure could be stored: at least let the feed go, for this
            # instance or another to try again at once rather than when the lease ends.
            log.error("poll %s: storing the failure failed too: %s", feed.url, e)
            self._claims.release([feed])
        return PollReport(
            feed.id,
            feed.url,
            "failed",
            error=str(reason),
            elapsed_seconds=(now - started).total_seconds(),
            error_kind=INTERNAL_ERROR,
        )

    def _fetcher_for(self, feed: FeedRecord) -> Fetcher:
        if feed.added_via == "api" and self._restricted_fetcher is not None:
            return self._restricted_fetcher
        return self._fetcher

    def _poll(self, feed: FeedRecord, started: datetime, defer: Deferred | None) -> PollReport:
        fetcher = self._fetcher_for(feed)
        try:
            # Only the host and port of the URL as added were chosen by whoever added
            # the feed; a URL it moved to was chosen by the publisher.
            result = fetcher.fetch(feed.url, feed.validators, trusted_url=feed.added_url)
        except FetchError as e:
            return self._fail(feed, e, started)
        metrics.observe_fetch(result.elapsed_seconds)
        now = self._clock()
        parsed: ParsedFeed | None = None
        content_hash = feed.content_hash
        if result.content is not None:
            content_hash = hashlib.sha256(result.content).hexdigest()
            if content_hash != feed.content_hash:
                # A reviews feed is small and its items become reviews, not
                # episodes: parsed in full, with no item hashes to skip by.
                known = (
                    self._storage.known_item_hashes(feed.id)
                    if feed.kind is FeedKind.PODCAST
                    else frozenset[str]()
                )
                try:
                    parsed = parse_feed(
                        result.content,
                        url=result.final_url,
                        headers=result.headers,
                        known_item_hashes=known,
                        max_items=self._settings.max_items,
                    )
                except ParseError as e:
                    return self._fail(feed, e, started)
        published = self._recent_published(feed, parsed)
        check = None
        if parsed is not None:
            candidate = decide.new_feed_url_candidate(feed, result, parsed)
            check = self._check_new_feed_url(fetcher, feed, candidate) if candidate else None
        update = decide.success_update(
            feed,
            result,
            parsed,
            content_hash=content_hash,
            published=published,
            now=now,
            poll=self._settings,
            new_feed_url=check,
        )
        if defer is not None and parsed is None and update.url is None:
            defer.add(update, now)
            counts = StoreCounts()
        elif parsed is not None and feed.kind is FeedKind.REVIEWS:
            # The items first, the poll (with the new content hash) after: a poll that
            # fails while its items are taken in is not "unchanged" at the next poll,
            # which takes them all in again (the same review is updated, never doubled).
            taken = self._listener.reviews_fetched(feed, parsed) if self._listener else 0
            self._storage.apply_poll(update, None, now)
            return PollReport(
                feed.id,
                feed.url,
                "new" if taken else "unchanged",
                reviews=taken,
                elapsed_seconds=(self._clock() - started).total_seconds(),
                left_out=parsed.left_out,
            )
        else:
            counts = self._storage.apply_poll(update, parsed, now)
            if counts.missing and counts.series_id is not None:
                self._prune(feed, counts.series_id, now)
            if parsed is not None and self._listener and (counts.new or counts.updated):
                self._listener.podcast_stored(feed, parsed, counts)
        outcome = _outcome(result.not_modified, parsed, counts)
        return PollReport(
            feed.id,
            feed.url,
            outcome,
            counts,
            elapsed_seconds=(self._clock() - started).total_seconds(),
            left_out=parsed.left_out if parsed is not None else 0,
        )

    def _prune(self, feed: FeedRecord, series_id: int, now: datetime) -> None:
        """Episodes went missing: delete those beyond ``keep_missing_episodes``.

        After the poll is stored, on its own: if this fails, the poll stands and the
        next poll that finds an episode gone tries again."""
        keep = self._settings.keep_missing_episodes
        try:
            deleted = self._storage.prune_missing_episodes(series_id, keep=keep, now=now)
        except StorageError as e:
            log.warning("poll %s: deleting old missing episodes failed: %s", feed.url, e)
            return
        if deleted:
            log.info(
                "poll %s: deleted %d episodes gone from the feed, beyond the %d kept",
                feed.url,
                deleted,
                keep,
            )

    def _check_new_feed_url(
        self, fetcher: Fetcher, feed: FeedRecord, url: str
    ) -> decide.NewFeedUrlCheck:
        """Fetch and parse a feed's announced new URL before we follow it.

        Only happens when the old feed's content changed, so an unreachable new URL
        costs one extra request per change, not one per poll. The URL is the
        publisher's choice: the address policy trusts only the origin of the URL the
        feed was added with. What went wrong goes to the log, not into the feed's
        note: the note is published, and an error names addresses and ports behind it.
        """
        try:
            result = fetcher.fetch(url, trusted_url=feed.added_url)
            if result.content is not None:
                parse_feed(
                    result.content,
                    url=result.final_url,
                    headers=result.headers,
                    max_items=self._settings.max_items,
                )
        except (FetchError, ParseError) as e:
            log.info("poll %s: itunes:new-feed-url %s not followed: %s", feed.url, url, e.reason)
            if isinstance(e, BlockedURL):
                return decide.NewFeedUrlCheck(url, problem=decide.NewFeedUrlProblem.REFUSED)
            if isinstance(e, ParseError):
                return decide.NewFeedUrlCheck(url, problem=decide.NewFeedUrlProblem.NOT_A_FEED)
            return decide.NewFeedUrlCheck(url, problem=decide.NewFeedUrlProblem.UNREACHABLE)
        return decide.NewFeedUrlCheck(result.moved_to or url)

    def _recent_published(self, feed: FeedRecord, parsed: ParsedFeed | None) -> list[datetime]:
        """Publication dates for the feed's rhythm; only needed when content changed."""
        if parsed is None:
            return []
        dates = [e.published for e in parsed.episodes if e.published]
        if not parsed.complete:
            dates.extend(self._storage.recent_published(feed.id, _RHYTHM_DATES))
        return dates

    def _fail(
        self, feed: FeedRecord, error: FetchError | ParseError, started: datetime
    ) -> PollReport:
        now = self._clock()
        update: FeedUpdate = decide.failure_update(
            feed, error, now=now, poll=self._settings, random=self._random
        )
        self._storage.apply_poll(update, None, now)
        return PollReport(
            feed.id,
            feed.url,
            update.status.value if update.status.value == "gone" else "failed",
            error=update.last_error,
            elapsed_seconds=(now - started).total_seconds(),
            error_kind=type(error).__name__,
        )

    def poll_due(
        self,
        *,
        feeds: Iterable[FeedRecord] | None = None,
        on_report: Callable[[PollReport], None] | None = None,
    ) -> PollSummary:
        """Poll the given feeds, or every due feed, in a bounded pool of workers.

        At most ``workers`` polls run at once and at most ``per_host`` against any one
        host, so one publisher with many feeds is not hammered. Polls that bring
        nothing to store are written in batches (see ``Storage.apply_schedule_updates``).
        """
        claimed = feeds is None
        refill: Callable[[], list[FeedRecord]] | None = None
        if feeds is None:
            # Leased to this instance: another one polling the same database skips
            # them until each poll is stored (or this instance dies and the lease ends).
            feeds = self._claims.next_batch()
            if not feeds:
                return PollSummary()
            refill = self._claims.refiller(len(feeds))
        queue = HostQueue(
            feeds,
            self._settings.per_host,
            self._stopping,
            refill=refill,
            low=self._settings.workers,
        )
        deferred = Deferred(self._storage)
        summary = PollSummary()
        lock = threading.Lock()

        def work() -> None:
            while (feed := queue.take()) is not None:
                try:
                    report = self.poll_feed(feed, defer=deferred)
                finally:
                    queue.done(feed)
                if log.isEnabledFor(logging.INFO):
                    log.info(report.line())
                with lock:
                    summary.add(report)
                if on_report is not None:
                    on_report(report)

        count = self._settings.workers if refill else min(self._settings.workers, queue.size)
        workers = [
            threading.Thread(target=work, name=f"poll-{i}", daemon=True) for i in range(count)
        ]
        try:
            with leases.Renewer(self._claims.renew, self._settings.lease_seconds / 3):
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
        finally:
            deferred.flush()
            if claimed:
                self._claims.release(queue.dropped)
        return summary

    def claim(self, limit: int, *, ahead_of_schedule: bool = False) -> list[FeedRecord]:
        """Lease up to ``limit`` due feeds to this poller (``Claims.claim``)."""
        return self._claims.claim(limit, ahead_of_schedule=ahead_of_schedule)

    def take_back_dead_leases(self) -> int:
        """Free the feeds claimed by processes of this host that are gone (a poll
        killed with -9): polled now, not when their leases run out. Returns how many."""
        return self._claims.take_back_dead()


def _outcome(not_modified: bool, parsed: ParsedFeed | None, counts: StoreCounts) -> str:
    if not_modified:
        return "not-modified"
    if parsed is None or (counts.new == 0 and counts.updated == 0):
        return "unchanged"
    return "new" if counts.new else "updated"
