"""The update pipeline: fetch -> parse -> decide -> store, for one feed or a batch.

One bad feed never stops a batch: a fetch or parse failure becomes data on the feed
(last error, error count, backoff) and the batch goes on. Each feed's result is
written in one storage transaction, so a poll interrupted by shutdown leaves either
the old state or the new one, never half of it.

Why one module of 400 lines: ``Poller`` is one class whose single poll and batch
share settings, fetchers, leases and the stop flag; how a batch hands out feeds
and defers its writes is in ``_batch``.
"""

from __future__ import annotations

import hashlib
import logging
import random as _random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from aggregator import metrics
from aggregator.exceptions import (
    AlreadyExistsError,
    FetchError,
    NotFoundError,
    ParseError,
    StorageError,
)
from aggregator.feeds import decide, leases
from aggregator.feeds._batch import Deferred, HostQueue
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.parse import parse_feed
from aggregator.settings import PollSettings
from aggregator.storage import Storage
from aggregator.types import FeedKind, FeedRecord, FeedUpdate, ParsedFeed, StoreCounts

__all__ = ["ContentListener", "PollReport", "PollSummary", "Poller"]

log = logging.getLogger(__name__)

# Enough recent publication dates to see a feed's rhythm (decide.RHYTHM_WINDOW).
_RHYTHM_DATES = decide.RHYTHM_WINDOW


@dataclass(frozen=True, slots=True)
class PollReport:
    """What happened to one feed in one poll."""

    feed_id: int
    url: str
    outcome: str  # "new", "updated", "unchanged", "not-modified", "failed", "gone"
    counts: StoreCounts = field(default_factory=StoreCounts)
    error: str | None = None
    elapsed_seconds: float = 0.0
    error_kind: str | None = None  # the error's class name, for metrics
    reviews: int = 0  # reviews taken in from a reviews feed (its items are not episodes)
    left_out: int = 0  # items not read, over poll.max_items

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "gone")

    def line(self) -> str:
        """One log line for this poll."""
        c = self.counts
        head = f"poll {self.url}: {self.outcome}"
        if self.error:
            return f"{head}: {self.error}"
        left_out = (
            f", {self.left_out:,} items over poll.max_items left out" if self.left_out else ""
        )
        if self.reviews:
            return (
                f"{head} ({self.reviews} reviews{left_out}) in {self.elapsed_seconds * 1000:.0f} ms"
            )
        return (
            f"{head} (new {c.new}, updated {c.updated}, unchanged {c.unchanged}, "
            f"missing {c.missing}{left_out}) in {self.elapsed_seconds * 1000:.0f} ms"
        )


@dataclass(slots=True)
class PollSummary:
    """Totals over a batch of polls; ``line()`` is the summary a user sees."""

    polled: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    reviews: int = 0
    left_out: int = 0  # items over poll.max_items, in all
    reports: list[PollReport] = field(default_factory=list)

    def add(self, report: PollReport) -> None:
        self.polled += 1
        self.reports.append(report)
        if report.failed:
            self.failed += 1
        self.new += report.counts.new
        self.updated += report.counts.updated
        self.reviews += report.reviews
        self.left_out += report.left_out
        if report.outcome in ("unchanged", "not-modified"):
            self.unchanged += 1

    def line(self) -> str:
        reviews = f", {self.reviews} reviews taken in" if self.reviews else ""
        left_out = (
            f" ({self.left_out:,} items over poll.max_items left out)" if self.left_out else ""
        )
        return (
            f"polled {self.polled} feeds: {self.new} new episodes, {self.updated} updated"
            f"{reviews}, {self.unchanged} feeds unchanged, {self.failed} failed{left_out}"
        )


class ContentListener(Protocol):
    """Told what a poll brought, after it is stored (``reviews.service.Reviews`` is one)."""

    def podcast_stored(self, feed: FeedRecord, parsed: ParsedFeed, counts: StoreCounts) -> None:
        """A podcast feed's new or changed content was stored."""

    def reviews_fetched(self, feed: FeedRecord, parsed: ParsedFeed) -> int:
        """A reviews feed changed: take its items in; returns how many were taken."""


