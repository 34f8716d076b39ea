"""Polls that meet a bug or absurd data: the feed fails, the batch and its workers go on.

Real parts throughout: a local HTTP server, the Fetcher, the parser and Storage (SQLite
and PostgreSQL). Where a bug is needed, it is put in the one place the poller lets
other code in, its ``ContentListener``; everything the poller does around it is real.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.poller import Poller
from aggregator.settings import FetchSettings, PollSettings
from aggregator.storage import Storage
from aggregator.types import FeedKind, FeedRecord, FeedStatus, ParsedFeed, StoreCounts
from tests.feedserver import FeedServer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "feeds"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(connect_timeout=2, read_timeout=5, total_timeout=20)) as f:
        yield f


class BuggyListener:
    """Told of each stored poll, and failing on one feed's as a bug would (the
    OverflowError a review dated 9999-12-31 once raised while its feed was polled)."""

    def __init__(self, bad_path: str) -> None:
        self.bad_path = bad_path
        self.told: list[str] = []

    def podcast_stored(self, feed: FeedRecord, parsed: ParsedFeed, counts: StoreCounts) -> None:
        self.told.append(feed.url)
        if feed.url.endswith(self.bad_path):
            raise OverflowError("date value out of range")

    def reviews_fetched(self, feed: FeedRecord, parsed: ParsedFeed) -> int:
        return 0


def test_a_bug_on_one_feed_fails_that_poll_and_the_worker_goes_on(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    # One worker, as `poll` with workers = 1: the bug used to end that thread, and
    # with it the batch: "polled 0 feeds", and every feed left claimed.
    body = (EXAMPLES / "caliphate.xml").read_bytes()
    now = datetime.now(UTC)
    paths = ["/bad.xml", *(f"/ok-{n}.xml" for n in range(4))]
    for path in paths:
        server.serve(path, body)
        storage.add_feed(server.url(path), FeedKind.PODCAST, now)
    listener = BuggyListener("/bad.xml")
    poller = Poller(
        storage,
        fetcher,
        replace(PollSettings(), workers=1),
        clock=lambda: datetime.now(UTC),
        random=lambda: 0.5,
        listener=listener,
        owner="this-poller",
    )

    summary = poller.poll_due()  # claims every due feed, as a tick does

    assert len(listener.told) == 5  # the bad feed came first: the worker went on after it
    assert (summary.polled, summary.failed, summary.new) == (5, 1, 4 * 13)
    (failed,) = [r for r in summary.reports if r.failed]
    assert failed.url.endswith("/bad.xml")
    assert failed.error is not None
    assert failed.error.startswith("internal error (OverflowError: date value out of range)")
    bad = storage.find_feed(server.url("/bad.xml"))
    assert bad.status is FeedStatus.FAILING and bad.error_count == 1
    assert bad.last_error == failed.error
    assert bad.next_poll_at is not None and bad.next_poll_at > now  # backed off
    # Every claim ended: no feed is held by anyone, this poller included.
    assert storage.feeds_held_elsewhere(datetime.now(UTC), owner="nobody") == (0, None)
