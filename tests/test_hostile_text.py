"""Hostile text end to end: feeds, reviews and payloads written to break us.

Next to the narrower property tests elsewhere (arbitrary bytes and mutated feeds in
``test_parse.py``, arbitrary text to the linker in ``test_linking_linker.py``, to
review intake in ``test_extract.py``, fixed script payloads in ``test_web_xss.py`` and
``test_syndicate_routes.py``), this module follows hostile input all the way:

- feeds that are almost valid but carry hostile values (numbers past any column,
  control characters, NUL, references to no character, deep nesting) parse to a feed
  or to our ``ParseError`` only, and what parses is stored on SQLite and PostgreSQL;
- the linker, on arbitrary text and on catalog names dressed in hostile Unicode,
  never raises, keeps scores in [0, 1] and its evidence spans on the review's text;
- script payloads in every field of a feed and of a review reach no page and no
  generated feed alive (the output is parsed, not grepped);
- reviews over the size limit are refused with one clear line (CLI) or a JSON error
  (API), and nothing is stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

import httpx
import lxml.html  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.api._errors import MAX_BODY_BYTES
from aggregator.app import App, make_app
from aggregator.exceptions import ParseError
from aggregator.feeds.parse import parse_feed
from aggregator.linking import Catalog, Linker
from aggregator.reviews.extract import MAX_REVIEW_BYTES
from aggregator.settings import HttpSettings, Settings
from aggregator.storage import Storage
from aggregator.syndicate.routes import build_router as build_feeds_router
from aggregator.types import (
    FeedKind,
    HyperLink,
    LinkProposal,
    ParsedFeed,
    Relation,
    ReviewDocument,
)
from aggregator.web import build_router as build_web_router
from tests.api_support import ApiServer, running_api
from tests.cli_support import Cli
from tests.fakes import T0, ok_update
from tests.feedserver import FeedServer
from tests.http_server import serve
from tests.stored import episode_records, series_records
from tests.test_linking_linker import caliphate, connected, serial
from tests.test_web_xss import assert_inert, without_own_script

TOKEN = "hostile-text-token"

URL = "https://hostile.example/feed.xml"

# Characters no database text column or XML document can carry (PostgreSQL refuses
# NUL; XML 1.0 every C0 control but tab and line breaks; UTF-8 no lone surrogate).
UNSTORABLE = {chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))}
UNSTORABLE |= {chr(c) for c in range(0xD800, 0xE000)} | {"\ufffe", "\uffff"}

PUBLISHED = datetime(2018, 6, 1, tzinfo=UTC)
INT32 = 2**31 - 1
INT64 = 2**63 - 1


# --- parser: almost-valid feeds with hostile values -------------------------------------

HUGE_NUMBERS = ["99999999999", "2147483648", "1" + "0" * 30, "9" * 5000, "-1", "0",
                "00000000000000000000000000042", "1e9", "١٢٣", "4294967296"]  # fmt: skip
HOSTILE_DURATIONS = ["99999999999:00:00", "1:2:3:4", "9" * 5000, "59:59:59:59", "3600.5e3",
                     "1" * 11 + ":00", "00:00:0" + "9" * 20, ""]  # fmt: skip
BAD_DATES = ["Mon, 32 Dec 2024 25:61:61 +0000", "Tue, 31 Feb 2024 10:00:00 GMT",
             "Wed, 01 Jan 99999 00:00:00 +0000", "0000-00-00T00:00:00Z", "yesterday",
             "Sun, 01 Jan 0001 00:00:00 -2400", "9" * 400]  # fmt: skip
# Text for element content, already in XML syntax: references to nothing (NUL, lone
# surrogates, past U+10FFFF), raw control bytes and broken UTF-8.
HOSTILE_XML_TEXT = [b"&#0;", b"&#x0;", b"&#xD800;", b"&#xDFFF;", b"&#55296;", b"&#x110000;",
                    b"&#" + b"9" * 5000 + b";", b"&#x1F;", b"\x00", b"\x01\x02\x1b", b"\x0b\x0c",
                    b"\xff\xfe", b"\xed\xa0\x80", b"\xef\xbf\xbe", b"&bogus;", b"&amp;#0;",
                    b"\xe2\x80\xae", b"<![CDATA[\x00]]>"]  # fmt: skip


def _escaped(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")


hostile_text = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE_XML_TEXT),
        st.text(max_size=12).map(_escaped),
        st.sampled_from([b"Title", b" ", b"<b>bold</b>", b"&lt;p&gt;", b"\t\n"]),
    ),
    max_size=6,
).map(b"".join)


def nested(depth: int, tag: bytes = b"div") -> bytes:
    return (b"<" + tag + b">") * depth + b"x" + (b"</" + tag + b">") * depth


@st.composite
def hostile_feeds(draw: st.DrawFn) -> bytes:
    """An RSS 2.0 or Atom document that is nearly right, with hostile field values."""
    text = draw(hostile_text)
    number = draw(st.sampled_from(HUGE_NUMBERS)).encode()
    duration = draw(st.sampled_from(HOSTILE_DURATIONS)).encode()
    date = draw(st.sampled_from(BAD_DATES)).encode()
    depth = draw(st.sampled_from([1, 40, 400]))
    deep = nested(depth, draw(st.sampled_from([b"div", b"item", b"title", b"b"])))
    where_deep = draw(st.sampled_from(["description", "channel", "item"]))
    if draw(st.booleans()):
        items = b"".join(
            b"<item><title>" + text + b" " + str(n).encode() + b"</title>"
            b"<guid>" + draw(hostile_text) + str(n).encode() + b"</guid>"
            b"<pubDate>" + date + b"</pubDate>"
            b"<itunes:episode>" + number + b"</itunes:episode>"
            b"<itunes:season>" + number + b"</itunes:season>"
            b"<itunes:duration>" + duration + b"</itunes:duration>"
            b"<itunes:author>" + text + b"</itunes:author>"
            b'<podcast:person role="' + draw(hostile_text).replace(b'"', b"") + b'">'
            + text + b"</podcast:person>"
            b'<enclosure url="https://cdn.example/' + str(n).encode() + b'.mp3" length="'
            + number + b'" type="audio/mpeg"/>'
            b"<description>" + text + (deep if where_deep == "description" else b"")
            + b"</description>"
            + (deep if where_deep == "item" else b"")
            + b"</item>"
            for n in range(draw(st.integers(1, 3)))
        )  # fmt: skip
        return (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            b'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
            b'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
            b"<title>" + text + b"</title><ttl>" + number + b"</ttl>"
            b"<itunes:category text=\"" + text.replace(b'"', b"") + b'"/>'
            b"<description>" + draw(hostile_text) + b"</description>"
            + (deep if where_deep == "channel" else b"")
            + items
            + b"</channel></rss>"
        )  # fmt: skip
    entries = b"".join(
        b"<entry><title type=\"html\">" + text + b"</title><id>urn:e:" + str(n).encode()
        + b"</id><updated>" + date + b"</updated><author><name>" + text
        + b"</name></author><content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">"
        + (deep if where_deep != "channel" else b"") + b"</div></content>"
        b'<link rel="enclosure" href="https://cdn.example/' + str(n).encode()
        + b'.mp3" length="' + number + b'"/></entry>'
        for n in range(draw(st.integers(1, 3)))
    )  # fmt: skip
    return (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>" + text + b"</title><subtitle type=\"html\">" + draw(hostile_text)
        + b"</subtitle>" + (deep if where_deep == "channel" else b"") + entries + b"</feed>"
    )  # fmt: skip


def strings_of(value: object) -> Iterator[str]:
    """Every string inside a parsed value (dataclasses, tuples)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from strings_of(item)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from strings_of(getattr(value, f.name))


