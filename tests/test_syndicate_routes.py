"""The combined feeds served by a real uvicorn server and read by real clients.

Real feeds from tests/data/feeds/real are polled into a store by the real poller;
the feeds are fetched over http://127.0.0.1 and read with feedparser, gPodder's
podcastparser and newsboat. What the source feed says, as podcastparser reads it, is
the reference: every episode, guid and enclosure must come out the same.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx
import lxml.html  # type: ignore[import-untyped]
import podcastparser  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI, Request
from lxml import etree
from sqlalchemy import event

from aggregator.app import App, make_app
from aggregator.settings import HttpSettings, Settings
from aggregator.syndicate.render import AGG_NS, ATOM_NS
from aggregator.syndicate.routes import build_router
from aggregator.types import (
    EpisodeRecord,
    Evidence,
    FeedKind,
    LinkProposal,
    LinkStatus,
    Relation,
    ReviewDocument,
    SeriesRecord,
)
from tests.http_server import Served, serve
from tests.stored import episode_records, series_records

REAL = Path(__file__).resolve().parent / "data" / "feeds" / "real"
SERIAL = REAL / "serial__podkit-2017.xml"
BIG = REAL / "this-american-life-all-episodes__aallen-2020.xml"  # 693 items
PC20 = REAL / "podcasting-2.0__partytime-2021.xml"  # podcast:guid, person, transcript...
XSS = '<script>alert("x")</script><img src=x onerror="alert(1)">'
NS = {"agg": AGG_NS}
ATOM = {"atom": ATOM_NS}

XSS_FEED = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel>
  <title>{XSS.replace("<", "&lt;")} Show</title>
  <link>https://evil.example/</link>
  <description><![CDATA[<p onmouseover="alert(5)">Show</p>{XSS}]]></description>
  <item>
    <title>Evil {XSS.replace("<", "&lt;")} episode</title>
    <guid isPermaLink="false">evil-1</guid>
    <pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate>
    <description><![CDATA[Notes {XSS}<a href="javascript:alert(6)">x</a>
      <iframe src="https://evil.example/"></iframe>]]></description>
    <enclosure url="https://evil.example/1.mp3" length="10" type="audio/mpeg"/>
  </item>
</channel>
</rss>
"""


@dataclass(frozen=True)
class World:
    app: App
    server: Served
    series: dict[str, SeriesRecord]  # by source file stem
    reviewed: EpisodeRecord  # the Serial episode our review reviews
    rejected: EpisodeRecord  # the Serial episode whose link was rejected
    evil: EpisodeRecord
    requests: list[tuple[str, str | None, int]]  # (path, If-None-Match, status) served


def _poll(a: App, path: Path) -> SeriesRecord:
    feed = a.storage.add_feed(path.as_uri(), FeedKind.PODCAST, a.clock())
    report = a.poller.poll_feed(feed)
    assert not report.failed, report.line()
    return next(s for s in series_records(a.storage) if s.feed_id == feed.id)


def _review(a: App, n: int, text: str, **fields: Any) -> int:
    document = ReviewDocument(text=text, **fields)
    now = a.clock()
    return a.storage.save_review(document, content_hash=f"t{n}", source="url", now=now).review.id