class Poller:
    """Polls feeds: one at a time (``poll_feed``) or due ones in a bounded pool."""

    # Batches one ``poll_due`` may claim in all (see ``_refiller``).
    REFILL_BATCHES = 10

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
        # The name this instance's feed leases carry (see aggregator.feeds.leases).
        self._owner = owner or leases.instance_name()
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
        metrics.observe_poll(report.outcome, error=report.error_kind)
        return report

    def _fetcher_for(self, feed: FeedRecord) -> Fetcher:
        if feed.added_via == "api" and self._restricted_fetcher is not None:
            return self._restricted_fetcher
        return self._fetcher

    def _poll(self, feed: FeedRecord, started: datetime, defer: Deferred | None) -> PollReport:
        fetcher = self._fetcher_for(feed)
        try:
            result = fetcher.fetch(feed.url, feed.validators)
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
            check = self._check_new_feed_url(fetcher, candidate) if candidate else None
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
            self._storage.apply_poll(update, None, now)
            taken = self._listener.reviews_fetched(feed, parsed) if self._listener else 0
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

    def _check_new_feed_url(self, fetcher: Fetcher, url: str) -> decide.NewFeedUrlCheck:
        """Fetch and parse a feed's announced new URL before we follow it.

        Only happens when the old feed's content changed, so an unreachable new URL
        costs one extra request per change, not one per poll.
        """
        try:
            result = fetcher.fetch(url)
            if result.content is not None:
                parse_feed(
                    result.content,
                    url=result.final_url,
                    headers=result.headers,
                    max_items=self._settings.max_items,
                )
        except (FetchError, ParseError) as e:
            return decide.NewFeedUrlCheck(url, error=e.reason)
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
            feeds = self._claim()
            if not feeds:
                return PollSummary()
            refill = self._refiller(len(feeds))
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
            with leases.Renewer(self._renew_leases, self._settings.lease_seconds / 3):
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
        finally:
            deferred.flush()
            if claimed:
                self._release(queue.dropped)
        return summary

    def _claim(self) -> list[FeedRecord]:
        return self._storage.claim_due_feeds(
            self._clock(),
            self._settings.batch_size,
            owner=self._owner,
            lease_seconds=self._settings.lease_seconds,
        )

    def _refiller(self, claimed: int) -> Callable[[], list[FeedRecord]] | None:
        """More due feeds for a queue running low, while the first claim was full.

        Without it the workers of a batch wait for its slowest poll (a server that
        times out after a minute) before any feed of the next batch is claimed. Up to
        ``REFILL_BATCHES`` batches per call, so a tick still ends and its chores run.
        """
        if claimed < self._settings.batch_size:
            return None  # that was everything due
        budget = [self.REFILL_BATCHES - 1]

        def refill() -> list[FeedRecord]:
            if budget[0] <= 0:
                return []
            budget[0] -= 1
            try:
                return self._claim()
            except StorageError as e:
                log.warning("claiming more due feeds failed: %s", e)
                return []

        return refill

    def _renew_leases(self) -> None:
        self._storage.renew_feed_leases(
            self._clock(), owner=self._owner, lease_seconds=self._settings.lease_seconds
        )

    def _release(self, feeds: list[FeedRecord]) -> None:
        """Give back claimed feeds left unpolled (stopping), for other instances now."""
        try:
            self._storage.release_feeds([f.id for f in feeds], owner=self._owner)
        except StorageError as e:
            log.warning(
                "giving back %d feeds failed (their leases will run out): %s", len(feeds), e
            )


def _outcome(not_modified: bool, parsed: ParsedFeed | None, counts: StoreCounts) -> str:
    if not_modified:
        return "not-modified"
    if parsed is None or (counts.new == 0 and counts.updated == 0):
        return "unchanged"
    return "new" if counts.new else "updated"