def assert_storable(feed: ParsedFeed) -> None:
    for text in itertools.chain(strings_of(feed.series), strings_of(feed.episodes)):
        assert not UNSTORABLE & set(text), repr(text)
    numbers = [feed.series.ttl_minutes]
    for e in feed.episodes:
        numbers += [e.season, e.number, e.duration_seconds]
        if e.enclosure is not None and e.enclosure.length is not None:
            assert 0 < e.enclosure.length <= INT64
    for n in numbers:
        assert n is None or 0 <= n <= INT32, n


@settings(max_examples=100, deadline=None)
@given(st.one_of(hostile_feeds(), st.binary(max_size=2000)))
@example(b'<rss version="2.0"><channel><title>t&#xD800;x</title></channel></rss>')
@example(
    b'<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
    b"<title>t</title><item><guid>g</guid><itunes:episode>" + b"9" * 5000
    + b"</itunes:episode><itunes:duration>" + b"9" * 5000 + b"</itunes:duration></item>"
    b"</channel></rss>"
)  # fmt: skip
def test_hostile_feeds_parse_to_storable_values_or_a_parse_error(content: bytes) -> None:
    try:
        feed = parse_feed(content, url=URL)
    except ParseError as error:
        assert "\n" not in str(error)
        return
    assert_storable(feed)