def _fill(a: App, tmp: Path) -> dict[str, Any]:
    """Four series, three reviews (one with a rejected link, one full of payloads)."""
    evil_path = tmp / "evil.xml"
    evil_path.write_text(XSS_FEED, encoding="utf-8")
    series = {p.stem: _poll(a, p) for p in (SERIAL, BIG, PC20, evil_path)}
    serial = series[SERIAL.stem]
    episodes = {e.title: e for e in episode_records(a.storage, serial.id)}
    reviewed = episodes["S01 Episode 01: The Alibi"]
    rejected = episodes["S01 Episode 02: The Breakup"]
    now = a.clock()

    text = (
        "Sarah Koenig opens Serial with a question about one afternoon in 1999. "
        "In The Alibi she retraces Adnan Syed's day minute by minute, and the "
        "patience of it is what makes the show."
    )
    start = text.index("The Alibi")
    evidence = (Evidence("episode-title", "The Alibi", start, start + 9, "title 'The Alibi'"),)
    first = _review(
        a,
        1,
        text,
        title="The patience of Serial",
        url="https://www.critic.example/serial-alibi",
        author="Pat Critic",
        published=now - timedelta(days=3),
    )
    proposals = [
        LinkProposal(serial.id, reviewed.id, Relation.REVIEWS, 0.91, evidence),
        LinkProposal(serial.id, None, Relation.REVIEWS, 0.8, evidence),
        LinkProposal(serial.id, rejected.id, Relation.MENTIONS, 0.4, ()),
    ]
    links = a.storage.replace_links(first, proposals, linker_version="test", now=now)
    wrong = next(x for x in links if x.episode_id == rejected.id)
    a.storage.set_link_status(wrong.id, LinkStatus.REJECTED, now)

    evil = episode_records(a.storage, series[evil_path.stem].id)[0]
    bad = _review(
        a,
        2,
        f"Evil text {XSS} about the evil episode.",
        title=f"Evil review {XSS}",
        url="https://evil.example/review",
        author=XSS,
        published=now - timedelta(days=1),
    )
    a.storage.add_link(bad, evil.series_id, evil.id, Relation.REVIEWS, now)
    pc20 = series[PC20.stem]
    third = _review(a, 3, "Adam and Dave on podcasting.", published=now - timedelta(days=2))
    a.storage.add_link(third, pc20.id, None, Relation.REVIEWS, now)
    return {"series": series, "reviewed": reviewed, "rejected": rejected, "evil": evil}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("syndicate")
    with make_app(Settings(database_url=f"sqlite:///{tmp / 'store.db'}")) as a:
        filled = _fill(a, tmp)
        http = FastAPI()
        http.include_router(build_router(a))
        requests: list[tuple[str, str | None, int]] = []

        @http.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            response = await call_next(request)
            tag = request.headers.get("if-none-match")
            requests.append((request.url.path, tag, response.status_code))
            return response

        with serve(http) as served:
            yield World(app=a, server=served, requests=requests, **filled)


