"""Work that meets a bug or absurd data: that one thing fails, everything else goes on.

A poll that meets a bug fails that feed, not the worker or the batch; a review that
meets one fails alone, in a reviews feed and in the re-linking chore. Real parts
throughout: a local HTTP server, the Fetcher, the parser, the linker and Storage
(SQLite and PostgreSQL). Where a bug is needed, it is put in the poller's
``ContentListener`` or wrapped around the real linker's ``link`` (as test_reviews
does to interleave instances); everything around it is real.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.parse import parse_feed
from aggregator.feeds.poller import Poller
from aggregator.linking import LINKER_VERSION
from aggregator.reviews.service import Reviews
from aggregator.settings import FetchSettings, PollSettings
from aggregator.storage import Storage
from aggregator.types import (
    FeedKind,
    FeedRecord,
    FeedStatus,
    LinkProposal,
    ParsedFeed,
    ReviewDocument,
    StoreCounts,
)
from tests.fakes import T0, ok_update, text_hash
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


def reviews_feed(*items: tuple[str, str]) -> bytes:
    """A reviews feed with one item per (guid, text)."""
    entries = "".join(
        f"<item><guid>{guid}</guid><title>Review {guid}</title>"
        f"<link>https://reviews.example/{guid}</link>"
        f"<description>{text}</description>"
        "<pubDate>Sun, 01 Jul 2018 10:00:00 GMT</pubDate></item>"
        for guid, text in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Reviews</title>'
        f"<link>https://reviews.example/</link>{entries}</channel></rss>"
    ).encode()


REVIEW_TEXT = "Caliphate, the podcast by Rukmini Callimachi, is {} and worth every hour."


def link_failing_on(reviews: Reviews, word: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the real linker meet a bug on the review whose text holds ``word``."""
    linker = reviews.linker()
    link = linker.link

    def link_or_fail(document: ReviewDocument) -> list[LinkProposal]:
        if word in document.text:
            raise OverflowError("date value out of range")
        return link(document)

    monkeypatch.setattr(linker, "link", link_or_fail)


@pytest.fixture
def reviews(storage: Storage) -> Iterator[Reviews]:
    with Fetcher(FetchSettings(), allow_file=False) as fetcher:
        yield Reviews(storage, fetcher, clock=lambda: datetime.now(UTC))


def test_a_review_feed_item_that_meets_a_bug_keeps_none_of_the_others_out(
    server: FeedServer,
    fetcher: Fetcher,
    storage: Storage,
    reviews: Reviews,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bug met the second of three items: the third was never taken in, and as the
    # feed's new content hash was stored first, every later poll said "unchanged".
    server.serve(
        "/reviews.xml",
        reviews_feed(
            *(
                (g, REVIEW_TEXT.format(w))
                for g, w in [("a", "gripping"), ("b", "cursed"), ("c", "haunting")]
            )
        ),
    )
    feed = storage.add_feed(server.url("/reviews.xml"), FeedKind.REVIEWS, datetime.now(UTC))
    poller = Poller(
        storage, fetcher, PollSettings(), clock=lambda: datetime.now(UTC), listener=reviews
    )
    link_failing_on(reviews, "cursed", monkeypatch)

    first = poller.poll_feed(feed)

    assert first.failed and first.error is not None
    assert first.error.startswith("internal error (OverflowError")
    # All three stored (a review is saved, then linked); the two the bug spared linked.
    versions = {r.url: r.linker_version for r in storage.list_reviews()}
    assert versions == {
        "https://reviews.example/a": LINKER_VERSION,
        "https://reviews.example/b": None,
        "https://reviews.example/c": LINKER_VERSION,
    }
    # The bug fixed, the next poll takes the feed in again (its content hash was not
    # stored), and the item the bug met is linked.
    monkeypatch.undo()
    second = poller.poll_feed(storage.get_feed(feed.id))
    assert not second.failed and second.reviews == 3
    assert {r.linker_version for r in storage.list_reviews()} == {LINKER_VERSION}
    assert len(storage.list_reviews()) == 3  # the same reviews, updated
    assert storage.get_feed(feed.id).status is FeedStatus.ACTIVE


def test_the_relinking_chore_links_the_others_when_one_review_meets_a_bug(
    storage: Storage, reviews: Reviews, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = storage.add_feed(EXAMPLES.joinpath("caliphate.xml").as_uri(), FeedKind.PODCAST, T0)
    parsed = parse_feed(EXAMPLES.joinpath("caliphate.xml").read_bytes(), url=feed.url)
    series_id = storage.apply_poll(ok_update(feed.id, T0), parsed, T0).series_id
    ids = []
    for word in ("gripping", "cursed", "haunting"):
        document = ReviewDocument(text=REVIEW_TEXT.format(word))
        record, _ = storage.save_review(
            document, content_hash=text_hash(document), source="file", now=T0
        )
        ids.append(record.id)  # never linked: the chore's work
    link_failing_on(reviews, "cursed", monkeypatch)

    assert reviews.relink_outdated() == 2

    for review_id in (ids[0], ids[2]):
        assert storage.get_review(review_id).linker_version == LINKER_VERSION
        assert {x.series_id for x in storage.list_links(review_id=review_id)} == {series_id}
    assert storage.get_review(ids[1]).linker_version is None  # tried again later


def test_a_changed_series_relinks_the_others_when_one_review_meets_a_bug(
    storage: Storage, reviews: Reviews, monkeypatch: pytest.MonkeyPatch
) -> None:
    # New episodes re-link the reviews of their series, inside the feed's poll: a bug
    # on one review failed them all (and the poll) and none was tried again.
    feed = storage.add_feed(EXAMPLES.joinpath("caliphate.xml").as_uri(), FeedKind.PODCAST, T0)
    parsed = parse_feed(EXAMPLES.joinpath("caliphate.xml").read_bytes(), url=feed.url)
    series_id = storage.apply_poll(ok_update(feed.id, T0), parsed, T0).series_id
    assert series_id is not None
    added = [
        reviews.add(REVIEW_TEXT.format(word).encode(), source="file", filename="r.txt")
        for word in ("gripping", "cursed", "haunting")
    ]
    link_failing_on(reviews, "cursed", monkeypatch)

    assert reviews.series_changed(series_id, new_series=False, since=T0) == 3

    needing = storage.reviews_needing_link(LINKER_VERSION, limit=10)
    assert [r.id for r in needing] == [added[1].review.id]  # left for the chore
    monkeypatch.undo()
    assert reviews.relink_outdated() == 1
    assert storage.reviews_needing_link(LINKER_VERSION, limit=10) == []