_feed_numbers = itertools.count()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(hostile_feeds())
def test_what_parses_is_stored(storage: Storage, content: bytes) -> None:
    with contextlib.suppress(ParseError):
        parsed = parse_feed(content, url=URL)
        feed = storage.add_feed(
            f"https://hostile.example/{next(_feed_numbers)}.xml", FeedKind.PODCAST, T0
        )
        storage.apply_poll(ok_update(feed.id, T0), parsed, T0)
        (series,) = [s for s in series_records(storage) if s.feed_id == feed.id]
        assert series.title == parsed.series.title
        stored = {e.guid: e for e in episode_records(storage, series.id)}
        assert set(stored) == {e.guid for e in parsed.episodes}
        for e in parsed.episodes:
            assert (stored[e.guid].title, stored[e.guid].number) == (e.title, e.number)


CONTROL_FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
    b"<title>Nul\x00 Show&#0; \x1b[31mred\x07</title>"
    b"<description>About\x00 it \x01\x02</description>"
    b"<itunes:author>A\x00uthor</itunes:author>"
    b"<item><title>Ep\x00isode &#xD800;one</title><guid>g\x00uid-1</guid>"
    b"<description><![CDATA[<p>Notes\x00 \x0bhere</p>]]></description>"
    b"<itunes:episode>99999999999</itunes:episode><itunes:duration>99999999999</itunes:duration>"
    b'<enclosure url="https://cdn.example/1.mp3" length="99999999999999999999999"'
    b' type="audio/mpeg"/></item>'
    b"</channel></rss>"
)


def test_a_feed_full_of_control_characters_is_polled_and_stored(
    database_url: str, tmp_path: Path
) -> None:
    """End to end through the poller on both backends: PostgreSQL refuses NUL in text,
    and numbers past its integer columns; the feed is stored all the same."""
    path = tmp_path / "nul.xml"
    path.write_bytes(CONTROL_FEED)
    with make_app(Settings(database_url=database_url)) as app:
        feed = app.storage.add_feed(path.as_uri(), FeedKind.PODCAST, app.clock())
        report = app.poller.poll_feed(feed)
        assert not report.failed, report
        (series,) = series_records(app.storage)
        assert series.title == "Nul Show [31mred"
        assert series.author == "Author"
        (episode,) = episode_records(app.storage, series.id)
        assert episode.guid == "guid-1"
        assert episode.title == "Episode \ufffdone"
        assert "Notes here" in episode.description_html
        assert (episode.number, episode.duration_seconds) == (None, None)
        assert episode.enclosure is not None and episode.enclosure.length is None
        assert app.storage.get_feed(feed.id).last_error is None


# --- the linker: arbitrary text, and catalog names in hostile Unicode -------------------

# Names the test catalog knows (tests/test_linking_linker.py), so hostile variants of
# them reach the linker's matching code rather than falling out at the first lookup.
CATALOG_NAMES = ["Caliphate", "Rukmini Callimachi", "Andy Mills", "Chapter Four: Us vs. Them",
                 "the prologue", "Serial", "Sarah Koenig", "Leakin Park", "S01 Episode 03",
                 "Adnan Syed", "Connected", "Federico Viticci", "Myke Hurley", "Relay FM",
                 "episode 4", "the fifth chapter", "#2", "season one", "The New York Times",
                 "https://serialpodcast.org/season-one/3/leakin-park",
                 "last week's episode"]  # fmt: skip
