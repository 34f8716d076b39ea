"""Hostile servers end to end, one batch that must survive them: real Poller, Fetcher,
parser and Storage.

One batch holds every case of ``tests.hostile_server.hostile_cases`` (stall, trickle,
reset, truncation, redirect loop, redirects to ``file:`` and to private addresses, gzip
bomb, 2 GB bodies, wrong content types, billion laughs, XXE) next to good feeds on a
well-behaved server. Each hostile feed must end with a stored one-line error that says
what went wrong; the good feeds are polled as if nothing happened; the whole batch ends
within the (short, test-set) timeouts; and in a child process ``aggregator poll`` of the
same batch stays under 200 MB RSS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, select

from aggregator.exceptions import BlockedURL, ParseError
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.parse import parse_feed
from aggregator.feeds.poller import Poller
from aggregator.settings import PollSettings
from aggregator.storage import Storage
from aggregator.types import FeedKind, FeedStatus
from tests.feedserver import FeedServer
from tests.hostile_server import (
    HOSTILE_LIMITS,
    HostileServer,
    MiB,
    billion_laughs,
    external_entity,
    hostile_cases,
    poll_config,
    redirect,
    respond,
    run_measured,
)
from tests.stored import episode_records

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-7f1c9a"  # in the files that hostile documents point at
# Every feed polled at once, so a slow hostile feed holds up nothing.
POLL = PollSettings(workers=32, per_host=32)
RSS_LIMIT = 200 * 1000 * 1000  # the target: the whole hostile batch under 200 MB


def good_feed(name: str, episodes: int) -> bytes:
    items = "".join(
        f"<item><title>{name} {i}</title><guid>{name}-{i}</guid>"
        f"<pubDate>Mon, 0{i} Mar 2026 10:00:00 GMT</pubDate>"
        f'<enclosure url="https://example.org/{name}/{i}.mp3" type="audio/mpeg" length="1"/>'
        "</item>"
        for i in range(1, episodes + 1)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"{items}</channel></rss>"
    ).encode()


# Good feeds: name, episodes, Content-Type (a real feed with the wrong one is still read).
GOOD = [("alpha", 3, "application/rss+xml"), ("beta", 2, "text/xml"), ("gamma", 4, "text/plain")]


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A readable feed file and a text file, the targets of the hostile documents."""
    directory = tmp_path_factory.mktemp("secrets")
    feed = directory / "secret-feed.xml"
    feed.write_bytes(good_feed(SECRET, 1))
    text = directory / "secret.txt"
    text.write_text(f"{SECRET}\n", encoding="utf-8")
    return feed, text


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def good() -> Iterator[FeedServer]:
    with FeedServer() as server:
        for name, episodes, content_type in GOOD:
            server.serve(f"/{name}.xml", good_feed(name, episodes), content_type=content_type)
        yield server