def get(world: World, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{world.server.url}{path}", headers=headers, timeout=30)


def pp(url: str, content: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = podcastparser.parse(url, io.BytesIO(content))
    return parsed


def _episode_key(e: dict[str, Any]) -> tuple[object, ...]:
    enclosures = [(x["url"], max(x["file_size"], 0), x["mime_type"]) for x in e["enclosures"]]
    return (
        e["title"],
        e["published"],
        enclosures[:1],
        e.get("total_time"),
        e.get("number"),
        e.get("season"),
        e.get("type"),
        e.get("episode_art_url"),
        e.get("transcript_url"),
        e.get("chapters_json_url"),
        # An empty <podcast:person/> (the PC 2.0 feed has two) names no one: dropped.
        [
            (p["name"], p["role"], p["group"], p["href"], p["img"])
            for p in e.get("persons", [])
            if p["name"]
        ],
    )


# --- every episode survives -------------------------------------------------------


@pytest.mark.parametrize("source", [SERIAL, BIG, PC20], ids=lambda p: p.stem.split("__")[0])
def test_podcastparser_reads_every_episode_guid_and_enclosure_of_the_source(
    world: World, source: Path
) -> None:
    series = world.series[source.stem]
    response = get(world, f"/feeds/series/{series.id}.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    expected = pp(source.as_uri(), source.read_bytes())
    ours = pp(f"{world.server.url}/feeds/series/{series.id}.xml", response.content)
    assert len(ours["episodes"]) == len(expected["episodes"])
    want = {e["guid"]: _episode_key(e) for e in expected["episodes"]}
    got = {e["guid"]: _episode_key(e) for e in ours["episodes"]}
    assert got == want
    assert ours["title"] == expected["title"]
    assert ours.get("cover_url") == expected.get("cover_url")


@pytest.mark.parametrize("source", [SERIAL, PC20], ids=lambda p: p.stem.split("__")[0])
def test_feedparser_reads_every_entry_id_and_enclosure_of_the_source(
    world: World, source: Path
) -> None:
    series = world.series[source.stem]
    ours = feedparser.parse(get(world, f"/feeds/series/{series.id}.xml").content)
    expected = feedparser.parse(source.read_bytes())
    assert not ours.bozo, ours.get("bozo_exception")

    def key(entry: Any) -> tuple[object, ...]:
        enclosure = next((link for link in entry.links if link.rel == "enclosure"), None)
        return (
            entry.title,
            entry.published_parsed,
            enclosure.href if enclosure else None,
            entry.get("itunes_duration") is not None,
        )

    assert {e.id: key(e) for e in ours.entries} == {e.id: key(e) for e in expected.entries}
    if series.podcast_guid:
        assert ours.feed.podcast_guid == series.podcast_guid


# --- reviews in the series feed ------------------------------------------------------


def test_reviewed_episode_carries_the_review_and_our_namespace(world: World) -> None:
    serial = world.series[SERIAL.stem]
    document = get(world, f"/feeds/series/{serial.id}.xml").content
    items = {i.findtext("guid"): i for i in etree.fromstring(document).iter("item")}
    item = items[world.reviewed.guid]
    html = lxml.html.fragment_fromstring(item.findtext("description"), create_parent="div")
    text = html.text_content()
    assert "Sarah Koenig" in text  # the episode's own description is still there
    anchor = html.xpath("//li/a")[0]
    assert (anchor.text, anchor.get("href")) == (
        "The patience of Serial",
        "https://www.critic.example/serial-alibi",
    )
    line = html.xpath("//li")[0].text_content()
    assert "critic.example" in line
    assert "by Pat Critic" in line
    assert "score 0.91" in line
    assert "retraces Adnan Syed's day" in html.xpath("//li/blockquote")[0].text
    links = item.findall("agg:link", NS)
    assert [x.attrib for x in links] == [
        {
            "review": "https://www.critic.example/serial-alibi",
            "feed": serial.feed_url,  # Serial has no podcast:guid
            "feedUrl": serial.feed_url,
            "episode": world.reviewed.guid,
            "relation": "reviews",
            "score": "0.910",
            "status": "auto",
        }
    ]
    # The rejected link is shown nowhere; the series-level one is at channel level.
    assert items[world.rejected.guid].find("agg:link", NS) is None
    assert "patience" not in items[world.rejected.guid].findtext("description")
    channel_links = etree.fromstring(document).find("channel").findall("agg:link", NS)
    assert [(x.get("review"), x.get("episode")) for x in channel_links] == [
        ("https://www.critic.example/serial-alibi", None)
    ]


def test_podcast_guid_names_the_feed_when_there_is_one(world: World) -> None:
    pc20 = world.series[PC20.stem]
    document = get(world, f"/feeds/series/{pc20.id}.xml").content
    channel = etree.fromstring(document).find("channel")
    assert channel.find("agg:origin", NS).get("feed") == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    link = channel.find("agg:link", NS)
    assert link.get("feed") == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    assert link.get("review") == f"{world.server.url}/reviews/3"  # no URL of its own


# --- the reviews feed ---------------------------------------------------------------


def test_reviews_feed_items_play_the_reviewed_episode(world: World) -> None:
    response = get(world, "/feeds/reviews.xml")
    assert response.status_code == 200
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo
    # Newest first: the evil review (1 day old), PC 2.0 (2 days), Serial (3 days).
    assert [e.id for e in parsed.entries] == [
        "https://evil.example/review",
        f"{world.server.url}/reviews/3",
        "https://www.critic.example/serial-alibi",
    ]
    serial_entry = parsed.entries[2]
    assert serial_entry.link == world.reviewed.link
    assert world.reviewed.enclosure is not None
    assert serial_entry.enclosures[0].href == world.reviewed.enclosure.url
    # podcastparser, as a podcast app: the review plays the episode.
    episodes = pp(f"{world.server.url}/feeds/reviews.xml", response.content)["episodes"]
    by_guid = {e["guid"]: e for e in episodes}
    played = by_guid["https://www.critic.example/serial-alibi"]["enclosures"]
    assert [x["url"] for x in played] == [world.reviewed.enclosure.url]
    assert [x["url"] for x in by_guid["https://evil.example/review"]["enclosures"]] == [
        "https://evil.example/1.mp3"
    ]
    # The series-level review of PC 2.0 has no single episode to play.
    assert by_guid[f"{world.server.url}/reviews/3"]["enclosures"] == []


def test_reviews_feed_of_one_series(world: World) -> None:
    serial = world.series[SERIAL.stem]
    response = get(world, f"/feeds/reviews.xml?series={serial.id}")
    root = etree.fromstring(response.content)
    assert root.findtext("channel/title") == "Reviews of Serial"
    items = list(root.iter("item"))
    assert [i.findtext("guid") for i in items] == ["https://www.critic.example/serial-alibi"]
    links = items[0].findall("agg:link", NS)
    assert sorted((x.get("episode") or "", x.get("score")) for x in links) == [
        ("", "0.800"),
        (world.reviewed.guid, "0.910"),
    ]
    big = world.series[BIG.stem]
    empty = etree.fromstring(get(world, f"/feeds/reviews.xml?series={big.id}").content)
    assert empty.findtext("channel/title") == f"Reviews of {big.title}"
    assert list(empty.iter("item")) == []
    assert get(world, "/feeds/reviews.xml?series=9999").status_code == 404
    assert get(world, "/feeds/reviews.xml?series=abc").status_code == 422
    assert get(world, "/feeds/series/9999.xml").status_code == 404
    # Ids past 64 bits are refused before they reach the database driver.
    assert get(world, f"/feeds/series/{2**64}.xml").status_code == 422
    assert get(world, f"/feeds/reviews.xml?series={2**64}").status_code == 422


def test_head_says_what_get_would(world: World) -> None:
    path = f"/feeds/series/{world.series[SERIAL.stem].id}.xml"
    full = get(world, path)
    head = httpx.head(f"{world.server.url}{path}")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == full.headers["etag"]
    assert head.headers["content-type"] == full.headers["content-type"]
    # The body is streamed as it is rendered, so neither says a length.
    assert "content-length" not in full.headers
    assert "content-length" not in head.headers
    assert (
        httpx.head(
            f"{world.server.url}{path}", headers={"If-None-Match": full.headers["etag"]}
        ).status_code
        == 304
    )


def test_schema_lists_the_feeds_once(world: World) -> None:
    http = FastAPI()
    http.include_router(build_router(world.app))
    paths = http.openapi()["paths"]
    assert set(paths) == {"/feeds/series/{series_id}.xml", "/feeds/reviews.xml"}
    assert [set(p) for p in paths.values()] == [{"get"}, {"get"}]


# --- pages (RFC 5005) ----------------------------------------------------------------

PER_PAGE = 200  # This American Life's 693 episodes: pages of 200, 200, 200 and 93


@pytest.fixture(scope="module")
def paged(world: World) -> Iterator[tuple[App, Served]]:
    """The world's store served with pages of ``PER_PAGE`` episodes."""
    http = replace(world.app.settings.http, feed_max_items=PER_PAGE)
    with make_app(replace(world.app.settings, http=http)) as a:
        app = FastAPI()
        app.include_router(build_router(a))
        with serve(app) as served:
            yield a, served


def _atom_links(document: bytes) -> dict[str, str]:
    channel = etree.fromstring(document).find("channel")
    return {x.get("rel"): x.get("href") for x in channel.findall("atom:link", ATOM)}


def test_a_long_series_comes_in_pages_that_podcastparser_follows_to_the_end(
    world: World, paged: tuple[App, Served]
) -> None:
    _, served = paged
    series = world.series[BIG.stem]
    first_url = f"{served.url}/feeds/series/{series.id}.xml"
    url: str | None = first_url
    pages: list[dict[str, Any]] = []
    while url is not None and len(pages) < 10:
        response = httpx.get(url, timeout=30)
        assert response.status_code == 200
        pages.append(pp(url, response.content))
        url = pages[-1].get("paged_feed_next")
    assert [len(p["episodes"]) for p in pages] == [200, 200, 200, 93]
    assert [p.get("paged_feed_first") for p in pages] == [first_url] * 4
    # Every episode of the source, once, as podcastparser reads the source.
    expected = pp(BIG.as_uri(), BIG.read_bytes())["episodes"]
    got = [e for p in pages for e in p["episodes"]]
    assert len({e["guid"] for e in got}) == len(got) == len(expected)
    assert {e["guid"]: _episode_key(e) for e in got} == {
        e["guid"]: _episode_key(e) for e in expected
    }
    # Newest first across the pages.
    published = [e["published"] for e in got]
    assert published == sorted(published, reverse=True)


def test_each_page_links_first_previous_next_and_itself(
    world: World, paged: tuple[App, Served]
) -> None:
    _, served = paged
    series = world.series[BIG.stem]
    base = f"{served.url}/feeds/series/{series.id}.xml"
    first = httpx.get(base, timeout=30).content
    assert _atom_links(first) == {"self": base, "first": base, "next": f"{base}?page=2"}
    second = httpx.get(f"{base}?page=2", timeout=30).content
    assert _atom_links(second) == {
        "self": f"{base}?page=2",
        "first": base,
        "previous": base,
        "next": f"{base}?page=3",
    }
    last = httpx.get(f"{base}?page=4", timeout=30).content
    assert _atom_links(last) == {
        "self": f"{base}?page=4",
        "first": base,
        "previous": f"{base}?page=3",
    }
    # feedparser, as feed readers use it, sees the same link and a well-formed page.
    parsed = feedparser.parse(first)
    assert not parsed.bozo
    assert len(parsed.entries) == PER_PAGE
    assert [x.href for x in parsed.feed.links if x.rel == "next"] == [f"{base}?page=2"]
    # A short series is one page, and says nothing of pages.
    serial = world.series[SERIAL.stem]
    single = httpx.get(f"{served.url}/feeds/series/{serial.id}.xml", timeout=30).content
    assert set(_atom_links(single)) == {"self"}


def test_pages_past_the_last_and_bad_page_numbers_are_refused(
    world: World, paged: tuple[App, Served]
) -> None:
    _, served = paged
    base = f"{served.url}/feeds/series/{world.series[BIG.stem].id}.xml"
    assert httpx.get(f"{base}?page=5").status_code == 404
    assert "no page 5" in httpx.get(f"{base}?page=5").json()["detail"]
    assert httpx.get(f"{base}?page=0").status_code == 422
    assert httpx.get(f"{base}?page=abc").status_code == 422
    assert httpx.get(f"{base}?page={10**7}").status_code == 422
    # Page 1 is the feed itself: the same document under the same validator.
    assert httpx.get(f"{base}?page=1").headers["etag"] == httpx.get(base).headers["etag"]
    # A series without episodes still has its first page.
    serial = world.series[SERIAL.stem]
    assert httpx.get(f"{served.url}/feeds/series/{serial.id}.xml?page=2").status_code == 404


def test_each_page_has_its_own_etag_and_304(world: World, paged: tuple[App, Served]) -> None:
    _, served = paged
    base = f"{served.url}/feeds/series/{world.series[BIG.stem].id}.xml"
    first, second = httpx.get(base), httpx.get(f"{base}?page=2")
    assert first.headers["etag"] != second.headers["etag"]
    again = httpx.get(f"{base}?page=2", headers={"If-None-Match": second.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    stale = httpx.get(f"{base}?page=2", headers={"If-None-Match": first.headers["etag"]})
    assert stale.status_code == 200
    # The same page of the same store with another page size is another document.
    unpaged = get(world, f"/feeds/series/{world.series[BIG.stem].id}.xml")
    assert unpaged.headers["etag"] != first.headers["etag"]


def test_a_304_reads_no_episode_and_renders_nothing(world: World) -> None:
    path = f"/feeds/series/{world.series[BIG.stem].id}.xml"
    etag = get(world, path).headers["etag"]
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = world.app.storage._engine  # white-box: the statements themselves
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert get(world, path, **{"If-None-Match": etag}).status_code == 304
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements  # the version was read
    assert not [s for s in statements if "episode.description" in s or "LIMIT" in s]


def test_newsboat_reads_the_first_page_of_a_paged_feed(
    world: World, paged: tuple[App, Served], tmp_path: Path
) -> None:
    newsboat = shutil.which("newsboat")
    assert newsboat, "newsboat is not installed (apt-get install newsboat)"
    _, served = paged
    url = f"{served.url}/feeds/series/{world.series[BIG.stem].id}.xml"
    (tmp_path / "urls").write_text(f"{url}\n", encoding="utf-8")
    (tmp_path / "config").write_text("", encoding="utf-8")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    env["XDG_DATA_HOME"] = str(tmp_path)
    command = [newsboat, "-u", str(tmp_path / "urls"), "-c", str(tmp_path / "cache.db")]
    command += ["-C", str(tmp_path / "config"), "-x", "reload", "print-unread"]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"{PER_PAGE} unread articles"


# --- XSS ---------------------------------------------------------------------------


def _assert_harmless(html_text: str) -> None:
    html = lxml.html.fragment_fromstring(html_text, create_parent="div")
    assert not html.xpath("//script|//iframe|//style|//object|//embed")
    for element in html.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            assert not value.strip().lower().startswith("javascript:"), (element.tag, value)


@pytest.mark.parametrize("path", ["series", "reviews"])
def test_xss_payloads_reach_the_feeds_only_as_text_or_sanitized_html(
    world: World, path: str
) -> None:
    evil = world.evil
    url = f"/feeds/series/{evil.series_id}.xml" if path == "series" else "/feeds/reviews.xml"
    document = get(world, url).content
    assert b"<script" not in document
    assert b"<img" not in document
    root = etree.fromstring(document)
    for element in root.iter("description"):
        _assert_harmless(element.text or "")
    titles = [t.text for t in root.iter("title")]
    if path == "series":
        assert f"{XSS} Show" in titles  # the payload as characters of the title
        assert f"Evil {XSS} episode" in titles
    else:
        assert f"Evil review {XSS}" in titles
        item = next(i for i in root.iter("item") if i.findtext("guid").startswith("https://evil"))
        description = item.findtext("description")
        assert "Evil text" in lxml.html.fragment_fromstring(description, "div").text_content()
    # feedparser, which sanitizes again on its side, still finds the text.
    assert not feedparser.parse(document).bozo


# --- conditional requests --------------------------------------------------------


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[App, Served, SeriesRecord]]:
    """A store of its own (these tests change it), with Serial in it."""
    with make_app(Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")) as a:
        serial = _poll(a, SERIAL)
        http = FastAPI()
        http.include_router(build_router(a))
        with serve(http) as served:
            yield a, served, serial


@pytest.mark.parametrize("which", ["series", "reviews"])
def test_etag_and_last_modified_round_trip(
    small: tuple[App, Served, SeriesRecord], which: str
) -> None:
    a, served, serial = small
    path = f"/feeds/series/{serial.id}.xml" if which == "series" else "/feeds/reviews.xml"
    with httpx.Client(base_url=served.url) as client:
        first = client.get(path)
        assert first.status_code == 200
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert etag.startswith('W/"')
        parsedate_to_datetime(modified)  # a valid HTTP date

        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert (again.headers["etag"], again.headers["last-modified"]) == (etag, modified)
        assert client.get(path, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
        earlier = format_datetime(parsedate_to_datetime(modified) - timedelta(seconds=1), True)
        if which == "series":  # an empty reviews feed has no time before "never"
            assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200
        # If-None-Match decides when both are given (RFC 9110 13.2.2).
        both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
        assert client.get(path, headers=both).status_code == 200

        # A review linked to an episode changes both feeds.
        episode = episode_records(a.storage, serial.id)[0]
        review = _review(a, 9, "A review of the latest Serial.", url="https://r.example/9")
        a.storage.add_link(review, serial.id, episode.id, Relation.REVIEWS, a.clock())
        changed = client.get(path, headers={"If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.headers["etag"] != etag
        assert b"https://r.example/9" in changed.content
        new_etag = changed.headers["etag"]
        assert client.get(path, headers={"If-None-Match": new_etag}).status_code == 304

        # A rejection takes it out again: another version.
        link = a.storage.list_links(review_id=review)[0]
        a.storage.set_link_status(link.id, LinkStatus.REJECTED, a.clock())
        after = client.get(path, headers={"If-None-Match": new_etag})
        assert after.status_code == 200
        assert b"https://r.example/9" not in after.content


def test_deleting_a_review_changes_the_etag(small: tuple[App, Served, SeriesRecord]) -> None:
    a, served, serial = small
    episode = episode_records(a.storage, serial.id)[0]
    review = _review(a, 8, "Serial again.", url="https://r.example/8")
    a.storage.add_link(review, serial.id, episode.id, Relation.REVIEWS, a.clock())
    path = f"{served.url}/feeds/series/{serial.id}.xml"
    etag = httpx.get(path).headers["etag"]
    a.storage.delete_review(review)
    response = httpx.get(path, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert b"https://r.example/8" not in response.content


# --- access ------------------------------------------------------------------------


def test_private_reads_need_the_token(small: tuple[App, Served, SeriesRecord]) -> None:
    a, _, serial = small
    http = HttpSettings(public_reads=False, token="s3cret")
    with make_app(replace(a.settings, http=http)) as private:
        app = FastAPI()
        app.include_router(build_router(private))
        with serve(app) as served:
            url = f"{served.url}/feeds/series/{serial.id}.xml"
            refused = httpx.get(url)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Basic")
            assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
            ok = httpx.get(url, headers={"Authorization": "Bearer s3cret"})
            assert ok.status_code == 200
            assert ok.headers["cache-control"].startswith("private")
            basic = base64.b64encode(b"reader:s3cret").decode()
            assert httpx.get(url, headers={"Authorization": f"Basic {basic}"}).status_code == 200


# --- newsboat ----------------------------------------------------------------------


def test_newsboat_subscribes_and_lists_the_items(world: World, tmp_path: Path) -> None:
    newsboat = shutil.which("newsboat")
    assert newsboat, "newsboat is not installed (apt-get install newsboat)"
    serial = world.series[SERIAL.stem]
    series_url = f"{world.server.url}/feeds/series/{serial.id}.xml"
    reviews_url = f"{world.server.url}/feeds/reviews.xml"
    (tmp_path / "urls").write_text(f"{series_url}\n{reviews_url}\n", encoding="utf-8")
    (tmp_path / "config").write_text("", encoding="utf-8")
    cache = tmp_path / "cache.db"
    command = [
        newsboat,
        "-u",
        str(tmp_path / "urls"),
        "-c",
        str(cache),
        "-C",
        str(tmp_path / "config"),
        "-x",
        "reload",
        "print-unread",
    ]
    # HOME and XDG dirs point into tmp so newsboat writes nothing outside it.
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
    }

    def reload() -> str:
        run = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=30, check=False
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    source_items = len(pp(SERIAL.as_uri(), SERIAL.read_bytes())["episodes"])
    assert reload() == f"{source_items + 3} unread articles"
    with sqlite3.connect(cache) as db:
        rows = db.execute("SELECT feedurl, guid, enclosure_url FROM rss_item").fetchall()
        titles = db.execute("SELECT title FROM rss_feed ORDER BY title").fetchall()
    assert titles == [("Reviews",), ("Serial",)]
    series_rows = {guid: enclosure for url, guid, enclosure in rows if url == series_url}
    assert world.reviewed.enclosure is not None
    assert series_rows[world.reviewed.guid] == world.reviewed.enclosure.url
    assert len(series_rows) == source_items
    review_rows = {guid: enclosure for url, guid, enclosure in rows if url == reviews_url}
    assert review_rows["https://www.critic.example/serial-alibi"] == world.reviewed.enclosure.url

    # newsboat 2.21 keeps the validators of a newly subscribed feed only from its
    # second download on (its first UPDATE precedes the feed's row); the third
    # reload sends them back and gets our 304, and still lists every item.
    assert reload() == f"{source_items + 3} unread articles"
    del world.requests[:]
    assert reload() == f"{source_items + 3} unread articles"
    path = f"/feeds/series/{serial.id}.xml"
    etag = get(world, path).headers["etag"]
    assert (path, etag, 304) in world.requests
    assert ("/feeds/reviews.xml", None, 200) not in world.requests