COMBINING = [chr(c) for c in range(0x0300, 0x0370)] + ["\u20dd", "\u0489", "\u1ab0"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\u180e"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069", "\u200e", "\u200f", "\u061c"]  # fmt: skip
# Characters whose case mapping or normalization changes their length: a span computed
# on a casefolded or normalized copy would no longer index the original text.
LENGTH_CHANGING = ["İ", "ß", "ẞ", "ﬁ", "ﬃ", "ŉ", "ǰ", "ΐ", "Ⅳ", "①", "㎏", "ǅ", "ﾃﾞ", "Å", "e\u0301",
                   "\U0001d4d2", "🏳️‍🌈", "👨‍👩‍👧", "\ufdfa", "ᾲ"]  # fmt: skip


@st.composite
def dressed_name(draw: st.DrawFn) -> str:
    """A catalog name with hostile characters worked into it."""
    name = list(draw(st.sampled_from(CATALOG_NAMES)))
    noise = st.sampled_from(COMBINING + INVISIBLE + BIDI + LENGTH_CHANGING)
    for _ in range(draw(st.integers(0, 6))):
        name.insert(draw(st.integers(0, len(name))), draw(noise))
    text = "".join(name)
    match draw(st.sampled_from(["as is", "upper", "fullwidth", "rtl", "long word", "repeat"])):
        case "upper":
            text = text.upper()
        case "fullwidth":
            text = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
        case "rtl":
            text = "\u202e" + text + "\u202c"
        case "long word":
            text = text + draw(st.sampled_from(["x", "a\u0301", "Ⅸ", "\u200d", "9"])) * 5000
        case "repeat":
            text = " ".join([text] * 200)
    return text


review_texts = st.one_of(
    st.text(max_size=400),
    st.lists(
        st.one_of(
            dressed_name(), st.sampled_from([" ", ". ", "\n\n", ", ", " and "]), st.text(max_size=6)
        ),
        max_size=25,
    ).map("".join),
)


@pytest.fixture(scope="module")
def linker() -> Linker:
    return Linker(Catalog.build([caliphate(), serial(), connected()]))


def assert_sound(text: str, proposals: list[LinkProposal]) -> None:
    for proposal in proposals:
        assert 0.0 <= proposal.score <= 1.0, proposal
        assert proposal.evidence, proposal
        for e in proposal.evidence:
            if e.start == -1:
                continue  # a signal outside the text (a link, the title)
            assert 0 <= e.start <= e.end <= len(text), e
            assert text[e.start : e.end] == e.text, e


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=review_texts,
    title=st.none() | st.text(max_size=80) | dressed_name(),
    hrefs=st.lists(
        st.sampled_from(
            [
                "https://serialpodcast.org/season-one/3/leakin-park",
                "javascript:x",
                "https://[::1",
                "http://\u202eevil",
                "",
                "https://www.relay.fm/connected/2",
            ]
        ),
        max_size=3,
    ),
)
def test_the_linker_survives_hostile_text(
    linker: Linker, text: str, title: str | None, hrefs: list[str]
) -> None:
    links = tuple(HyperLink(href, "link") for href in hrefs)
    review = ReviewDocument(text=text, title=title, links=links, published=PUBLISHED)
    assert_sound(text, linker.link(review))


@pytest.mark.parametrize("character", ["a", "\u0301", "\u200d", "\u202e"])
def test_a_megabyte_of_one_character(linker: Linker, character: str) -> None:
    text = character * 1_000_000
    assert_sound(text, linker.link(ReviewDocument(text=text, published=PUBLISHED)))


def test_hostile_names_still_link_and_their_evidence_points_into_the_text(
    linker: Linker,
) -> None:
    # Controls: the hostile characters must not stop the linker from seeing the show.
    text = (
        "\u202eCaliphate\u202c, the \u200dNew York Times podcast by Rukmini Calli\u0301machi, "
        "is the most gripping thing I have heard this year; ﬁnally a show worth the hype. "
        "İ listened to Chapter Four twice."
    )
    proposals = linker.link(ReviewDocument(text=text, published=PUBLISHED))
    assert_sound(text, proposals)
    assert {p.series_id for p in proposals} == {1}


def test_a_long_run_of_digits(linker: Linker) -> None:
    text = "Caliphate episode " + "9" * 5000
    assert_sound(text, linker.link(ReviewDocument(text=text, published=PUBLISHED)))


