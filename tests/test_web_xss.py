"""Script payloads in feed titles, show notes and review texts never reach a page live.

A hostile feed and hostile reviews go through the real pipeline (poll, review intake,
a link added by hand so the review shows the hostile series), then every page that
shows them is parsed: no script element, no event-handler attribute, no
``javascript:`` URL anywhere -- while the payload text itself is still visible,
escaped, where it was a title.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from aggregator.app import make_app
from aggregator.settings import HttpSettings, Settings
from aggregator.types import FeedKind, Relation
from aggregator.web import build_router
from tests.stored import episode_records, series_records
from tests.test_web import TOKEN, Page, serve

EVIL_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>&lt;script&gt;alert("series")&lt;/script&gt;Evil Show</title>
  <link>javascript:alert('series link')</link>
  <description><![CDATA[<p>About <script>alert('desc')</script><img src="x"
    onerror="alert('img')"><a href="javascript:alert('a')">click</a></p>]]></description>
  <itunes:author>&lt;b onmouseover=alert(1)&gt;Mallory&lt;/b&gt;</itunes:author>
  <itunes:image href="https://evil.example/art.png&quot; onerror=&quot;alert('art')"/>
  <item>
    <title>&lt;img src=x onerror=alert("episode")&gt; Pilot</title>
    <content:encoded><![CDATA[<p>Show notes <script>alert('notes')</script>
      <img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a>
      <iframe src="https://evil.example/"></iframe><svg onload=alert(4)></svg>
      <a href="https://example.com/ok" onclick="alert(5)">fine link</a></p>]]></content:encoded>
    <link>javascript:alert('episode link')</link>
    <guid>evil-1</guid>
    <pubDate>Mon, 01 Jan 2024 10:00:00 +0000</pubDate>
    <enclosure url="javascript:alert('audio')" type="audio/mpeg" length="1"/>
    <itunes:image href="javascript:alert('episode art')"/>
  </item>
  <item>
    <title>Evil Show &lt;script&gt;alert("second")&lt;/script&gt; Two</title>
    <guid>evil-2</guid>
    <pubDate>Mon, 08 Jan 2024 10:00:00 +0000</pubDate>
    <enclosure url="https://evil.example/2.mp3&quot; onerror=&quot;alert('audio 2')"
      type="audio/mpeg&quot; onplay=&quot;alert(12)" length="1"/>
  </item>
</channel>
</rss>
"""

EVIL_TEXT = """A review of Evil Show.

<script>alert("review")</script> and <img src=x onerror=alert(6)> and
<a href="javascript:alert(7)">a link</a> and </div><script>alert(8)</script>.
"""

EVIL_HTML = """<html><head><title>x</title></head><body><article>
<h1>Evil Show, reviewed</h1>
<p>The pilot of Evil Show <script>alert('html review')</script> was long enough to
say something about it, and we did <a href="javascript:alert(9)">here</a>.</p>
<p><img src=x onerror=alert(10)>Another paragraph that talks about Evil Show at some
length so that the extractor keeps it as main text rather than boilerplate.</p>
</article></body></html>
"""

_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "data"}
_DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "base", "frame"}
_CONTROL = re.compile(r"[\x00-\x20]")
# The one script a page may load: our copy buttons', from our own static files.
_OWN_SCRIPT = re.compile(r'<script src="/static/copy\.js\?v=[0-9a-f]{12}" defer></script>')


@dataclass(frozen=True)
class EvilSite:
    base_url: str
    paths: tuple[str, ...]


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvilSite]:
    tmp = tmp_path_factory.mktemp("xss")
    feed_file = tmp / "evil.xml"
    feed_file.write_text(EVIL_FEED, encoding="utf-8")
    settings = Settings(database_url=f"sqlite:///{tmp / 'xss.db'}", http=HttpSettings(token=TOKEN))
    with make_app(settings) as app:
        feed = app.storage.add_feed(feed_file.as_uri(), FeedKind.PODCAST, app.clock())
        assert not app.poller.poll_feed(feed).failed
        (series,) = series_records(app.storage)
        episode, second = sorted(episode_records(app.storage, series.id), key=lambda e: e.id)
        plain = app.reviews.add(
            EVIL_TEXT.encode(),
            source="file",
            filename="evil.txt",
            title='<script>alert("title")</script>',
            author="<img src=x onerror=alert(11)>",
            url="javascript:alert('review url')",
            published=datetime(2024, 1, 2, tzinfo=UTC),
        ).review
        html = app.reviews.add(
            EVIL_HTML.encode(), source="file", filename="evil.html", content_type="text/html"
        ).review
        for review in (plain, html):
            app.storage.add_link(review.id, series.id, None, Relation.REVIEWS, app.clock())
            app.storage.add_link(review.id, series.id, episode.id, Relation.MENTIONS, app.clock())
        http_app = FastAPI()
        http_app.include_router(build_router(app))
        paths = (
            "/",
            f"/series/{series.id}",
            f"/episodes/{episode.id}",
            f"/reviews/{plain.id}",
            f"/reviews/{html.id}",
            # The lists, search and the pages beside the feeds show the same titles,
            # authors, artwork and audio.
            f"/episodes/{second.id}",
            "/series",
            "/episodes",
            "/episodes?reviewed=no",
            "/reviews",
            "/reviews?" + urlencode({"author": "<img src=x onerror=alert(11)>"}),
            "/authors",
            "/search?q=evil",
            "/search?q=evil&kind=reviews",
            "/search?" + urlencode({"q": '"><script>alert(13)</script>'}),
            "/feeds",
            f"/feeds/series/{series.id}",
            "/feeds/reviews",
            f"/feeds/reviews?series={series.id}",
        )
        with serve(http_app) as base_url:
            yield EvilSite(base_url, paths)


