"""How a batch of polls runs: which feed a worker takes next, and the writes it defers.

``HostQueue`` hands out the feeds of a batch so that no host has more than
``per_host`` polls at once and hosts take turns, and asks for more claimed feeds
when it runs low; ``Deferred`` collects the schedule-only updates of polls that
brought nothing (a 304, an unchanged body) and writes them a hundred at a time.
The poller (``poller.Poller.poll_due``) drives both.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import datetime
from urllib.parse import urlsplit

from aggregator.exceptions import StorageError
from aggregator.storage import Storage
from aggregator.types import FeedRecord, FeedUpdate

__all__ = ["Deferred", "HostQueue", "host_of"]

log = logging.getLogger("aggregator.feeds.poller")  # its lines are the poller's


class HostQueue:
    """Feeds waiting to be polled, handed out so no host has more than N at once.

    With ``refill``, a queue whose waiting feeds fall under ``low`` asks for more
    (claimed feeds) instead of letting its workers idle behind a slow poll; ``refill``
    returning nothing means there is no more to have.
    """

    def __init__(
        self,
        feeds: Iterable[FeedRecord],
        per_host: int,
        stopping: threading.Event,
        *,
        refill: Callable[[], list[FeedRecord]] | None = None,
        low: int = 0,
    ) -> None:
        self._waiting: dict[str, deque[FeedRecord]] = defaultdict(deque)
        self._count = 0  # feeds waiting
        self.size = 0  # feeds ever queued
        self._add(feeds)
        self._busy: dict[str, int] = defaultdict(int)
        self.dropped: list[FeedRecord] = []  # left waiting when polling stopped
        self._per_host = per_host
        self._stopping = stopping
        self._refill = refill
        self._low = low
        self._changed = threading.Condition()

    def _add(self, feeds: Iterable[FeedRecord]) -> None:
        for feed in feeds:
            self._waiting[host_of(feed.url)].append(feed)
            self._count += 1
            self.size += 1

    def _refilled(self) -> bool:
        """Whether more feeds came; called with the lock held."""
        if self._refill is None or self._count >= self._low:
            return False
        more = self._refill()
        if not more:
            self._refill = None
            return False
        self._add(more)
        return True

    def take(self) -> FeedRecord | None:
        """The next feed whose host has room; waits while all are busy; None when done."""
        with self._changed:
            while True:
                if self._stopping.is_set():
                    self._refill = None
                    for waiting in self._waiting.values():
                        self.dropped.extend(waiting)
                    self._waiting.clear()
                    self._count = 0
                if not self._waiting:
                    if not self._refilled():
                        return None
                    self._changed.notify_all()  # new feeds: room for the other waiters
                for host, queue in self._waiting.items():
                    if self._busy[host] < self._per_host:
                        feed = queue.popleft()
                        # Hosts take turns: draining the first hosts first would leave
                        # the last few hosts' feeds for the end, polled ``per_host``
                        # at a time while the other workers wait.
                        del self._waiting[host]
                        if queue:
                            self._waiting[host] = queue
                        self._count -= 1
                        self._busy[host] += 1
                        return feed
                # Every waiting feed's host is busy: feeds of other hosts may be due.
                if self._refilled():
                    self._changed.notify_all()  # new hosts: room for the other waiters
                else:
                    self._changed.wait(timeout=1.0)  # the timeout notices stop()

    def done(self, feed: FeedRecord) -> None:
        with self._changed:
            self._busy[host_of(feed.url)] -= 1
            # One slot came free, for one waiter; when nothing waits any more, every
            # waiter must wake to see that it is done.
            if self._waiting:
                self._changed.notify()
            else:
                self._changed.notify_all()


class Deferred:
    """Schedule-only updates waiting to be written together."""

    # Big enough that the per-statement cost fades, small enough that a crash loses
    # little: a lost schedule update only means that feed is polled again.
    BATCH = 100

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._lock = threading.Lock()
        self._updates: list[FeedUpdate] = []
        self._now: datetime | None = None

    def add(self, update: FeedUpdate, now: datetime) -> None:
        with self._lock:
            self._updates.append(update)
            self._now = now
            if len(self._updates) < self.BATCH:
                return
            batch, self._updates = self._updates, []
        self._write(batch, now)

    def flush(self) -> None:
        with self._lock:
            batch, self._updates = self._updates, []
            now = self._now
        if batch and now is not None:
            self._write(batch, now)

    def _write(self, batch: list[FeedUpdate], now: datetime) -> None:
        try:
            self._storage.apply_schedule_updates(batch, now)
        except StorageError as e:
            # The feeds stay due and are polled again; nothing else was at stake.
            log.error("storing %d unchanged polls failed: %s", len(batch), e)


def host_of(url: str) -> str:
    """The host a feed's polls count against (a local file's: \"local\")."""
    parts = urlsplit(url)
    return parts.hostname or parts.scheme or "local"