# --- XSS: payloads in every field, pages and generated feeds parsed --------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "'><svg/onload=alert(3)>",
    "javascript:alert(4)",
    "java\tscript:alert(6)",
    "&#106;avascript:alert(7)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==",
    "</title></textarea></style><script>alert(10)</script>",
    "]]><script>alert(11)</script><![CDATA[",
    '<a href="javascript:alert(12)">click</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(15)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(16)>">',
    '<img src="x" style="background:url(javascript:alert(17))">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(19)">',
    '<base href="javascript:alert(20)//">',
    "<svg><a xlink:href=javascript:alert(23)><text>x</text></a></svg>",
    '<div onmouseover="alert(24)" onclick=alert(25)>hover</div>',
    "<scr<script>ipt>alert(27)</scr</script>ipt>",
    '<a href="https://ok.example/" onfocus=alert(28) autofocus>fine</a>',
    "{{7*7}} ${7*7} {% raw %}",
    "\u202e<script>alert(29)</script>\u202c",
]

HTTP_SCHEMES = {"http", "https", "mailto"}
# HTML attributes a browser follows or loads as a URL.
HTML_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "data",
                       "xlink:href", "background", "lowsrc", "dynsrc", "codebase", "cite",
                       "longdesc", "manifest", "icon", "ping", "usemap"}  # fmt: skip
LIVE_ELEMENTS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base",
                 "svg", "math", "style", "noscript", "template", "portal", "xml"}  # fmt: skip
# RSS/namespaced attributes and elements that readers follow as URLs.
FEED_URL_ATTRIBUTES = {"url", "href", "img", "src", "feedUrl", "review"}
FEED_URL_ELEMENTS = {"link", "url", "comments", "docs", "new-feed-url"}
_SCHEME = re.compile(r"^([^:/?#]*):")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see (it drops controls and spaces first)."""
    match = _SCHEME.match(_IGNORED_IN_URLS.sub("", value))
    return match.group(1).lower() if match else None


def assert_inert_tree(root: lxml.html.HtmlElement, where: str, *, own_page: bool) -> None:
    """No element, attribute or URL in an HTML tree that a browser would run."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        tag = element.tag.rsplit("}", 1)[-1].lower()
        assert tag not in LIVE_ELEMENTS, (where, tag)
        if tag == "meta":
            assert element.get("http-equiv") is None, (where, lxml.html.tostring(element))
        for name, value in element.attrib.items():
            name = name.lower()
            assert not name.startswith("on"), (where, tag, name, value)
            assert name not in ("style", "srcdoc", "formaction"), (where, tag, name, value)
            if name in HTML_URL_ATTRIBUTES:
                scheme = url_scheme(value)
                assert scheme is None or scheme in HTTP_SCHEMES, (where, tag, name, value)
                if own_page and tag in ("form", "link"):  # ours: same-site paths only
                    assert value.startswith("/") and not value.startswith("//"), (where, value)


def assert_inert_page(html: str, where: str) -> lxml.html.HtmlElement:
    root = lxml.html.document_fromstring(without_own_script(html))
    assert_inert_tree(root, where, own_page=True)
    assert_inert(html)  # and again with the stdlib's parser (tests/test_web_xss.py)
    return root


def assert_inert_html_fragment(html: str, where: str) -> None:
    if html.strip():
        assert_inert_tree(lxml.html.fragment_fromstring(html, "div"), where, own_page=False)


def assert_inert_feed(document: bytes, where: str) -> etree._Element:
    root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        assert name not in LIVE_ELEMENTS, (where, name)
        for attribute, value in element.attrib.items():
            local = etree.QName(attribute).localname
            assert not local.lower().startswith("on"), (where, name, local)
            if local in FEED_URL_ATTRIBUTES:
                assert url_scheme(value) in HTTP_SCHEMES, (where, name, local, value)
        if name in FEED_URL_ELEMENTS and element.text and element.getparent() is not None:
            assert url_scheme(element.text) in HTTP_SCHEMES, (where, name, element.text)
        if element.tag == "guid" and element.get("isPermaLink", "true") == "true":
            assert url_scheme(element.text or "") in HTTP_SCHEMES, (where, element.text)
        if name in ("description", "encoded", "summary"):  # HTML to readers
            assert_inert_html_fragment(element.text or "", f"{where} {name}")
    return root


