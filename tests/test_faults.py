"""Work that meets a bug or absurd data: that one thing fails, everything else goes on.

A poll that meets a bug fails that feed, not the worker or the batch; a review that
meets one fails alone, in a reviews feed and in the re-linking chore. Real parts
throughout: a local HTTP server, the Fetcher, the parser, the linker and Storage
(SQLite and PostgreSQL). Where a bug is needed, it is put in the poller's
``ContentListener`` or wrapped around the real linker's ``link`` (as test_reviews
does to interleave instances); everything around it is real.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
    LinkStatus,
    ParsedFeed,
    Relation,
    ReviewDocument,
    StoreCounts,
)
from tests.api_support import running_api
from tests.cli_support import Cli
from tests.fakes import T0, ok_update, text_hash
from tests.feedserver import FeedServer
from tests.stored import episode_records

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "feeds"


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
    versions = {r.url: r.linker_version for r in storage.reviews_page()}
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
    assert {r.linker_version for r in storage.reviews_page()} == {LINKER_VERSION}
    assert len(storage.reviews_page()) == 3  # the same reviews, updated
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
        record = storage.save_review(
            document, content_hash=text_hash(document), source="file", now=T0
        ).review
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


# --- dates outside what we take in ----------------------------------------------------

CALIPHATE = (EXAMPLES / "caliphate.xml").read_bytes()
PUB_DATE = re.compile(rb"<pubDate>[^<]*</pubDate>")


def with_dates(document: bytes, *dates: str) -> bytes:
    """``document`` with its first pubDates (each unique) replaced by ``dates``."""
    for old, new in zip(PUB_DATE.findall(document), dates, strict=False):
        document = document.replace(old, b"<pubDate>%s</pubDate>" % new.encode(), 1)
    return document


def test_feed_dates_outside_1970_to_2100_are_read_as_no_date_with_a_note(
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = with_dates(
        CALIPHATE,
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "Wed, 31 Dec 1969 23:59:59 GMT",
        "Fri, 01 Jan 2100 00:00:00 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",  # the first moment taken in
        "Thu, 31 Dec 2099 23:59:59 GMT",  # and the last
    )
    with caplog.at_level(logging.INFO, logger="aggregator.feeds.parse"):
        parsed = parse_feed(document, url="https://feeds.example/caliphate.xml")
    published = [e.published for e in parsed.episodes[:7]]
    assert published == [
        None,
        None,
        None,
        None,
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2018, 5, 24, 10, 0, tzinfo=UTC),  # as in the feed
    ]
    notes = [r.getMessage() for r in caplog.records]
    assert notes == [
        "https://feeds.example/caliphate.xml: 4 items dated outside 1970-01-01 to "
        "2099-12-31, read as undated"
    ]


def test_a_review_dated_outside_1970_to_2100_is_refused_by_the_api(database_url: str) -> None:
    text = "Caliphate, the podcast by Rukmini Callimachi, is gripping. " * 3
    with running_api(database_url) as api:
        for published in ("9999-12-31T23:59:59", "1900-01-01T00:00:00Z", "2100-01-01"):
            response = api.write(
                "POST", "/api/reviews", json={"text": text, "published": published}
            )
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error.startswith("published: ") and "outside the dates we take in" in error
        assert api.get("/api/reviews").json()["items"] == []  # nothing stored
        taken = api.write(
            "POST", "/api/reviews", json={"text": text, "published": "2018-07-01T00:00:00"}
        )
        assert taken.status_code == 201
        assert taken.json()["review"]["published"] == "2018-07-01T00:00:00+00:00"


def test_a_review_feed_item_dated_9999_is_taken_in_undated(
    server: FeedServer, database_url: str
) -> None:
    # Through the API's poll-now, as found: the item used to be stored dated 9999 and
    # (with the linker of the time) fail the feed's poll with a 500.
    feed = reviews_feed(
        ("a", REVIEW_TEXT.format("gripping")), ("b", REVIEW_TEXT.format("haunting"))
    ).replace(b"Sun, 01 Jul 2018 10:00:00 GMT", b"Fri, 31 Dec 9999 23:59:59 GMT", 1)
    server.serve("/reviews.xml", feed)
    with running_api(database_url, allowed_networks=("127.0.0.0/8",)) as api:
        added = api.write(
            "POST", "/api/feeds", json={"url": server.url("/reviews.xml"), "kind": "reviews"}
        )
        polled = api.write("POST", f"/api/feeds/{added.json()['id']}/poll")
        assert polled.status_code == 200, polled.text
        assert polled.json()["outcome"] == "new"
        items = api.get("/api/reviews").json()["items"]
    dated = {r["url"]: r["published"] for r in items}
    assert dated == {
        "https://reviews.example/a": None,
        "https://reviews.example/b": "2018-07-01T10:00:00+00:00",
    }


def test_poll_of_a_feed_dated_year_one_stores_it_undated_and_polls_the_rest(
    server: FeedServer, cli: Cli, tmp_path: Path
) -> None:
    # New episodes re-link the reviews of their series from the day before the
    # earliest of them: 0001-01-01 minus a day left the calendar, and with one worker
    # that ended the batch ("polled 0 feeds ... 0 failed", the feeds left claimed).
    (tmp_path / "config.toml").write_text("[poll]\nworkers = 1\n", encoding="utf-8")
    paths = ["/changing.xml", *(f"/feed-{n}.xml" for n in range(4))]
    for path in paths:
        server.serve(path, CALIPHATE)
        assert cli("feeds", "add", server.url(path))[0] == 0
    assert cli("poll")[0] == 0
    review = tmp_path / "review.txt"
    review.write_text(REVIEW_TEXT.format("gripping"), encoding="utf-8")
    assert cli("reviews", "add", str(review), "--published", "2021-01-01")[0] == 0
    server.serve("/changing.xml", with_dates(CALIPHATE, "Mon, 01 Jan 0001 00:00:00 GMT"))

    code, out, err = cli("poll")

    assert code == 0, err
    assert out.strip() == "polled 5 feeds: 0 new episodes, 1 updated, 4 feeds unchanged, 0 failed"
    assert "Traceback" not in err
    episodes = cli.json("episodes", "list", "--limit", "1000")
    assert len(episodes) == 5 * 13
    undated = [e for e in episodes if e["published"] is None]
    assert len(undated) == 1 and undated[0]["title"] == "An Editors' Note on Caliphate"


def test_reviews_add_refuses_a_date_outside_1970_to_2100(cli: Cli, tmp_path: Path) -> None:
    assert cli("init")[0] == 0  # `reviews list` reads a database, and makes none
    review = tmp_path / "review.txt"
    review.write_text(REVIEW_TEXT.format("gripping"), encoding="utf-8")
    code, _, err = cli("reviews", "add", str(review), "--published", "9999-12-31")
    assert code == 2  # a usage error, as a date not of the form YYYY-MM-DD is
    words = " ".join(err.replace("│", " ").split())  # unwrapped from typer's box
    assert "9999-12-31 is outside the dates we take in (1970-01-01 to 2099-12-31)" in words
    assert cli.json("reviews", "list") == []


# --- feeds that churn: episodes gone missing beyond what is kept -------------------------


def churning_feed(round_: int, items: int = 50) -> bytes:
    """A feed whose every item is new at each round (new guids): gone at the next."""
    entries = "".join(
        f"<item><guid>{round_}-{n}</guid><title>Round {round_}, item {n}</title>"
        f"<pubDate>Mon, 05 Jan 2026 {n // 60:02d}:{n % 60:02d}:00 GMT</pubDate></item>"
        for n in range(items)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Churn</title>'
        f"<link>https://churn.example/</link>{entries}</channel></rss>"
    ).encode()


class Clock:
    """Moves on 15 minutes at each reading: each poll at its own time."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=15)
        return self.now