def without_own_script(html: str) -> str:
    """The page without the one script element it may have (ours, by exact shape)."""
    return _OWN_SCRIPT.sub("", html, count=1)


def assert_inert(html: str) -> Page:
    page = Page(without_own_script(html))
    for tag, attributes in page.tags:
        assert tag not in _DANGEROUS_TAGS, tag
        for name, value in attributes.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in _URL_ATTRIBUTES and value:
                assert (
                    not _CONTROL.sub("", value)
                    .lower()
                    .startswith(("javascript:", "vbscript:", "data:text"))
                ), (tag, name, value)
    return page


@pytest.mark.parametrize("logged_in", [False, True])
def test_no_page_carries_a_live_payload(evil: EvilSite, logged_in: bool) -> None:
    with httpx.Client(base_url=evil.base_url, timeout=10) as client:
        if logged_in:  # the forms show titles in <option>s too
            client.post("/login", data={"token": TOKEN}, headers={"Origin": evil.base_url})
        for path in evil.paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert_inert(response.text)


def get_page(evil: EvilSite, path: str) -> Page:
    response = httpx.get(evil.base_url + path, timeout=10)
    assert response.status_code == 200, path
    return assert_inert(response.text)


def test_hostile_titles_are_shown_as_text(evil: EvilSite) -> None:
    home = get_page(evil, "/").text
    assert '<script>alert("title")</script>' in home  # the review's title, as text
    series = get_page(evil, evil.paths[1]).text
    assert 'alert("series")' in series and "Evil Show" in series
    episode = get_page(evil, evil.paths[2]).text
    assert 'onerror=alert("episode")' in episode and "Pilot" in episode


def test_show_notes_keep_their_text_and_safe_links_only(evil: EvilSite) -> None:
    page = get_page(evil, evil.paths[2])
    assert "Show notes" in page.text and "fine link" in page.text
    assert "https://example.com/ok" in page.hrefs()
    assert "alert('notes')" not in page.text  # a script's body is not notes
    series = get_page(evil, evil.paths[1])
    assert "About" in series.text and "click" in series.text


def test_review_texts_are_escaped_verbatim(evil: EvilSite) -> None:
    plain = get_page(evil, evil.paths[3])
    # The plain-text review is shown as written, markup and all, as text.
    assert '<script>alert("review")</script>' in plain.text
    assert "</div><script>alert(8)</script>" in plain.text
    assert "<img src=x onerror=alert(11)>" in plain.text  # the author
    html = get_page(evil, evil.paths[4])
    assert "was long enough" in html.text
    assert "alert('html review')" not in html.text


def test_the_checker_finds_live_payloads() -> None:
    with pytest.raises(AssertionError):
        assert_inert('<p><img src=x onerror="alert(1)"></p>')
    with pytest.raises(AssertionError):
        assert_inert('<a href=" JaVaScRiPt:alert(1)">x</a>')
    with pytest.raises(AssertionError):
        assert_inert("<script>alert(1)</script>")
    own = '<script src="/static/copy.js?v=0123456789ab" defer></script>'
    assert_inert(own)
    with pytest.raises(AssertionError):
        assert_inert(own + own)
    with pytest.raises(AssertionError):
        assert_inert('<script src="/static/copy.js?v=0123456789ab" defer>alert(1)</script>')
    assert_inert('<a href="https://example.com/" title="&lt;script&gt;">ok</a>')