def hostile_feed(payload: str, n: int) -> str:
    text, attribute = escape(payload), quoteattr(payload)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel>
  <title>Show {n} {text}</title>
  <link>{text}</link>
  <description>&lt;p&gt;About show {n}&lt;/p&gt;{text}</description>
  <language>{text}</language>
  <itunes:author>{text}</itunes:author>
  <itunes:summary>{text}</itunes:summary>
  <itunes:owner><itunes:name>{text}</itunes:name><itunes:email>{text}</itunes:email></itunes:owner>
  <itunes:image href={attribute}/>
  <image><url>{text}</url><title>{text}</title><link>{text}</link></image>
  <itunes:category text={attribute}/>
  <podcast:guid>{text}</podcast:guid>
  <podcast:person role={attribute} group={attribute} href={attribute} img={attribute}>Host {n} {text}</podcast:person>
  <item>
    <title>Episode {n} {text}</title>
    <link>{text}</link>
    <guid isPermaLink="true">{text}</guid>
    <pubDate>Mon, 01 Jan 2024 10:00:00 +0000</pubDate>
    <description>{text}</description>
    <content:encoded>&lt;p&gt;Notes of episode {n}&lt;/p&gt;{text}</content:encoded>
    <itunes:author>{text}</itunes:author>
    <itunes:image href={attribute}/>
    <enclosure url={attribute} type={attribute} length="1"/>
    <podcast:transcript url={attribute} type="text/html"/>
    <podcast:chapters url={attribute} type="application/json+chapters"/>
    <podcast:person role="guest" href={attribute} img={attribute}>Guest {n} {text}</podcast:person>
  </item>
