"""Hostile text end to end: feeds, reviews and payloads written to break us.

Next to the narrower property tests elsewhere (arbitrary bytes and mutated feeds in
``test_parse.py``, arbitrary text to the linker in ``test_linking_linker.py``, to
review intake in ``test_extract.py``, fixed script payloads in ``test_web_xss.py`` and
``test_syndicate_http.py``), this module follows hostile input all the way:

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
import itertools
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator.exceptions import ParseError
from aggregator.parse import parse_feed
from aggregator.storage import Storage
from aggregator.types import FeedKind, ParsedFeed
from tests.fakes import T0, ok_update

URL = "https://hostile.example/feed.xml"

# Characters no database text column or XML document can carry (PostgreSQL refuses
# NUL; XML 1.0 every C0 control but tab and line breaks; UTF-8 no lone surrogate).
UNSTORABLE = {chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))}
UNSTORABLE |= {chr(c) for c in range(0xD800, 0xE000)} | {"\ufffe", "\uffff"}

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
        (series,) = [s for s in storage.list_series() if s.feed_id == feed.id]
        assert series.title == parsed.series.title
        stored = {e.guid: e for e in storage.list_episodes(series.id)}
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
    from aggregator.app import make_app
    from aggregator.settings import Settings

    path = tmp_path / "nul.xml"
    path.write_bytes(CONTROL_FEED)
    with make_app(Settings(database_url=database_url)) as app:
        feed = app.storage.add_feed(path.as_uri(), FeedKind.PODCAST, app.clock())
        report = app.poller.poll_feed(feed)
        assert not report.failed, report
        (series,) = app.storage.list_series()
        assert series.title == "Nul Show [31mred"
        assert series.author == "Author"
        (episode,) = app.storage.list_episodes(series.id)
        assert episode.guid == "guid-1"
        assert episode.title == "Episode \ufffdone"
        assert "Notes here" in episode.description_html
        assert (episode.number, episode.duration_seconds) == (None, None)
        assert episode.enclosure is not None and episode.enclosure.length is None
        assert app.storage.get_feed(feed.id).last_error is None