def stored_text(storage: Storage) -> str:
    """Every value of every row of every table, as one string."""
    engine = create_engine(storage.url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return "\n".join(
                repr(tuple(row))
                for table in metadata.sorted_tables
                for row in connection.execute(select(table))
            )
    finally:
        engine.dispose()


# --- the batch, in process -------------------------------------------------------------


def test_a_hostile_batch_stores_one_clear_error_per_feed_and_spares_the_good_ones(
    storage: Storage,
    hostile: HostileServer,
    good: FeedServer,
    secrets: tuple[Path, Path],
) -> None:
    cases = hostile_cases(hostile, secret_feed=secrets[0], secret_text=secrets[1])
    now = datetime.now(UTC)
    bad = {storage.add_feed(c.url, FeedKind.PODCAST, now).id: c for c in cases}
    fine = {
        storage.add_feed(good.url(f"/{name}.xml"), FeedKind.PODCAST, now).id: (name, n)
        for name, n, _ in GOOD
    }
    feeds = [storage.get_feed(i) for i in [*bad, *fine]]
    with Fetcher(HOSTILE_LIMITS) as fetcher:
        poller = Poller(storage, fetcher, POLL, clock=lambda: datetime.now(UTC), random=lambda: 0.5)
        started = time.monotonic()
        summary = poller.poll_due(feeds=feeds)
        elapsed = time.monotonic() - started

    reports = {r.feed_id: r for r in summary.reports}
    assert summary.polled == len(cases) + len(GOOD)
    assert summary.failed == len(cases)
    for feed_id, case in bad.items():
        feed = storage.get_feed(feed_id)
        assert feed.status is FeedStatus.FAILING, case.name
        assert feed.error_count == 1, case.name
        assert feed.last_error is not None, case.name
        assert case.error in feed.last_error, f"{case.name}: {feed.last_error}"
        assert feed.last_error.startswith(case.url), case.name  # says which feed
        assert "\n" not in feed.last_error and len(feed.last_error) < 300, case.name
        assert feed.next_poll_at is not None and feed.next_poll_at > now, case.name
        # Within the total deadline, give or take one read: the trickle's next byte.
        assert reports[feed_id].elapsed_seconds < HOSTILE_LIMITS.total_timeout + 1.2, case.name
    for feed_id, (name, episodes) in fine.items():
        feed = storage.get_feed(feed_id)
        assert (feed.status, feed.error_count, feed.last_error) == (FeedStatus.ACTIVE, 0, None)
        assert feed.title == name
        assert reports[feed_id].counts.new == episodes
        # Not held up by the hostile feeds polled beside them.
        assert reports[feed_id].elapsed_seconds < HOSTILE_LIMITS.read_timeout, name
    titles = sorted(e.title or "" for e in episode_records(storage))
    assert titles == sorted(f"{name} {i}" for name, n, _ in GOOD for i in range(1, n + 1))
    # The slowest case is the trickle, stopped by the 2 s total deadline.
    assert elapsed < HOSTILE_LIMITS.total_timeout + 2.0
    assert SECRET not in stored_text(storage)


# --- the batch, in a child process: memory ------------------------------------------------


def test_aggregator_poll_of_the_hostile_batch_stays_under_200_mb(
    hostile: HostileServer, good: FeedServer, secrets: tuple[Path, Path], tmp_path: Path
) -> None:
    cases = hostile_cases(hostile, secret_feed=secrets[0], secret_text=secrets[1])
    urls = [c.url for c in cases] + [good.url(f"/{name}.xml") for name, _, _ in GOOD]
    config = tmp_path / "config.toml"
    config.write_text(
        poll_config(
            urls,
            database=tmp_path / "hostile.db",
            fetch=HOSTILE_LIMITS,
            workers=POLL.workers,
            per_host=POLL.per_host,
        ),
        encoding="utf-8",
    )
    run = run_measured("aggregator", ["--config", str(config), "poll"], cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr  # some feeds succeeded
    assert "Traceback" not in run.stderr + run.stdout
    # stderr: the log (INFO lines, one per poll) and one "failed:" line per failed feed.
    failures = [line for line in run.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failures) == len(cases), run.stderr
    for case in cases:
        [line] = [f for f in failures if f.startswith(f"failed: {case.url}: ")]
        assert case.error in line, line
    assert f"polled {len(urls)} feeds: 9 new episodes" in run.stdout
    assert f"{len(cases)} failed" in run.stdout
    assert run.peak_rss_bytes < RSS_LIMIT, f"peak RSS {run.peak_rss_bytes / MiB:.0f} MiB"


# --- the parts, one by one -----------------------------------------------------------------


def test_billion_laughs_is_refused_at_once() -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(billion_laughs(), url="http://example.org/feed")
    assert info.value.reason == (
        "XML entity 'lol1' is defined by other entities, refused "
        "(an entity expansion attack, 'billion laughs')"
    )
    # Refused by our own check (the reason says so), before expansion: expat alone
    # would stop it too, but only after 8 MiB of text (~2 s, +120 MB).


def test_external_entity_is_refused(secrets: tuple[Path, Path]) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(external_entity(secrets[1]), url="http://example.org/feed")
    assert info.value.reason == f"XML external entity 'xxe' ({secrets[1].as_uri()}) refused"


@pytest.mark.parametrize(
    ("doctype", "refused"),
    [
        # A comment holding "<x" ends feedparser's DOCTYPE rewrite early, so its own
        # removal of entity declarations cannot be relied on.
        ('<!DOCTYPE rss [<!-- <x --> <!ENTITY e SYSTEM "{uri}">]>', "external entity 'e'"),
        ('<!DOCTYPE rss [<!ENTITY % p SYSTEM "{uri}"> %p;]>', "external entity 'p'"),
        ("<!DOCTYPE rss [<!ENTITY % p \"<!ENTITY e 'x'>\"> %p;]>", "parameter entity '%p'"),
        ('<!DOCTYPE rss [<!ENTITY a "x"><!ENTITY e "&a;&a;">]>', "entity 'e' is defined by"),
    ],
)
def test_other_entity_tricks_are_refused(
    doctype: str, refused: str, secrets: tuple[Path, Path]
) -> None:
    document = (
        '<?xml version="1.0"?>\n' + doctype.format(uri=secrets[1].as_uri()) + "\n"
        '<rss version="2.0"><channel><title>T &e;</title>'
        "<item><title>I</title><guid>1</guid></item></channel></rss>"
    )
    with pytest.raises(ParseError, match=refused):
        parse_feed(document.encode(), url="http://example.org/feed")


def test_named_characters_and_an_external_dtd_are_still_read(secrets: tuple[Path, Path]) -> None:
    # What real feeds declare: an RSS 0.91 DTD, named characters. The DTD is never
    # fetched: pointed at a local file, nothing of it reaches the result.
    for dtd in (
        '"-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd"',
        f'"-//Secret//EN" "{secrets[1].as_uri()}"',
    ):
        document = (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC {dtd} '
            '[<!ENTITY nbsp "&#160;"><!ENTITY copy "&#169;">]>\n'
            '<rss version="0.91"><channel><title>A&nbsp;B &copy;</title>'
            "<item><title>I &amp; J</title><guid>1</guid></item></channel></rss>"
        )
        parsed = parse_feed(document.encode(), url="http://example.org/feed")
        assert parsed.series.title == "A\xa0B ©"
        assert [e.title for e in parsed.episodes] == ["I & J"]
        assert SECRET not in repr(parsed)


def test_one_big_entity_used_many_times_stays_bounded() -> None:
    # Quadratic blowup: 20,000 uses of a 100 kB entity would be 2 GB of text. Not
    # refused (no nesting), but expat's amplification limit stops the strict parser,
    # and the forgiving one does not expand entities at all.
    document = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"x" * 100_000 + b'">]>'
        b'<rss version="2.0"><channel><title>T</title><item><title>'
        + b"&a;" * 20_000
        + b"</title><guid>1</guid></item></channel></rss>"
    )
    parsed = parse_feed(document, url="http://example.org/feed")
    assert len(parsed.episodes[0].title or "") < 1 * MiB


def test_redirects_of_a_trusted_feed_stay_on_its_host(hostile: HostileServer) -> None:
    # A feed from the config may live on a private host (here 127.0.0.1): its own
    # redirects are followed there, but not to any other non-public host, even another
    # name for the same machine.
    hostile.route("/here", respond(good_feed("here", 1)))
    moved = hostile.route("/moved", redirect("/here", status=301))
    elsewhere = f"http://localhost:{hostile.port}/here"
    away = hostile.route("/away", redirect(elsewhere))
    with Fetcher(replace(HOSTILE_LIMITS, max_redirects=2)) as fetcher:
        result = fetcher.fetch(moved)
        assert result.moved_to == hostile.url("/here")
        assert result.content == good_feed("here", 1)
        with pytest.raises(BlockedURL) as info:
            fetcher.fetch(away)
    assert info.value.reason.startswith(f"refused redirect to {elsewhere}: localhost resolves to")
    assert not [head for head in hostile.requests if b"host: localhost" in head.lower()]


def test_a_redirect_to_a_file_is_refused_even_where_files_are_allowed(
    hostile: HostileServer, secrets: tuple[Path, Path]
) -> None:
    # The default fetcher reads local feed files named in the config, yet a server's
    # redirect may never lead it to one.
    target = secrets[0].as_uri()
    url = hostile.route("/to-a-file", redirect(target, status=301))
    with Fetcher(HOSTILE_LIMITS, allow_file=True) as fetcher:
        assert fetcher.fetch(str(secrets[0])).content == secrets[0].read_bytes()
        with pytest.raises(BlockedURL) as info:
            fetcher.fetch(url)
    assert info.value.reason == f"redirect to a file: URL ({target}) is not followed"
