"""The update pipeline: fetch -> parse -> decide -> store, for one feed or a batch.

One bad feed never stops a batch: a fetch or parse failure becomes data on the feed
(last error, error count, backoff) and the batch goes on. Each feed's result is
written in one storage transaction, so a poll interrupted by shutdown leaves either
the old state or the new one, never half of it.
"""

from __future__ import annotations

import hashlib
import logging
import random as _random
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from aggregator import decide
from aggregator.exceptions import FetchError, ParseError, StorageError
from aggregator.fetch import Fetcher
from aggregator.parse import parse_feed
from aggregator.settings import PollSettings
from aggregator.storage import Storage
from aggregator.types import FeedRecord, FeedUpdate, ParsedFeed, StoreCounts

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

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "gone")

    def line(self) -> str:
        """One log line for this poll."""
        c = self.counts
        head = f"poll {self.url}: {self.outcome}"
        if self.error:
            return f"{head}: {self.error}"
        return (
            f"{head} (new {c.new}, updated {c.updated}, unchanged {c.unchanged}, "
            f"missing {c.missing}) in {self.elapsed_seconds * 1000:.0f} ms"
        )


@dataclass(slots=True)
class PollSummary:
    """Totals over a batch of polls; ``line()`` is the summary a user sees."""

    polled: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    reports: list[PollReport] = field(default_factory=list)

    def add(self, report: PollReport) -> None:
        self.polled += 1
        self.reports.append(report)
        if report.failed:
            self.failed += 1
        self.new += report.counts.new
        self.updated += report.counts.updated
        if report.outcome in ("unchanged", "not-modified"):
            self.unchanged += 1

    def line(self) -> str:
        return (
            f"polled {self.polled} feeds: {self.new} new episodes, {self.updated} updated, "
            f"{self.unchanged} feeds unchanged, {self.failed} failed"
        )


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
    ) -> None:
        self._storage = storage
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

    def poll_feed(self, feed: FeedRecord) -> PollReport:
        started = self._clock()
        try:
            return self._poll(feed, started)
        except StorageError as e:
            # The database refused the write: nothing of this poll was stored; the
            # feed stays due and is tried again at the next tick.
            log.error("poll %s: storage error: %s", feed.url, e)
            return PollReport(feed.id, feed.url, "failed", error=f"storage error: {e}")

    def _poll(self, feed: FeedRecord, started: datetime) -> PollReport:
        try:
            result = self._fetcher.fetch(feed.url, feed.validators)
        except FetchError as e:
            return self._fail(feed, e, started)
        now = self._clock()
        parsed: ParsedFeed | None = None
        content_hash = feed.content_hash
        if result.content is not None:
            content_hash = hashlib.sha256(result.content).hexdigest()
            if content_hash != feed.content_hash:
                try:
                    parsed = parse_feed(
                        result.content,
                        url=result.final_url,
                        headers=result.headers,
                        known_item_hashes=self._storage.known_item_hashes(feed.id),
                    )
                except ParseError as e:
                    return self._fail(feed, e, started)
        published = self._recent_published(feed, parsed)
        check = None
        if parsed is not None:
            candidate = decide.new_feed_url_candidate(feed, result, parsed)
            check = self._check_new_feed_url(candidate) if candidate else None
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
        counts = self._storage.apply_poll(update, parsed, now)
        outcome = _outcome(result.not_modified, parsed, counts)
        return PollReport(
            feed.id,
            feed.url,
            outcome,
            counts,
            elapsed_seconds=(self._clock() - started).total_seconds(),
        )

    def _check_new_feed_url(self, url: str) -> decide.NewFeedUrlCheck:
        """Fetch and parse a feed's announced new URL before we follow it.

        Only happens when the old feed's content changed, so an unreachable new URL
        costs one extra request per change, not one per poll.
        """
        try:
            result = self._fetcher.fetch(url)
            if result.content is not None:
                parse_feed(result.content, url=result.final_url, headers=result.headers)
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
        )

    def poll_due(
        self,
        *,
        feeds: Iterable[FeedRecord] | None = None,
        on_report: Callable[[PollReport], None] | None = None,
    ) -> PollSummary:
        """Poll the given feeds, or every due feed, in a bounded worker pool.

        At most ``workers`` polls run at once and at most ``per_host`` against any one
        host, so one publisher with many feeds is not hammered.
        """
        if feeds is None:
            feeds = self._storage.due_feeds(self._clock(), self._settings.batch_size)
        summary = PollSummary()
        queues: dict[str, deque[FeedRecord]] = defaultdict(deque)
        for feed in feeds:
            queues[_host(feed.url)].append(feed)
        in_flight: dict[Future[PollReport], str] = {}
        per_host: dict[str, int] = defaultdict(int)
        with ThreadPoolExecutor(
            max_workers=self._settings.workers, thread_name_prefix="poll"
        ) as pool:
            while True:
                self._submit_ready(pool, queues, in_flight, per_host)
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    host = in_flight.pop(future)
                    per_host[host] -= 1
                    report = future.result()
                    log.info(report.line())
                    summary.add(report)
                    if on_report is not None:
                        on_report(report)
        return summary

    def _submit_ready(
        self,
        pool: ThreadPoolExecutor,
        queues: dict[str, deque[FeedRecord]],
        in_flight: dict[Future[PollReport], str],
        per_host: dict[str, int],
    ) -> None:
        if self._stopping.is_set():
            queues.clear()
            return
        for host, queue in list(queues.items()):
            while (
                queue
                and per_host[host] < self._settings.per_host
                and len(in_flight) < self._settings.workers
            ):
                in_flight[pool.submit(self.poll_feed, queue.popleft())] = host
                per_host[host] += 1
            if not queue:
                del queues[host]


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.hostname or parts.scheme or "local"


def _outcome(not_modified: bool, parsed: ParsedFeed | None, counts: StoreCounts) -> str:
    if not_modified:
        return "not-modified"
    if parsed is None or (counts.new == 0 and counts.updated == 0):
        return "unchanged"
    return "new" if counts.new else "updated"