</channel>
</rss>
"""  # noqa: E501


@dataclass(frozen=True)
class HostileSite:
    url: str
    app: App
    pages: tuple[str, ...]
    review_titles: dict[int, str]  # review id -> the payload that is its title
    series_ids: tuple[int, ...]


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileSite]:
    tmp = tmp_path_factory.mktemp("hostile")
    settings = Settings(database_url=f"sqlite:///{tmp / 'x.db'}", http=HttpSettings(token=TOKEN))
    with make_app(settings) as app, FeedServer() as feeds:
        pages, titles, series_ids = ["/"], {}, []
        for n, payload in enumerate(PAYLOADS):
            feeds.serve(f"/feed{n}.xml", hostile_feed(payload, n).encode())
            feed = app.storage.add_feed(feeds.url(f"/feed{n}.xml"), FeedKind.PODCAST, app.clock())
            report = app.poller.poll_feed(feed)
            assert not report.failed, report
            (series,) = [s for s in series_records(app.storage) if s.feed_id == feed.id]
            (episode,) = episode_records(app.storage, series.id)
            plain = app.reviews.add(
                f"A review of show {n}.\n\n{payload} is what it says, and {payload} again."
                .encode(),
                source="file",
                title=payload,
                author=payload,
                url=payload,
            ).review  # fmt: skip
            page = (
                # The payload as markup (after the main text: some swallow the rest).
                f"<html><head><title>{payload}</title></head><body><article>"
                f"<p>Show {n} is reviewed here at some length, so that the extractor keeps "
                f"this paragraph as the main text, and more words about it.</p>"
                f'<h2>{payload}</h2><p><a href="{payload}">a link</a> <img src="{payload}"> '
                f"{payload}</p></article></body></html>"
            )
            html = app.reviews.add(
                page.encode(),
                source="file",
                content_type="text/html",
                author=payload,
                url=f"{payload}#html",
            ).review
            titles[plain.id] = payload
            for review in (plain, html):
                app.storage.add_link(review.id, series.id, None, Relation.REVIEWS, app.clock())
                app.storage.add_link(
                    review.id, series.id, episode.id, Relation.MENTIONS, app.clock()
                )
                pages.append(f"/reviews/{review.id}")
            pages += [f"/series/{series.id}", f"/episodes/{episode.id}"]
            pages += [f"/feeds/series/{series.id}", f"/feeds/reviews?series={series.id}"]
            if n < 4:  # the pages that show a query parameter
                pages.append(f"/login?{urlencode({'next': payload})}")
                pages.append(f"/search?{urlencode({'q': payload + ' show'})}")
                pages.append(f"/reviews?{urlencode({'author': payload})}")
            series_ids.append(series.id)
        # The lists show every hostile title, author and address at once.
        pages += ["/series", "/episodes", "/reviews", "/authors", "/feeds", "/feeds/reviews"]
        pages += ["/search?q=show", "/search?q=show&kind=reviews"]
        http = FastAPI()
        http.include_router(build_web_router(app))
        http.include_router(build_feeds_router(app))
        with serve(http) as served:
            yield HostileSite(served.url, app, tuple(pages), titles, tuple(series_ids))


@pytest.mark.parametrize("logged_in", [False, True])
def test_no_page_carries_a_live_payload(hostile_site: HostileSite, logged_in: bool) -> None:
    with httpx.Client(base_url=hostile_site.url, timeout=30) as client:
        if logged_in:  # the forms show titles in <option>s too
            answer = client.post(
                "/login", data={"token": TOKEN}, headers={"Origin": hostile_site.url}
            )
            assert answer.status_code in (200, 303), answer.text
            assert client.cookies
        for path in hostile_site.pages:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert_inert_page(response.text, path)


def test_payloads_are_shown_as_text(hostile_site: HostileSite) -> None:
    """The payloads did reach the pages, as characters: inert, not dropped."""
    storage = hostile_site.app.storage
    with httpx.Client(base_url=hostile_site.url, timeout=30) as client:
        for review_id, payload in hostile_site.review_titles.items():
            page = assert_inert_page(client.get(f"/reviews/{review_id}").text, "review")
            assert " ".join(payload.split()) in " ".join(page.text_content().split())
        for series_id in hostile_site.series_ids:
            series = storage.series_row(series_id).series
            page = assert_inert_page(client.get(f"/series/{series_id}").text, "series")
            assert series.title in page.text_content()
            (episode,) = episode_records(storage, series_id)
            page = assert_inert_page(client.get(f"/episodes/{episode.id}").text, "episode")
            assert episode.title in page.text_content()


def test_no_generated_feed_carries_a_live_payload(hostile_site: HostileSite) -> None:
    storage = hostile_site.app.storage
    with httpx.Client(base_url=hostile_site.url, timeout=30) as client:
        for series_id in hostile_site.series_ids:
            path = f"/feeds/series/{series_id}.xml"
            response = client.get(path)
            assert response.status_code == 200, path
            root = assert_inert_feed(response.content, path)
            # The hostile title arrives whole, as text of the title element.
            assert root.findtext("channel/title") == storage.series_row(series_id).series.title
            assert root.findall("channel/item/description")  # reviews went in
            reviews = client.get("/feeds/reviews.xml", params={"series": series_id})
            assert reviews.status_code == 200
            assert_inert_feed(reviews.content, f"reviews of {series_id}")
        everything = client.get("/feeds/reviews.xml")
        root = assert_inert_feed(everything.content, "/feeds/reviews.xml")
        titles = " ".join(t.text or "" for t in root.iter("title"))
        for payload in hostile_site.review_titles.values():
            assert payload.strip() in titles


def test_the_checkers_find_live_payloads() -> None:
    for live in [
        '<p><img src=x onerror="alert(1)"></p>',
        '<a href=" JaVa&#x09;ScRiPt:alert(1)">x</a>',
        "<svg><script>alert(1)</script></svg>",
        '<p style="background:url(javascript:alert(1))">x</p>',
        '<form action="https://evil.example/"><input></form>',
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    ]:
        with pytest.raises(AssertionError):
            assert_inert_page(f"<html><body>{live}</body></html>", "test")
    feed = (
        b'<rss version="2.0"><channel><title>x</title><item>'
        b'<enclosure url="javascript:alert(1)" type="audio/mpeg" length="0"/>'
        b"</item></channel></rss>"
    )
    with pytest.raises(AssertionError):
        assert_inert_feed(feed, "test")
    feed = (
        b'<rss version="2.0"><channel><title>x</title><item><description>'
        b"&lt;img src=x onerror=alert(1)&gt;</description></item></channel></rss>"
    )
    with pytest.raises(AssertionError):
        assert_inert_feed(feed, "test")
    assert_inert_page(
        '<html><body><a href="https://example.com/" title="&lt;script&gt;">ok</a>'
        '<form method="post" action="/login"></form></body></html>',
        "test",
    )


# --- oversized reviews ----------------------------------------------------------------

LINE = b"A review that goes on and on about one episode, far longer than any review.\n"
OVERSIZED = LINE * (MAX_REVIEW_BYTES // len(LINE) + 1)
TOO_LARGE = "review is too large"


def _serve_oversized_pages(server: FeedServer) -> None:
    """A review page over the limit as sent, and one that is only over it unzipped."""
    page = b"<html><body><p>" + OVERSIZED + b"</p></body></html>"
    server.serve("/big.html", page, content_type="text/html")
    server.serve(
        "/bomb.html",
        gzip.compress(page.replace(OVERSIZED, OVERSIZED * 4)),
        content_type="text/html",
        headers={"Content-Encoding": "gzip"},
    )


def assert_refused(cli: Cli, result: tuple[int, str, str], *, where: str) -> None:
    code, _, err = result
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert err.strip().startswith(f"error: {where}") or where in err, err
    assert "Traceback" not in err
    assert cli.json("reviews", "list") == []


class _EndlessStdin(io.RawIOBase):
    """A pipe that never ends; fails the test if more than the limit + 1 MiB is read."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.read_bytes += len(buffer)
        assert self.read_bytes <= MAX_REVIEW_BYTES + (1 << 20), "stdin read without a bound"
        buffer[:] = b"x" * len(buffer)
        return len(buffer)


