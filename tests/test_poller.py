"""The poll pipeline with real parts: local HTTP server, Fetcher, parser and Storage."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.poller import Poller
from aggregator.settings import FetchSettings, PollSettings
from aggregator.storage import Storage
from aggregator.types import EpisodeRecord, FeedKind, FeedStatus
from tests.feedserver import FeedServer
from tests.stored import episode_records

REAL = Path(__file__).resolve().parent / "data" / "feeds" / "real"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "feeds"
ITEM = re.compile(rb"<item\b.*?</item>", re.S)


def make_poller(storage: Storage, fetcher: Fetcher, **poll: float) -> Poller:
    settings = replace(PollSettings(), **poll)  # type: ignore[arg-type]
    return Poller(storage, fetcher, settings, clock=lambda: datetime.now(UTC), random=lambda: 0.5)


def comparable(episodes: list[EpisodeRecord]) -> list[tuple[object, ...]]:
    """Episode values without ids, for comparing two stores."""
    return sorted(
        (
            e.guid,
            e.title,
            e.description_html,
            e.published,
            e.enclosure,
            e.duration_seconds,
            e.season,
            e.number,
            e.episode_type,
            e.persons,
            e.missing_since,
        )
        for e in episodes
    )


def test_incremental_repoll_stores_what_a_full_poll_stores(
    server: FeedServer, fetcher: Fetcher, storage: Storage, tmp_path: Path
) -> None:
    document = (REAL / "critical-role__critrolesync-2020-07-12.xml").read_bytes()
    items = ITEM.findall(document)
    # The feed as it was a week earlier: without its newest item, and with one item
    # whose description has since been corrected.
    older = document.replace(items[0] + b"\n", b"", 1).replace(items[0], b"", 1)
    fixed = items[5].replace(b"</title>", b" (corrected)</title>", 1)
    older = older.replace(fixed.replace(b" (corrected)</title>", b"</title>", 1), items[5], 1)
    changed = document.replace(items[5], fixed, 1)
    server.serve("/cr.xml", older)
    poller = make_poller(storage, fetcher)
    now = datetime.now(UTC)
    feed = storage.add_feed(server.url("/cr.xml"), FeedKind.PODCAST, now)

    first = poller.poll_feed(feed)
    assert first.counts.new == len(items) - 1

    server.serve("/cr.xml", changed)
    second = poller.poll_feed(storage.get_feed(feed.id))
    assert (second.counts.new, second.counts.updated) == (1, 1)
    assert second.counts.unchanged == len(items) - 2

    # A fresh store polled once with the final document must hold exactly the same.
    from aggregator.storage import open_storage

    with open_storage(f"sqlite:///{tmp_path / 'fresh.db'}") as fresh:
        fresh.migrate()
        other = fresh.add_feed(server.url("/cr.xml"), FeedKind.PODCAST, now)
        make_poller(fresh, fetcher).poll_feed(other)
        assert comparable(episode_records(storage)) == comparable(episode_records(fresh))


def test_snapshot_pair_updates_in_place_by_guid(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    old = (REAL / "serial__podkit-2017.xml").read_bytes()
    new = (REAL / "serial__lukaswhite-2020.rss").read_bytes()
    old_guids = set(re.findall(rb"<guid[^>]*>([^<]+)</guid>", old))
    new_guids = set(re.findall(rb"<guid[^>]*>([^<]+)</guid>", new))
    assert len(old_guids & new_guids) > 20  # the premise: most episodes kept their guid
    server.serve("/serial.xml", old)
    poller = make_poller(storage, fetcher)
    feed = storage.add_feed(server.url("/serial.xml"), FeedKind.PODCAST, datetime.now(UTC))
    poller.poll_feed(feed)
    before = {e.guid: e for e in episode_records(storage)}

    server.serve("/serial.xml", new)
    report = poller.poll_feed(storage.get_feed(feed.id))
    after = {e.guid: e for e in episode_records(storage)}
    assert set(after) == {g.decode().strip() for g in old_guids | new_guids}
    assert report.counts.new == len(new_guids - old_guids)
    for guid in old_guids & new_guids:
        key = guid.decode().strip()
        assert after[key].id == before[key].id  # same row, updated in place
    changed = [g for g in before if g in after and before[g].enclosure != after[g].enclosure]
    assert changed, "the 2020 snapshot moved enclosures to another host"
    gone = old_guids - new_guids
    assert report.counts.missing == len(gone)
    for guid in gone:
        assert after[guid.decode().strip()].missing_since is not None
    # The 2020 document names its public URL; unreachable here, so the feed stays put.
    record = storage.get_feed(feed.id)
    assert record.url == server.url("/serial.xml")
    assert record.note is not None and "not followed" in record.note


def test_new_feed_url_that_works_moves_the_feed(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    body = (EXAMPLES / "caliphate.xml").read_bytes()
    announcing = body.replace(
        b"<channel>",
        b"<channel><itunes:new-feed-url>"
        + server.url("/new.xml").encode()
        + b"</itunes:new-feed-url>",
        1,
    )
    server.serve("/old.xml", announcing)
    server.serve("/new.xml", body)
    poller = make_poller(storage, fetcher)
    feed = storage.add_feed(server.url("/old.xml"), FeedKind.PODCAST, datetime.now(UTC))
    poller.poll_feed(feed)
    moved = storage.get_feed(feed.id)
    assert moved.url == server.url("/new.xml")
    assert moved.added_url == server.url("/old.xml")
    assert moved.note is not None and "itunes:new-feed-url" in moved.note
    poller.poll_feed(moved)
    assert [r.status for r in server.requests_for("/new.xml")][-1] == 200
    assert len(episode_records(storage)) == 13


def test_per_host_limit_and_worker_pool(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    body = (EXAMPLES / "caliphate.xml").read_bytes()
    now = datetime.now(UTC)
    feeds = []
    for i in range(6):
        server.serve(f"/f{i}.xml", body)
        feeds.append(storage.add_feed(server.url(f"/f{i}.xml"), FeedKind.PODCAST, now))
    server.delay = 0.3
    poller = make_poller(storage, fetcher, workers=8, per_host=2)
    summary = poller.poll_due(feeds=feeds)
    assert summary.polled == 6 and summary.failed == 0
    # one host (127.0.0.1): never more than two requests at once, though 8 workers
    assert server.max_in_flight == 2

    # "localhost" is another host name for the same server: now 4 may overlap.
    server.max_in_flight = 0
    more = [
        storage.add_feed(
            server.url(f"/f{i}.xml").replace("127.0.0.1", "localhost"), FeedKind.PODCAST, now
        )
        for i in range(4)
    ]
    poller.poll_due(feeds=[*storage.feeds_page()[:4], *more])
    assert server.max_in_flight == 4


def test_hosts_take_turns_so_no_host_is_left_for_the_end(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    # Claimed in host order (as feeds of one publisher often fall due together):
    # polled host by host, the last host's feeds would end the run ``per_host`` at a
    # time while the other workers idle.
    body = (EXAMPLES / "caliphate.xml").read_bytes()
    now = datetime.now(UTC)
    feeds = []
    for name, host in (("a", "127.0.0.1"), ("b", "localhost")):
        for i in range(3):
            server.serve(f"/{name}{i}.xml", body)
            url = server.url(f"/{name}{i}.xml").replace("127.0.0.1", host)
            feeds.append(storage.add_feed(url, FeedKind.PODCAST, now))
    poller = make_poller(storage, fetcher, workers=1, per_host=1)
    assert poller.poll_due(feeds=feeds).polled == 6
    assert [r.path for r in server.log] == [
        "/a0.xml",
        "/b0.xml",
        "/a1.xml",
        "/b1.xml",
        "/a2.xml",
        "/b2.xml",
    ]


def test_stop_lets_polls_in_flight_finish_and_starts_no_more(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    body = (EXAMPLES / "caliphate.xml").read_bytes()
    now = datetime.now(UTC)
    feeds = []
    for i in range(5):
        server.serve(f"/s{i}.xml", body)
        feeds.append(storage.add_feed(server.url(f"/s{i}.xml"), FeedKind.PODCAST, now))
    server.delay = 0.5
    poller = make_poller(storage, fetcher, workers=1, per_host=1)
    threading.Timer(0.2, poller.stop).start()
    summary = poller.poll_due(feeds=feeds)
    assert summary.polled == 1  # the one in flight finished; nothing else started
    assert summary.new == 13
    stored = {f.id: f for f in storage.feeds_page()}
    assert stored[feeds[0].id].last_polled_at is not None
    assert all(stored[f.id].last_polled_at is None for f in feeds[1:])


def test_failures_are_data_and_backoff_grows(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    server.fail("/down.xml", 503, {"Retry-After": "120"})
    server.fail("/gone.xml", 410)
    server.serve("/notafeed.json", b'{"items": []}', content_type="application/json")
    now = datetime.now(UTC)
    down = storage.add_feed(server.url("/down.xml"), FeedKind.PODCAST, now)
    gone = storage.add_feed(server.url("/gone.xml"), FeedKind.PODCAST, now)
    junk = storage.add_feed(server.url("/notafeed.json"), FeedKind.PODCAST, now)
    poller = make_poller(storage, fetcher)
    summary = poller.poll_due(feeds=[down, gone, junk])
    assert summary.failed == 3

    down = storage.get_feed(down.id)
    assert down.status is FeedStatus.FAILING and down.error_count == 1
    assert down.last_error is not None and "503" in down.last_error
    assert down.next_poll_at is not None
    wait = (down.next_poll_at - now).total_seconds()
    assert 119 <= wait <= 130  # Retry-After: 120 wins over the 15-minute backoff

    assert storage.get_feed(gone.id).status is FeedStatus.GONE
    assert gone.id not in {f.id for f in storage.due_feeds(datetime.now(UTC), 100)}

    junk = storage.get_feed(junk.id)
    assert junk.last_error is not None and "notafeed.json" in junk.last_error
    second = poller.poll_feed(junk)
    assert second.failed
    assert storage.get_feed(junk.id).error_count == 2


def test_feeds_added_through_the_api_only_reach_public_addresses(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    body = (EXAMPLES / "caliphate.xml").read_bytes()
    server.serve("/trusted.xml", body)
    server.serve("/api.xml", body)
    now = datetime.now(UTC)
    trusted = storage.add_feed(server.url("/trusted.xml"), FeedKind.PODCAST, now)
    untrusted = storage.add_api_feed(server.url("/api.xml"), FeedKind.PODCAST, now)
    assert storage.get_feed(untrusted.id).added_via == "api"
    with Fetcher(FetchSettings(), allow_file=False, allow_private=False) as restricted:
        poller = Poller(
            storage,
            fetcher,
            PollSettings(),
            clock=lambda: datetime.now(UTC),
            restricted_fetcher=restricted,
        )
        assert poller.poll_feed(storage.get_feed(trusted.id)).counts.new == 13
        report = poller.poll_feed(storage.get_feed(untrusted.id))
    assert report.failed
    assert report.error is not None and "127.0.0.1" in report.error
    assert server.requests_for("/api.xml") == []  # refused before any request was sent


def test_polls_and_fetches_are_counted_for_metrics(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    from aggregator import metrics

    def sample(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels or None) or 0.0

    server.serve("/m.xml", (EXAMPLES / "caliphate.xml").read_bytes())
    server.fail("/down.xml", 500)
    now = datetime.now(UTC)
    ok = storage.add_feed(server.url("/m.xml"), FeedKind.PODCAST, now)
    down = storage.add_feed(server.url("/down.xml"), FeedKind.PODCAST, now)
    before = (
        sample("aggregator_polls_total", outcome="new"),
        sample("aggregator_poll_failures_total", error="HTTPStatusError"),
        sample("aggregator_fetch_seconds_count"),
    )
    make_poller(storage, fetcher).poll_due(feeds=[ok, down])
    after = (
        sample("aggregator_polls_total", outcome="new"),
        sample("aggregator_poll_failures_total", error="HTTPStatusError"),
        sample("aggregator_fetch_seconds_count"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]


def test_a_slow_poll_does_not_hold_up_the_next_claims(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    """Workers of a claimed batch take more due feeds while its slowest poll runs."""
    body = (EXAMPLES / "caliphate.xml").read_bytes()
    now = datetime.now(UTC)
    with FeedServer() as slow:
        slow.delay = 2.0
        slow.serve("/slow.xml", body)
        storage.add_feed(slow.url("/slow.xml"), FeedKind.PODCAST, now)  # first claimed
        for i in range(11):
            server.serve(f"/f{i}.xml", body)
            storage.add_feed(server.url(f"/f{i}.xml"), FeedKind.PODCAST, now)
        poller = make_poller(storage, fetcher, workers=2, per_host=2, batch_size=4)
        summary = poller.poll_due()
        (slow_answered,) = [r.at for r in slow.log]
    assert summary.polled == 12 and summary.failed == 0  # three claims in one call
    # The other worker went through every fast feed while the slow one was out.
    assert len(server.log) == 11
    assert max(r.at for r in server.log) < slow_answered
    # And stopped claiming when nothing more was due: every lease ended with its poll.
    assert storage.claim_due_feeds(datetime.now(UTC), 100, owner="x", lease_seconds=60) == []


def test_a_stopped_poller_gives_its_unpolled_claims_back(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    body = (EXAMPLES / "caliphate.xml").read_bytes()
    now = datetime.now(UTC)
    for i in range(5):
        server.serve(f"/s{i}.xml", body)
        storage.add_feed(server.url(f"/s{i}.xml"), FeedKind.PODCAST, now)
    server.delay = 0.5
    poller = make_poller(storage, fetcher, workers=1, per_host=1)
    threading.Timer(0.2, poller.stop).start()
    assert poller.poll_due().polled == 1
    # The four it never started are free for another instance at once.
    others = storage.claim_due_feeds(datetime.now(UTC), 100, owner="other", lease_seconds=60)
    assert len(others) == 4


def test_a_feed_removed_while_it_is_polled_fails_that_poll_only(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    # "No such feed" is no failure of the database (not a StorageError), but a poll
    # meets it like one: nothing stored, one line, the batch goes on.
    server.serve("/gone.xml", (EXAMPLES / "serial.xml").read_bytes())
    feed = storage.add_feed(server.url("/gone.xml"), FeedKind.PODCAST, datetime.now(UTC))
    storage.remove_feed(feed.id)

    report = make_poller(storage, fetcher).poll_feed(feed)

    assert report.outcome == "failed"
    assert report.error == f"storage error: no feed with id {feed.id}"
    assert report.error_kind == "StorageError"


def _numbered_feed(newest: int, count: int) -> bytes:
    """Items ``newest`` down to ``newest - count + 1``, newest first, one a day."""
    items = "".join(
        f"<item><guid>ep-{n}</guid><title>Episode {n}</title>"
        f"<pubDate>{(datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=n)):%d %b %Y} "
        "10:00 GMT</pubDate></item>"
        for n in range(newest, newest - count, -1)
    )
    return f'<rss version="2.0"><channel><title>Long</title>{items}</channel></rss>'.encode()


def test_a_poll_reads_at_most_max_items_and_reports_the_rest(
    server: FeedServer, fetcher: Fetcher, storage: Storage
) -> None:
    server.serve("/long.xml", _numbered_feed(30, 30))
    poller = make_poller(storage, fetcher, max_items=10)
    feed = storage.add_feed(server.url("/long.xml"), FeedKind.PODCAST, datetime.now(UTC))
    report = poller.poll_feed(feed)
    assert (report.outcome, report.counts.new, report.left_out) == ("new", 10, 20)
    assert "20 items over poll.max_items left out" in report.line()
    assert sorted(e.guid for e in episode_records(storage)) == sorted(
        f"ep-{n}" for n in range(21, 31)
    )
    stored = storage.get_feed(feed.id)
    assert stored.warning == "read only the newest 10 of 30 items (poll.max_items)"

    # A new episode on top pushes ep-21 past the cap: it is still in the feed, so it
    # is kept as it is, not marked missing.
    server.serve("/long.xml", _numbered_feed(31, 31))
    again = poller.poll_feed(stored)
    assert (again.counts.new, again.counts.missing, again.left_out) == (1, 0, 21)
    episodes = {e.guid: e for e in episode_records(storage)}
    assert len(episodes) == 11
    assert all(e.missing_since is None for e in episodes.values())

    summary = poller.poll_due(feeds=[storage.get_feed(feed.id)])
    assert summary.line().endswith("0 failed")  # unchanged: nothing was read, nothing left out
    server.serve("/long.xml", _numbered_feed(32, 32))
    summary = poller.poll_due(feeds=[storage.get_feed(feed.id)])
    assert summary.line().endswith("(22 items over poll.max_items left out)")
