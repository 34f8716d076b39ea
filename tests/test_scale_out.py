"""Several instances on one PostgreSQL: races, crashes and a database that goes away.

Real ``aggregator run`` processes (tests/instances.py) poll feeds served by a real
local server whose request log is the witness: a feed fetched twice in a cycle shows
there. The database is the real PostgreSQL; "down" and "restarted" are a TCP proxy in
front of it that resets connections (tests/tcp_proxy.py), so the shared server is
never touched.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aggregator.app import utcnow
from aggregator.exceptions import StorageError
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.poller import Poller, PollSummary
from aggregator.settings import FetchSettings, PollSettings
from aggregator.storage import Storage, open_storage
from aggregator.types import FeedKind
from tests.feedserver import FeedServer
from tests.instances import instances, opml, run_cli, stop_all, wait_for, write_config
from tests.stored import series_records
from tests.tcp_proxy import TcpProxy

FEEDS = 500
EPISODES_PER_FEED = 2
REVIEW_FEEDS = 4
REVIEWS_PER_FEED = 5

_WORDS = [
    *("amber", "basalt", "cedar", "delta", "ember", "falcon", "garnet", "harbor"),
    *("indigo", "juniper", "kestrel", "lantern", "meadow", "nickel", "orchid", "pewter"),
    *("quartz", "raven", "saffron", "tundra", "umber", "violet", "willow", "yarrow"),
]


def _title(i: int) -> str:
    """A distinct show name per feed ("Harbor Lantern Dispatch 17")."""
    return f"{_WORDS[i % 24].title()} {_WORDS[(i // 24) % 24].title()} Dispatch {i}"


def _podcast(i: int) -> bytes:
    items = "".join(
        f"<item><title>{_title(i)}: Chapter {n}</title><guid>feed-{i}-ep-{n}</guid>"
        f"<pubDate>Mon, {n + 1:02d} Jun 2025 08:00:00 GMT</pubDate>"
        f"<description>Part {n} of the story, with reporter Ana Verhoeven-{i}.</description>"
        f'<enclosure url="https://cdn.example/{i}/{n}.mp3" type="audio/mpeg" length="1"/>'
        "</item>"
        for n in range(1, EPISODES_PER_FEED + 1)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        f"<title>{_title(i)}</title><link>https://shows.example/{i}</link>"
        f"<itunes:author>Ana Verhoeven-{i}</itunes:author>"
        f"<description>A podcast about harbor towns, number {i}.</description>{items}"
        "</channel></rss>"
    ).encode()


def _reviews_feed(r: int) -> bytes:
    items = []
    for k in range(REVIEWS_PER_FEED):
        show = r * REVIEWS_PER_FEED + k  # reviews of the first shows, one each
        items.append(
            f"<item><title>Review: {_title(show)}</title>"
            f"<link>https://critic{r}.example/reviews/{k}</link>"
            f"<guid>https://critic{r}.example/reviews/{k}</guid>"
            "<pubDate>Fri, 20 Jun 2025 09:00:00 GMT</pubDate><description><![CDATA["
            f"<p>I spent the week with <em>{_title(show)}</em>, the podcast hosted by "
            f"Ana Verhoeven-{show}. The second episode, &ldquo;{_title(show)}: Chapter 2"
            "&rdquo;, is the one to start with: patient reporting, no filler, and a "
            "closing scene I keep thinking about. The series is worth your time.</p>"
            "]]></description></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>Critic {r}</title><link>https://critic{r}.example/</link>"
        f"<description>Podcast reviews</description>{''.join(items)}</channel></rss>"
    ).encode()


def _serve_all(server: FeedServer) -> tuple[list[str], list[str]]:
    podcasts, reviews = [], []
    for i in range(FEEDS):
        server.serve(f"/p/{i}.xml", _podcast(i))
        podcasts.append(server.url(f"/p/{i}.xml"))
    for r in range(REVIEW_FEEDS):
        server.serve(f"/r/{r}.xml", _reviews_feed(r))
        reviews.append(server.url(f"/r/{r}.xml"))
    return podcasts, reviews


def _import(config: Path, tmp_path: Path, podcasts: list[str], reviews: list[str]) -> None:
    """The instances find their feeds the way a user gives them: an OPML import."""
    (tmp_path / "feeds.opml").write_bytes(opml(podcasts, reviews=reviews))
    done = run_cli(config, "opml", "import", str(tmp_path / "feeds.opml"))
    assert done.returncode == 0, done.stderr
    assert f"{FEEDS + REVIEW_FEEDS} feeds added" in done.stdout


def _scalar(database_url: str, sql: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def _rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def _polled(database_url: str) -> int:
    # Stored polls: a feed's poll is stored with its lease cleared in one transaction.
    return _scalar(
        database_url,
        "SELECT count(*) FROM feed WHERE last_polled_at IS NOT NULL AND lease_owner IS NULL",
    )


def _assert_nothing_lost_or_duplicated(database_url: str) -> None:
    q = lambda sql: _scalar(database_url, sql)  # noqa: E731
    assert q("SELECT count(*) FROM feed WHERE last_error IS NOT NULL") == 0
    assert q("SELECT count(*) FROM series") == FEEDS
    assert q("SELECT count(DISTINCT feed_id) FROM series") == FEEDS
    assert q("SELECT count(*) FROM episode") == FEEDS * EPISODES_PER_FEED
    assert q("SELECT count(DISTINCT (series_id, guid)) FROM episode") == FEEDS * EPISODES_PER_FEED
    total_reviews = REVIEW_FEEDS * REVIEWS_PER_FEED
    assert q("SELECT count(*) FROM review") == total_reviews
    assert q("SELECT count(DISTINCT url) FROM review") == total_reviews
    links = q("SELECT count(*) FROM link")
    assert links == q("SELECT count(DISTINCT (review_id, series_id, episode_key)) FROM link")
    # Each review names its show and its second chapter: linked, whichever instance
    # took the review in and whichever stored the show.
    assert q("SELECT count(DISTINCT review_id) FROM link WHERE episode_id IS NULL") == total_reviews
    # No claim left behind: every lease ended with its poll or its linking.
    assert q("SELECT count(*) FROM feed WHERE lease_owner IS NOT NULL") == 0
    assert q("SELECT count(*) FROM review WHERE lease_owner IS NOT NULL") == 0


def _reviews_linked(database_url: str) -> bool:
    return (
        _scalar(database_url, "SELECT count(DISTINCT review_id) FROM link")
        == REVIEW_FEEDS * REVIEWS_PER_FEED
    )


def test_three_instances_fetch_every_feed_exactly_once(
    pg_database_url: str, tmp_path: Path
) -> None:
    with FeedServer() as server:
        server.delay = 0.02  # a remote server's latency: the instances' polls overlap
        podcasts, reviews = _serve_all(server)
        config = write_config(
            tmp_path / "config.toml",
            pg_database_url,
            tick_seconds=0.5,
            workers=4,
            per_host=4,
            batch_size=25,
        )
        _import(config, tmp_path, podcasts, reviews)
        with instances(config, tmp_path, 3) as running:
            names = [httpx.get(f"{i.url}/healthz").json()["instance"] for i in running]
            assert len(set(names)) == 3
            assert all(f":{i.pid}:" in name for i, name in zip(running, names, strict=True))
            wait_for(lambda: _polled(pg_database_url) == FEEDS + REVIEW_FEEDS, 180, "all polls")
            wait_for(lambda: _reviews_linked(pg_database_url), 180, "the reviews linked")
            time.sleep(2)  # a few more ticks, in which nothing is due
            statuses = stop_all(running)

        assert statuses == [0, 0, 0]
        fetches = Counter(r.path for r in server.log)
        assert len(fetches) == FEEDS + REVIEW_FEEDS
        assert [path for path, n in fetches.items() if n != 1] == []
        for instance in running:
            output = instance.output()
            assert "Traceback" not in output
            assert "polled " in output, "every instance took a share of the feeds"
    _assert_nothing_lost_or_duplicated(pg_database_url)


def test_a_killed_instance_s_feeds_are_taken_back_by_the_others_on_its_host(
    pg_database_url: str, tmp_path: Path
) -> None:
    # Leases a little longer than the whole run takes: feeds that waited them out
    # would not be polled again before the end (the test would time out).
    lease = 600.0
    workers = 4
    with FeedServer() as server:
        server.delay = 0.05
        podcasts, reviews = _serve_all(server)
        config = write_config(
            tmp_path / "config.toml",
            pg_database_url,
            tick_seconds=0.5,
            workers=workers,
            per_host=workers,
            batch_size=25,
            lease_seconds=lease,
        )
        _import(config, tmp_path, podcasts, reviews)
        with instances(config, tmp_path, 3) as running:
            victim = running[0]
            wait_for(lambda: _polled(pg_database_url) >= 100, 120, "a third of the polls")
            victim.kill()
            wait_for(lambda: _polled(pg_database_url) == FEEDS + REVIEW_FEEDS, 180, "all polls")
            wait_for(lambda: _reviews_linked(pg_database_url), 180, "the reviews linked")
            time.sleep(1)
            statuses = stop_all(running[1:])

        assert statuses == [0, 0]
        # The others saw its pid gone from this host and took its feeds back at once.
        took_back = [
            int(m.group(1))
            for instance in running[1:]
            for m in re.finditer(
                rf"took back (\d+) feeds from [^ ]+:{victim.pid}:[0-9a-f]+: gone from this host",
                instance.output(),
            )
        ]
        assert took_back and sum(took_back) >= 1, "the killed instance held leases when it died"
        fetched = Counter(r.path for r in server.log)
        twice = {p for p, n in fetched.items() if n > 1}
        # Only polls in flight when it died (fetched, not stored) were fetched again.
        assert len(twice) <= workers
        for instance in running[1:]:
            assert "Traceback" not in instance.output()
    _assert_nothing_lost_or_duplicated(pg_database_url)


# --- the database goes away ----------------------------------------------------------


def _proxied(database_url: str, proxy: TcpProxy) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


@contextmanager
def _poller(storage: Storage, *, lease_seconds: float = 120.0) -> Iterator[Poller]:
    fetch = FetchSettings(connect_timeout=5, read_timeout=5, total_timeout=10)
    poll = PollSettings(workers=4, per_host=4, lease_seconds=lease_seconds)
    with closing(Fetcher(fetch, clock=utcnow)) as fetcher:
        yield Poller(storage, fetcher, poll, clock=utcnow)


def _add(storage: Storage, server: FeedServer, count: int) -> None:
    for i in range(count):
        server.serve(f"/p/{i}.xml", _podcast(i))
        storage.add_feed(server.url(f"/p/{i}.xml"), FeedKind.PODCAST, utcnow())


def test_a_database_that_goes_down_mid_poll_fails_the_polls_cleanly_and_they_are_retried(
    pg_database_url: str,
) -> None:
    feeds = 12
    with (
        TcpProxy("127.0.0.1", make_url(pg_database_url).port or 5432) as proxy,
        FeedServer() as server,
        open_storage(pg_database_url) as direct,
        open_storage(_proxied(pg_database_url, proxy)) as through_proxy,
        _poller(through_proxy, lease_seconds=2.0) as poller,
    ):
        direct.migrate()
        _add(direct, server, feeds)
        server.delay = 0.4
        result: list[PollSummary] = []
        polling = threading.Thread(target=lambda: result.append(poller.poll_due()))
        polling.start()
        wait_for(lambda: server.in_flight > 0, 10, "the first fetches")
        proxy.cut()  # down while fetches are in flight: nothing can be stored
        polling.join(timeout=30)
        assert not polling.is_alive()

        (summary,) = result
        assert summary.polled == feeds and summary.failed == feeds
        for report in summary.reports:
            assert report.error is not None and report.error.startswith("storage error: ")
            assert "\n" not in report.error
        # Still down at the next tick: claiming fails with one clear error.
        with pytest.raises(StorageError, match=r"^claiming due feeds: "):
            poller.poll_due()
        assert direct.stats().episodes == 0  # nothing half-stored

        proxy.restore()
        server.delay = 0.0
        done = PollSummary()
        deadline = time.monotonic() + 30
        while done.polled < feeds and time.monotonic() < deadline:
            # The failed polls' leases run out (2 s), then they are claimed again.
            for report in poller.poll_due().reports:
                done.add(report)
            time.sleep(0.2)
        assert done.polled == feeds and done.failed == 0

        assert direct.stats().episodes == feeds * EPISODES_PER_FEED
        assert len(series_records(direct)) == feeds
        fetches = Counter(r.path for r in server.log)
        # Once when the store failed, once more when retried; never a third time.
        assert sorted(fetches.values()) == [2] * feeds


def test_a_database_restart_between_polls_is_survived_by_the_connection_pool(
    pg_database_url: str,
) -> None:
    with (
        TcpProxy("127.0.0.1", make_url(pg_database_url).port or 5432) as proxy,
        FeedServer() as server,
        open_storage(pg_database_url) as direct,
        open_storage(_proxied(pg_database_url, proxy)) as through_proxy,
        _poller(through_proxy) as poller,
    ):
        direct.migrate()
        _add(direct, server, 6)
        assert poller.poll_due().failed == 0  # the pool now holds open connections
        proxy.cut()  # a restart: every pooled connection is reset...
        proxy.restore()  # ...and the server is back at once
        _add_more = 3
        for i in range(6, 6 + _add_more):
            server.serve(f"/p/{i}.xml", _podcast(i))
            direct.add_feed(server.url(f"/p/{i}.xml"), FeedKind.PODCAST, utcnow())
        summary = poller.poll_due()
        # The dead connections are noticed on checkout (pre-ping), not by a failed poll.
        assert (summary.polled, summary.failed) == (_add_more, 0)
        assert direct.stats().episodes == (6 + _add_more) * EPISODES_PER_FEED