def test_the_cli_refuses_oversized_files_and_stdin(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(OVERSIZED)
    result = cli("reviews", "add", str(big))
    assert_refused(cli, result, where=str(big))
    assert TOO_LARGE in result[2] and f"{MAX_REVIEW_BYTES:,}" in result[2]
    # A sparse 4 GiB file: refused without reading it (it would not fit in memory).
    sparse = tmp_path / "sparse.txt"
    with sparse.open("wb") as file:
        file.truncate(4 << 30)
    result = cli("reviews", "add", str(sparse))
    assert_refused(cli, result, where=str(sparse))
    assert TOO_LARGE in result[2]

    result = cli("reviews", "add", "-", stdin=OVERSIZED)
    assert_refused(cli, result, where="stdin")
    assert TOO_LARGE in result[2]
    endless = _EndlessStdin()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(endless)))
    result = cli("reviews", "add", "-")
    assert_refused(cli, result, where="stdin")
    assert TOO_LARGE in result[2]
    assert endless.read_bytes > MAX_REVIEW_BYTES


def test_the_cli_refuses_an_oversized_page(cli: Cli) -> None:
    with FeedServer() as server:
        _serve_oversized_pages(server)
        for path in ("/big.html", "/bomb.html"):
            result = cli("reviews", "add", server.url(path))
            assert_refused(cli, result, where=server.url(path))
            assert "limit" in result[2]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    database = tmp_path_factory.mktemp("api") / "api.db"
    with running_api(f"sqlite:///{database}", allowed_networks=("127.0.0.0/8",)) as server:
        yield server


def assert_413(api: ApiServer, response: httpx.Response) -> str:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert isinstance(message, str) and "\n" not in message
    assert api.get("/api/reviews").json()["items"] == []
    return message


@pytest.mark.parametrize(
    "text",
    [
        OVERSIZED.decode(),  # more characters than the limit
        "é" * (MAX_REVIEW_BYTES // 2 + 1),  # fewer characters, but more bytes of UTF-8
    ],
    ids=["ascii", "two-byte"],
)
@pytest.mark.parametrize("format", [None, "html"])
def test_the_api_refuses_an_oversized_review_with_a_413(
    api: ApiServer, text: str, format: str | None
) -> None:
    body = {"text": text, **({"format": format} if format else {})}
    message = assert_413(api, api.write("POST", "/api/reviews", json=body))
    assert TOO_LARGE in message and f"{MAX_REVIEW_BYTES:,}" in message


def test_the_api_refuses_an_oversized_body_and_page_with_a_413(api: ApiServer) -> None:
    body = b'{"text": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    message = assert_413(
        api,
        api.write("POST", "/api/reviews", content=body,
                  headers={"content-type": "application/json"}),
    )  # fmt: skip
    assert f"{MAX_BODY_BYTES}" in message
    with FeedServer() as server:
        _serve_oversized_pages(server)
        for path in ("/big.html", "/bomb.html"):
            response = api.write("POST", "/api/reviews", json={"url": server.url(path)})
            message = assert_413(api, response)
            assert (
                server.url(path) in message
                and TOO_LARGE.replace("review", "review page") in message
            )