def churn_poller(storage: Storage, fetcher: Fetcher, keep: int) -> Poller:
    settings = replace(PollSettings(), keep_missing_episodes=keep)
    return Poller(storage, fetcher, settings, clock=Clock(), random=lambda: 0.5)


def test_a_feed_that_changes_every_poll_keeps_only_the_missing_episodes_set(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    # 20 polls of 50 new items each: 1,000 episodes, 950 of them gone, without a limit.
    poller = churn_poller(storage, fetcher, keep=100)
    feed = storage.add_feed(server.url("/churn.xml"), FeedKind.PODCAST, T0)
    for round_ in range(20):
        server.serve("/churn.xml", churning_feed(round_))
        report = poller.poll_feed(storage.get_feed(feed.id))
        assert report.counts.new == 50, report

    episodes = episode_records(storage)
    live = {e.guid for e in episodes if e.missing_since is None}
    kept = {e.guid for e in episodes if e.missing_since is not None}
    assert live == {f"19-{n}" for n in range(50)}
    # The 100 gone most recently: the items of the two rounds before the last.
    assert kept == {f"{r}-{n}" for r in (17, 18) for n in range(50)}


def test_missing_episodes_reviews_are_linked_to_are_never_deleted(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    poller = churn_poller(storage, fetcher, keep=0)
    feed = storage.add_feed(server.url("/churn.xml"), FeedKind.PODCAST, T0)
    server.serve("/churn.xml", churning_feed(0, items=5))
    series_id = poller.poll_feed(feed).counts.series_id
    assert series_id is not None
    by_guid = {e.guid: e.id for e in episode_records(storage)}
    document = ReviewDocument(text="Round 0, item 1 was the best of them all.")
    review = storage.save_review(
        document, content_hash=text_hash(document), source="file", now=T0
    ).review
    manual = storage.add_link(review.id, series_id, by_guid["0-1"], Relation.REVIEWS, T0)
    rejected = storage.add_link(review.id, series_id, by_guid["0-2"], Relation.MENTIONS, T0)
    storage.set_link_status(rejected.id, LinkStatus.REJECTED, T0)

    server.serve("/churn.xml", churning_feed(1, items=5))
    report = poller.poll_feed(storage.get_feed(feed.id))

    assert report.counts.missing == 5
    left = {e.guid for e in episode_records(storage)}
    # Nothing gone is kept but what a review is linked to, a rejected link included.
    assert left == {f"1-{n}" for n in range(5)} | {"0-1", "0-2"}
    links = storage.list_links(review_id=review.id, include_rejected=True)
    assert {(x.id, x.episode_id, x.status) for x in links} == {
        (manual.id, by_guid["0-1"], LinkStatus.MANUAL),
        (rejected.id, by_guid["0-2"], LinkStatus.REJECTED),
    }
