"""Polls whose writes meet another writer on SQLite: nothing fetched is thrown away.

SQLite has one writer at a time. A poll's write waits for the others (its busy
timeout), and a write that waited a whole timeout tries again, up to ten times. These
tests hold the write lock from another connection for several busy timeouts (short
ones, so the tests stay short) and check that every poll is stored once it is free.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.feeds.fetch import Fetcher
from aggregator.settings import FetchSettings
from aggregator.storage import Storage, open_storage
from aggregator.types import FeedKind
from tests.feedserver import FeedServer
from tests.stored import episode_records, series_records
from tests.test_poller import make_poller

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "feeds"
BUSY_TIMEOUT = 0.25  # seconds; ten attempts wait 2.5 s in all
HOLD = 1.0  # seconds the other connection keeps the write lock: four busy timeouts


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(connect_timeout=2, read_timeout=10, total_timeout=60)) as f:
        yield f


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def storage(sqlite_path: Path) -> Iterator[Storage]:
    with open_storage(f"sqlite:///{sqlite_path}", busy_timeout_seconds=BUSY_TIMEOUT) as s:
        s.migrate()
        yield s


class WriteLock:
    """Another connection's write lock on the database, released ``seconds`` after
    ``after`` is set (at once when not given)."""

    def __init__(self, path: Path, seconds: float, after: threading.Event | None = None) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("BEGIN IMMEDIATE")
        self._after = after
        self._seconds = seconds
        self.released = threading.Event()
        self._thread = threading.Thread(target=self._release)
        self._thread.start()

    def _release(self) -> None:
        if self._after is not None:
            self._after.wait(timeout=60)
        self.released.wait(timeout=self._seconds)
        self._db.execute("COMMIT")
        self.released.set()

    def close(self) -> None:
        self._thread.join()
        self._db.close()


class FirstWait(logging.Handler):
    """Set when a writer first finds the database locked and waits again."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "database is locked" in record.getMessage():
            self.seen.set()


def test_a_poll_waits_out_a_writer_holding_the_lock_past_its_busy_timeout(
    server: FeedServer,
    fetcher: Fetcher,
    storage: Storage,
    sqlite_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.serve("/caliphate.xml", (EXAMPLES / "caliphate.xml").read_bytes())
    feed = storage.add_feed(server.url("/caliphate.xml"), FeedKind.PODCAST, datetime.now(UTC))
    poller = make_poller(storage, fetcher)
    lock = WriteLock(sqlite_path, HOLD)
    try:
        with caplog.at_level(logging.WARNING, logger="aggregator.storage"):
            report = poller.poll_feed(feed)
        assert lock.released.is_set()  # the poll was stored only once the lock was free
    finally:
        lock.close()
    assert not report.failed, report.line()
    assert report.counts.new == 13
    assert len(episode_records(storage)) == 13
    stored = storage.get_feed(feed.id)
    assert stored.content_hash is not None and stored.last_error is None
    waits = [r.getMessage() for r in caplog.records]
    assert waits and all("database is locked by another writer" in m for m in waits)


def _tiny_feed(name: str, count: int) -> bytes:
    items = "".join(f"<item><guid>{name}-{n}</guid></item>\n" for n in range(count, 0, -1))
    return f'<rss version="2.0"><channel><title>{name}</title>\n{items}</channel></rss>'.encode()


def test_six_feeds_of_100k_items_polled_at_once_are_all_stored(
    server: FeedServer, fetcher: Fetcher, storage: Storage, sqlite_path: Path
) -> None:
    now = datetime.now(UTC)
    feeds = []
    for i in range(6):
        server.serve(f"/big{i}.xml", _tiny_feed(f"big{i}", 100_000))
        feeds.append(storage.add_feed(server.url(f"/big{i}.xml"), FeedKind.PODCAST, now))
    poller = make_poller(storage, fetcher, workers=6, per_host=6)
    # Another writer holds the database until the first poll has found it locked,
    # and four busy timeouts longer, while the other polls queue behind that one.
    waits = FirstWait()
    logging.getLogger("aggregator.storage").addHandler(waits)
    lock = WriteLock(sqlite_path, HOLD, after=waits.seen)
    try:
        summary = poller.poll_due(feeds=feeds)
    finally:
        lock.close()
        logging.getLogger("aggregator.storage").removeHandler(waits)
    assert waits.seen.is_set()
    assert summary.failed == 0, [r.line() for r in summary.reports if r.failed]
    assert (summary.polled, summary.new) == (6, 6 * 5000)
    assert summary.left_out == 6 * 95_000
    for feed in feeds:
        stored = storage.get_feed(feed.id)
        assert stored.content_hash is not None and stored.last_error is None
        assert stored.warning == "read only the newest 5,000 of 100,000 items (poll.max_items)"
    series = {s.feed_id: s for s in series_records(storage)}
    assert sorted(s.episode_count for s in series.values()) == [5000] * 6
    # The newest of each feed, its first 5,000 items.
    newest = episode_records(storage, series[feeds[0].id].id, limit=1)
    assert newest[0].guid == "big0-100000"
