"""parse_feed on small hand-written feeds: one behaviour of the contract per test."""

from __future__ import annotations

import contextlib
import hashlib
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.exceptions import ParseError
from aggregator.feeds.parse import parse_feed
from aggregator.types import Enclosure, ParsedEpisode, ParsedFeed, Person

URL = "https://pod.example/feeds/show.xml"
NS = (
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:podcast="https://podcastindex.org/namespace/1.0"'
)


def rss(channel: str = "", *items: str, namespaces: str = NS) -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" {namespaces}><channel>'
        f"<title>Show</title>{channel}{body}</channel></rss>"
    ).encode()


def parse(doc: bytes, headers: dict[str, str] | None = None) -> ParsedFeed:
    return parse_feed(doc, url=URL, headers=headers)


def one(*item: str, channel: str = "", namespaces: str = NS) -> ParsedEpisode:
    (episode,) = parse(rss(channel, "".join(item), namespaces=namespaces)).episodes
    return episode


# --- series ----------------------------------------------------------------------------


def test_series_fields() -> None:
    feed = parse(
        rss(
            "<link>https://pod.example/</link>"
            "<description>The &lt;b&gt;show&lt;/b&gt;</description>"
            "<itunes:subtitle>short</itunes:subtitle>"
            "<itunes:summary>long summary</itunes:summary>"
            "<language>en-GB</language><ttl>60</ttl>"
            "<itunes:author>Ann Host</itunes:author>"
            "<itunes:owner><itunes:name>Net Work</itunes:name>"
            "<itunes:email>feeds@pod.example</itunes:email></itunes:owner>"
            "<image><url>rss-image.png</url></image>"
            '<itunes:image href="https://cdn.pod.example/cover.jpg"/>'
            '<itunes:category text="Arts"><itunes:category text="Design"/></itunes:category>'
            '<itunes:category text="Society &amp; Culture"/>'
            "<itunes:type>Serial</itunes:type>"
            "<podcast:guid> 917393e3-1b1e-5cef-ace4-edaa54e1f810 </podcast:guid>"
            '<podcast:person role="Host" href="https://ann.example">Ann Host</podcast:person>'
            '<podcast:person group="Writing" role="Editor">Ed Itor</podcast:person>'
            "<itunes:new-feed-url>https://new.example/feed</itunes:new-feed-url>"
        )
    )
    series = feed.series
    assert series.title == "Show"
    assert series.link == "https://pod.example/"
    # The RSS description wins over itunes:subtitle and itunes:summary.
    assert series.description_html == "The <b>show</b>"
    assert series.language == "en-GB"
    assert series.ttl_minutes == 60
    assert series.author == "Ann Host"
    assert (series.owner_name, series.owner_email) == ("Net Work", "feeds@pod.example")
    assert series.image == "https://cdn.pod.example/cover.jpg"
    assert series.categories == ("Arts", "Arts/Design", "Society & Culture")
    assert series.itunes_type == "serial"
    assert series.podcast_guid == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    assert series.persons == (
        Person("Ann Host", role="host", group="cast", href="https://ann.example"),
        Person("Ed Itor", role="editor", group="writing"),
    )
    assert series.new_feed_url == "https://new.example/feed"
    assert feed.episodes == () and feed.complete and feed.warning is None


def test_series_fallbacks() -> None:
    series = parse(
        rss(
            "<itunes:summary>from <i>summary</i></itunes:summary>"
            "<image><url>/img/cover.png</url></image>"
            "<itunes:type>weekly</itunes:type><ttl>soon</ttl>"
        )
    ).series
    assert series.description_html == "from <i>summary</i>"
    assert series.image == "https://pod.example/img/cover.png"
    assert series.itunes_type is None
    assert series.ttl_minutes is None
    assert series.categories == () and series.persons == ()


def test_redirect_new_location() -> None:
    doc = b"<rss><redirect><newLocation> https://moved.example/rss </newLocation></redirect></rss>"
    assert parse(doc).series.new_feed_url == "https://moved.example/rss"


# --- episodes --------------------------------------------------------------------------


def test_episode_fields() -> None:
    episode = one(
        "<title> Ep 1:  Start </title><link>/ep/1</link>",
        '<guid isPermaLink="false">ep-1</guid>',
        "<pubDate>Tue, 05 Mar 2019 10:00:00 +0100</pubDate>",
        '<enclosure url="https://cdn.example/1.mp3" length="1234" type="audio/mpeg"/>',
        "<itunes:duration>1:02:03</itunes:duration>",
        "<itunes:season>2</itunes:season><itunes:episode>7</itunes:episode>",
        "<itunes:episodeType>Bonus</itunes:episodeType>",
        '<itunes:image href="https://cdn.example/1.jpg"/>',
        '<podcast:transcript url="https://cdn.example/1.vtt" type="text/vtt"/>',
        '<podcast:transcript url="https://cdn.example/1.srt" type="application/srt"/>',
        '<podcast:chapters url="https://cdn.example/1.json" type="application/json+chapters"/>',
        '<podcast:person role="guest" img="https://cdn.example/g.jpg">Gu Est</podcast:person>',
        "<itunes:author>Ann Host</itunes:author><author>ann@pod.example (Ann)</author>",
    )
    assert episode.title == "Ep 1: Start"
    assert episode.link == "https://pod.example/ep/1"
    assert (episode.guid, episode.guid_is_fallback) == ("ep-1", False)
    assert episode.published == datetime(2019, 3, 5, 9, 0, tzinfo=UTC)
    assert episode.enclosure == Enclosure("https://cdn.example/1.mp3", "audio/mpeg", 1234)
    assert episode.duration_seconds == 3723
    assert (episode.season, episode.number, episode.episode_type) == (2, 7, "bonus")
    assert episode.image == "https://cdn.example/1.jpg"
    assert episode.transcript_url == "https://cdn.example/1.srt"  # the last one listed
    assert episode.chapters_url == "https://cdn.example/1.json"
    assert episode.persons == (
        Person("Gu Est", role="guest", group="cast", img="https://cdn.example/g.jpg"),
    )
    assert episode.author == "Ann Host"
    assert len(episode.item_hash or "") == 64
    assert len(episode.content_hash) == 64


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(
            "<description>the description</description>"
            "<itunes:summary>the summary</itunes:summary>",
            "the description",
            id="summary-after-description",  # feedparser alone would give the summary
        ),
        pytest.param(
            "<itunes:summary>the summary</itunes:summary>"
            "<description>the description</description>",
            "the description",
            id="summary-before-description",
        ),
        pytest.param(
            "<itunes:summary>the summary</itunes:summary>"
            "<content:encoded><![CDATA[<p>the content</p>]]></content:encoded>"
            "<description>the description</description>",
            "<p>the content</p>",
            id="content-first",
        ),
        pytest.param(
            "<description>  </description><itunes:summary>only summary</itunes:summary>",
            "only summary",
            id="summary-last",
        ),
        pytest.param(
            "<description><![CDATA[<p onclick='x()'>hi<script>bad()</script>"
            "<a href='/more'>more</a></p>]]></description>",
            '<p>hi<a href="https://pod.example/more" rel="noopener noreferrer">more</a></p>',
            id="sanitized",
        ),
    ],
)
def test_description_precedence(item: str, expected: str) -> None:
    assert one("<title>t</title><guid>g</guid>", item).description_html == expected


def test_guid_falls_back_to_link_then_single_enclosure_then_title_and_date() -> None:
    feed = parse(
        rss(
            "",
            "<title>a</title><link>https://pod.example/a</link>",
            '<title>b</title><enclosure url="https://cdn.example/b.mp3"/>'
            '<media:content url="https://cdn.example/b.mp3" type="audio/mpeg"/>',
            '<title>c</title><enclosure url="https://cdn.example/c1.mp3"/>'
            '<enclosure url="https://cdn.example/c2.mp3"/>'
            "<pubDate>Tue, 05 Mar 2019 10:00:00 GMT</pubDate>",
            "<title>d</title>",
            namespaces=f'{NS} xmlns:media="http://search.yahoo.com/mrss/"',
        )
    )
    a, b, c, d = feed.episodes
    assert (a.guid, a.guid_is_fallback) == ("https://pod.example/a", True)
    assert (b.guid, b.guid_is_fallback) == ("https://cdn.example/b.mp3", True)
    assert c.guid_is_fallback and d.guid_is_fallback
    assert c.guid.startswith("title-date:") and d.guid.startswith("title-date:")
    # Stable: the same title and date give the same guid in another parse.
    assert parse(rss("", "<title>d</title>")).episodes[0].guid == d.guid
    assert c.guid != d.guid


def test_an_item_with_nothing_to_know_it_by_is_dropped() -> None:
    feed = parse(rss("", "<description>orphan</description>", "<title>kept</title>"))
    assert [e.title for e in feed.episodes] == ["kept"]
    assert len(feed.item_hashes) == 2  # the raw items are still all accounted for


def test_a_missing_title_comes_from_the_enclosure_file_name() -> None:
    episode = one('<guid>x</guid><enclosure url="https://cdn.example/a/My%20Show-12.mp3?t=1"/>')
    assert episode.title == "My Show-12"


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Mon, 13 Jul 2020 04:00:00 -0000", datetime(2020, 7, 13, 4, tzinfo=UTC)),
        ("Mon, 13 Jul 2020 04:00:00 GMT", datetime(2020, 7, 13, 4, tzinfo=UTC)),
        ("Mon, 13 Jul 2020 04:00:00 -0700", datetime(2020, 7, 13, 11, tzinfo=UTC)),
        ("2020-07-13T04:00:00+02:00", datetime(2020, 7, 13, 2, tzinfo=UTC)),
        ("not a date", None),
    ],
)
def test_dates_are_aware_utc(pub_date: str, expected: datetime | None) -> None:
    published = one(f"<guid>g</guid><pubDate>{pub_date}</pubDate>").published
    assert published == expected
    if published is not None:
        assert published.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("length", "expected"),
    [('length="0"', None), ('length="abc"', None), ("", None), ('length=" 42 "', 42)],
)
def test_enclosure_length(length: str, expected: int | None) -> None:
    episode = one(f'<guid>g</guid><enclosure url="https://cdn.example/a.mp3" {length}/>')
    assert episode.enclosure is not None
    assert episode.enclosure.length == expected


def test_the_first_audio_or_video_enclosure_is_chosen() -> None:
    episode = one(
        '<guid>g</guid><enclosure url="https://cdn.example/cover.jpg" type="image/jpeg"/>'
        '<enclosure url="https://cdn.example/ep.m4v" type="video/mp4"/>'
        '<enclosure url="https://cdn.example/ep.mp3" type="audio/mpeg"/>'
    )
    assert episode.enclosure is not None
    assert episode.enclosure.url == "https://cdn.example/ep.m4v"
    only_image = one('<guid>g</guid><enclosure url="https://cdn.example/c.jpg" type="image/jpeg"/>')
    assert only_image.enclosure is not None
    assert only_image.enclosure.url == "https://cdn.example/c.jpg"


@pytest.mark.parametrize(
    ("season", "number", "kind", "expected"),
    [
        ("0", "-1", "preview", (None, None, None)),
        ("one", "1.5", "", (None, None, None)),
        (" 3 ", " 12 ", " TRAILER ", (3, 12, "trailer")),
    ],
)
def test_itunes_numbers_and_type(
    season: str, number: str, kind: str, expected: tuple[int | None, int | None, str | None]
) -> None:
    episode = one(
        f"<guid>g</guid><itunes:season>{season}</itunes:season>"
        f"<itunes:episode>{number}</itunes:episode><itunes:episodeType>{kind}</itunes:episodeType>"
    )
    assert (episode.season, episode.number, episode.episode_type) == expected


def test_durations_in_every_real_format() -> None:
    values = ["3127", "84:08", "1:02:03", "01:02:03.500", "", "junk"]
    feed = parse(
        rss("", *(f"<guid>{v}x</guid><itunes:duration>{v}</itunes:duration>" for v in values))
    )
    assert [e.duration_seconds for e in feed.episodes] == [3127, 5048, 3723, 3723, None, None]


# --- podcast namespace -----------------------------------------------------------------

PERSON_ITEM = (
    "<guid>g</guid>"
    '<{p}:person role="guest" group="cast" href="https://g.example">Gu Est</{p}:person>'
    '<{p}:transcript url="https://cdn.example/t.srt" type="application/srt"/>'
    '<{p}:chapters url="https://cdn.example/c.json" type="application/json"/>'
)


@pytest.mark.parametrize(
    ("prefix", "namespaces"),
    [
        pytest.param("podcast", NS, id="podcastindex-uri"),
        pytest.param(
            "podcast",
            'xmlns:podcast="https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"',
            id="github-uri",
        ),
        pytest.param("pi", 'xmlns:pi="https://podcastindex.org/namespace/1.0"', id="other-prefix"),
        pytest.param("podcast", "", id="undeclared"),
    ],
)
def test_podcast_namespace_in_every_spelling(prefix: str, namespaces: str) -> None:
    feed = parse(rss("", PERSON_ITEM.format(p=prefix), namespaces=namespaces))
    (episode,) = feed.episodes
    assert episode.persons == (Person("Gu Est", "guest", "cast", href="https://g.example"),)
    assert episode.transcript_url == "https://cdn.example/t.srt"
    assert episode.chapters_url == "https://cdn.example/c.json"
    assert (feed.warning is not None) == (namespaces == "")


def test_a_live_item_is_no_episode_and_leaves_the_channel_alone() -> None:
    live = (
        '<podcast:liveItem status="ended"><title>LIVE</title><description/>'
        "<guid>live-1</guid><itunes:summary/>"
        '<enclosure url="https://stream.example/live" type="audio/mpeg"/></podcast:liveItem>'
    )
    feed = parse(rss(f"<description>The show</description>{live}", "<guid>1</guid>"))
    assert feed.series.title == "Show"
    assert feed.series.description_html == "The show"
    assert [e.guid for e in feed.episodes] == ["1"]
    assert len(feed.item_hashes) == 1


def test_persons_without_a_name_are_skipped() -> None:
    episode = one('<guid>g</guid><podcast:person role="host"/><podcast:person> </podcast:person>')
    assert episode.persons == ()


# --- hashes ----------------------------------------------------------------------------


def test_content_hash_follows_the_content_not_the_bytes() -> None:
    base = "<guid>g</guid><title>t</title>"
    first = parse(rss("", base)).episodes[0]
    reformatted = parse(rss("", f"\n  {base.replace('<title>t', '<title> t ')}\n")).episodes[0]
    changed = parse(rss("", base.replace(">t<", ">t2<"))).episodes[0]
    assert first.content_hash == reformatted.content_hash
    assert first.item_hash != reformatted.item_hash
    assert first.content_hash != changed.content_hash
    series = parse(rss("<language>en</language>")).series
    assert series.content_hash != parse(rss("<language>de</language>")).series.content_hash


# --- encodings -------------------------------------------------------------------------


def test_the_content_type_charset_decides_the_encoding() -> None:
    doc = '<rss version="2.0"><channel><title>Caf\xe9 \u2013 Show</title></channel></rss>'
    raw = doc.encode("cp1252")
    feed = parse(raw, headers={"Content-Type": "application/rss+xml; charset=windows-1252"})
    assert feed.series.title == "Caf\xe9 \u2013 Show"
    assert feed.warning is None


def test_without_a_content_type_utf8_is_assumed_as_xml_says() -> None:
    doc = '<rss version="2.0"><channel><title>Caf\xe9</title></channel></rss>'.encode()
    feed = parse(doc, headers={"Server": "nginx", "ETag": '"x"'})
    assert feed.series.title == "Caf\xe9"


def test_utf16_documents_parse_and_split() -> None:
    doc = rss("", "<guid>\u00fcml</guid>").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    feed = parse(doc.encode("utf-16"))
    assert [e.guid for e in feed.episodes] == ["\u00fcml"]
    assert len(feed.item_hashes) == 1


# --- broken and non-feeds --------------------------------------------------------------


def test_a_broken_feed_is_recovered_with_a_warning() -> None:
    doc = rss("", "<guid>a</guid><title>Tom &amp; Jerry &nbsp;&copy;</title>", "<guid>b</guid>")
    feed = parse(doc)
    assert [e.guid for e in feed.episodes] == ["a", "b"]
    assert feed.episodes[0].title == "Tom & Jerry \xa0\xa9"
    assert feed.warning == "not well-formed XML, recovered: undefined entity at line 2"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty document"),
        (b" \n\t ", "empty document"),
        (
            b'{"version": "https://jsonfeed.org/version/1", "items": []}',
            "JSON, not an RSS or Atom feed",
        ),
        (
            b"<!DOCTYPE html>\n<html><head><title>Home</title></head><body>hi</body></html>",
            "an HTML page, not an RSS or Atom feed",
        ),
        (b"Just some text, not XML.", "not XML and not a feed"),
        (
            b'<?xml version="1.0"?><config><item>1</item></config>',
            "XML, but not an RSS or Atom feed",
        ),
        (b"\x00\xff\xfe garbage \x89PNG", "not XML and not a feed"),
    ],
)
def test_non_feeds_raise_parse_error(content: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(content)
    assert caught.value.url == URL
    assert caught.value.reason == message
    assert "\n" not in str(caught.value)


def test_unexpected_feedparser_failures_become_parse_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aggregator.feeds.parse as parse_module

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    def explode_lines(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nand more")

    monkeypatch.setattr(parse_module, "_run_feedparser", explode_lines)
    with pytest.raises(ParseError) as caught:
        parse(rss())
    assert caught.value.reason == "feedparser failed: RuntimeError: boom and more"

    monkeypatch.setattr(parse_module, "_run_feedparser", explode)
    with pytest.raises(ParseError, match="feedparser failed: RuntimeError: boom") as caught:
        parse(rss())
    assert isinstance(caught.value.__cause__, RuntimeError)


# --- hostile XML -----------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><guid>g</guid><title>&lol9;</title></item></channel></rss>
"""


def _bounded(doc: bytes) -> tuple[ParsedFeed | ParseError, int]:
    """The parse's result (or error) and its peak of memory allocated."""
    tracemalloc.start()
    try:
        result: ParsedFeed | ParseError = parse(doc)
    except ParseError as e:
        result = e
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, peak


def test_billion_laughs_does_not_expand() -> None:
    result, peak = _bounded(BILLION_LAUGHS)
    assert peak < 20_000_000  # fully expanded it would be 3 GB
    if isinstance(result, ParsedFeed):
        for text in (result.series.title, *(e.title for e in result.episodes)):
            assert len(text) < 100 and "lollol" not in text


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    for declaration in (
        f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">',
        f'<!ENTITY % pe SYSTEM "{secret.as_uri()}"> %pe;',
    ):
        doc = (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [ {declaration} ]>\n'
            "<rss version='2.0'><channel><title>t &xxe;</title>"
            "<item><guid>g</guid><description>&xxe;</description></item></channel></rss>"
        ).encode()
        result, _ = _bounded(doc)
        if isinstance(result, ParsedFeed):
            assert "TOP-SECRET" not in repr(result)


def test_deep_nesting_costs_time_in_proportion() -> None:
    # No recursion anywhere: 20,000 open elements parse (strict fails, loose
    # recovers) like any document of that many elements.
    # A recursive reader would raise RecursionError here, long before 20,000 levels.
    doc = b"<rss><channel><title>t</title>" + b"<a>" * 20_000 + b"</channel></rss>"
    feed = parse(doc)
    assert feed.series.title == "t" and feed.warning is not None


def test_offsets_are_respected_in_other_zones() -> None:
    # A feed written in a +05:30 zone still yields UTC.
    episode = one("<guid>g</guid><pubDate>Wed, 01 Jan 2020 05:30:00 +0530</pubDate>")
    tz = timezone(timedelta(hours=5, minutes=30))
    assert episode.published == datetime(2020, 1, 1, 5, 30, tzinfo=tz)
    assert episode.published is not None and episode.published.tzinfo == UTC


# --- incremental parsing ---------------------------------------------------------------

THREE_ITEMS = (
    "<guid>1</guid><title>one</title><description><![CDATA[<p>1</p>]]></description>",
    "<guid>2</guid><title>two</title><!-- </item> in a comment -->",
    '<guid>3</guid><title>three</title><enclosure url="/3.mp3" type="audio/mpeg"/>',
)
THREE = rss("<podcast:person>Ann</podcast:person>", *THREE_ITEMS)


def _with_new_item(doc: bytes) -> bytes:
    return doc.replace(b"<item>", b"<item><guid>0</guid><title>zero</title></item><item>", 1)


def test_incremental_parse_returns_only_new_items() -> None:
    before = parse(THREE)
    assert len(before.item_hashes) == 3
    doc = _with_new_item(THREE)
    partial = parse_feed(doc, url=URL, known_item_hashes=before.item_hashes)
    full = parse(doc)
    assert (partial.complete, full.complete) == (False, True)
    assert (
        partial.item_hashes == full.item_hashes == before.item_hashes | {full.episodes[0].item_hash}
    )
    assert partial.episodes == full.episodes[:1]
    assert partial.episodes[0].title == "zero"
    assert partial.series == full.series
    # Each episode's item_hash is the hash of its own raw item.
    assert [e.item_hash for e in full.episodes[1:]] == [e.item_hash for e in before.episodes]


def test_item_hashes_are_the_sha256_of_the_raw_items() -> None:
    expected = [hashlib.sha256(f"<item>{item}</item>".encode()).hexdigest() for item in THREE_ITEMS]
    assert [e.item_hash for e in parse(THREE).episodes] == expected


def test_all_items_known_gives_the_series_and_no_episodes() -> None:
    before = parse(THREE)
    again = parse_feed(THREE, url=URL, known_item_hashes=before.item_hashes)
    assert (again.complete, again.episodes) == (False, ())
    assert again.item_hashes == before.item_hashes
    assert again.series == before.series


def test_no_known_item_in_the_document_means_a_full_parse() -> None:
    feed = parse_feed(THREE, url=URL, known_item_hashes={"0" * 64})
    assert feed.complete and len(feed.episodes) == 3


def test_an_unsplittable_document_is_parsed_whole() -> None:
    nested = THREE.replace(b"<title>two</title>", b"<title>two</title><item>odd</item>")
    before = parse(THREE)
    feed = parse_feed(nested, url=URL, known_item_hashes=before.item_hashes)
    assert feed.complete
    assert feed.item_hashes == frozenset()
    assert all(e.item_hash is None for e in feed.episodes)
    assert [e.guid for e in feed.episodes if not e.guid_is_fallback] == ["1", "2", "3"]


def test_a_partial_parse_that_finds_other_items_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import aggregator.feeds.parse as parse_module

    before = parse(THREE)
    # Pretend the cut failed: feedparser then sees 4 items where 1 was expected.
    monkeypatch.setattr(parse_module, "without_spans", lambda data, spans: data)
    feed = parse_feed(_with_new_item(THREE), url=URL, known_item_hashes=before.item_hashes)
    assert feed.complete and len(feed.episodes) == 4
    assert len(feed.item_hashes) == 4


def test_item_hashes_are_left_out_when_feedparser_saw_other_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aggregator.feeds.parse as parse_module
    from aggregator.feeds._itemsplit import ItemSplit, split_items

    def one_span(data: bytes) -> ItemSplit | None:
        split = split_items(data)
        return None if split is None else ItemSplit(split.spans[:1])

    monkeypatch.setattr(parse_module, "split_items", one_span)
    feed = parse(THREE)
    assert len(feed.episodes) == 3
    assert feed.item_hashes == frozenset()
    assert all(e.item_hash is None for e in feed.episodes)


# --- items per poll (max_items) --------------------------------------------------------


def _dated(n: int, *, day: int) -> str:
    return f"<guid>{n}</guid><title>ep {n}</title><pubDate>{day:02d} Jan 2024 10:00 GMT</pubDate>"


def test_max_items_reads_only_the_newest_items_of_a_newest_first_feed() -> None:
    doc = rss("", *(_dated(n, day=31 - n) for n in range(1, 26)))  # 1 is the newest
    feed = parse_feed(doc, url=URL, max_items=10)
    assert [e.guid for e in feed.episodes] == [str(n) for n in range(1, 11)]
    assert (feed.left_out, feed.complete) == (15, False)
    assert feed.warning == "read only the newest 10 of 25 items (poll.max_items)"
    assert feed.series.title == "Show"
    # Each kept episode still carries the hash of its own raw item.
    assert len(feed.item_hashes) == 10
    assert {e.item_hash for e in feed.episodes} == feed.item_hashes


def test_max_items_reads_the_end_of_an_oldest_first_feed() -> None:
    doc = rss("", *(_dated(n, day=n) for n in range(1, 26)))  # 25 is the newest
    feed = parse_feed(doc, url=URL, max_items=10)
    assert [e.guid for e in feed.episodes] == [str(n) for n in range(16, 26)]
    assert feed.left_out == 15


def test_max_items_caps_a_document_the_splitter_refuses_while_feedparser_reads_it() -> None:
    # A prefixed item element: the byte-level split gives up, feedparser still reads it.
    items = "".join(f"<rss:item>{_dated(n, day=31 - n)}</rss:item>" for n in range(1, 26))
    doc = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:rss="http://backend.userland.com/rss2">'
        f"<channel><title>Show</title>{items}</channel></rss>"
    ).encode()
    assert len(parse(doc).episodes) == 25
    feed = parse_feed(doc, url=URL, max_items=10)
    assert [e.guid for e in feed.episodes] == [str(n) for n in range(1, 11)]
    assert (feed.left_out, feed.complete) == (15, False)
    items = "".join(f"<rss:item>{_dated(n, day=n)}</rss:item>" for n in range(1, 26))
    oldest_first = doc.split(b"<rss:item>", 1)[0] + items.encode() + b"</channel></rss>"
    feed = parse_feed(oldest_first, url=URL, max_items=10)
    assert [e.guid for e in feed.episodes] == [str(n) for n in range(16, 26)]


def test_known_items_past_max_items_stay_among_the_item_hashes() -> None:
    before = parse_feed(rss("", *(_dated(n, day=31 - n) for n in range(2, 12))), url=URL)
    # A new episode on top: the oldest one we know falls past the cap of 10, yet it
    # is still in the document.
    doc = rss("", *(_dated(n, day=31 - n) for n in range(1, 12)))
    feed = parse_feed(doc, url=URL, max_items=10, known_item_hashes=before.item_hashes)
    assert [e.guid for e in feed.episodes] == ["1"]  # the only new item
    assert feed.item_hashes == before.item_hashes | {feed.episodes[0].item_hash}
    assert (feed.left_out, feed.complete) == (1, False)


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [("utf-8", "UTF-8"), ("iso-8859-1", "ISO-8859-1"), ("utf-16", "UTF-16")],
)
def test_max_items_reads_the_kept_items_as_a_document_of_only_them(
    encoding: str, declared: str
) -> None:
    # UTF-8 is cut as sent, ISO-8859-1 once converted, UTF-16 while feedparser reads.
    def document(numbers: range) -> bytes:
        items = "".join(
            f"<item>{_dated(n, day=31 - n)}<description>Café n°{n}</description></item>"
            for n in numbers
        )
        return (
            f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel>'
            f"<title>Émission</title>{items}</channel></rss>"
        ).encode(encoding)

    capped = parse_feed(document(range(1, 26)), url=URL, max_items=10)
    alone = parse_feed(document(range(1, 11)), url=URL)
    assert capped.series == alone.series
    assert capped.series.title == "Émission"
    assert capped.episodes == alone.episodes
    assert [e.description_html for e in capped.episodes][:1] == ["Café n°1"]
    assert (capped.left_out, capped.complete) == (15, False)


def test_a_feed_within_max_items_is_read_whole() -> None:
    doc = rss("", *(_dated(n, day=31 - n) for n in range(1, 11)))
    assert parse_feed(doc, url=URL, max_items=10) == parse(doc)


# --- property tests --------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_give_a_feed_or_a_parse_error(content: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_feed(content, url=URL)


_TOKENS = st.sampled_from(
    [b"<", b">", b"/>", b"<item>", b"</item>", b"<![CDATA[", b"]]>", b"<!--", b"-->", b"&",
     b"&amp;", b"&nbsp;", b'"', b"'", b"<guid>", b"</guid>", b"<?xml ?>", b"\x00", b"\xff",
     b"<podcast:person>", b"</channel>", b"<entry>", b"\xe2\x80"]
)  # fmt: skip


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    doc = _with_new_item(THREE)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(doc)))
        cut = draw(st.integers(0, 8))
        insert = draw(st.one_of(_TOKENS, st.binary(max_size=6)))
        doc = doc[:at] + insert + doc[at + cut :]
    return doc


@settings(max_examples=300, deadline=None)
@given(_mutated())
def test_broken_feeds_never_fail_otherwise_and_partial_equals_full(doc: bytes) -> None:
    known = parse(THREE).item_hashes
    try:
        full = parse(doc)
    except ParseError:
        with pytest.raises(ParseError):
            parse_feed(doc, url=URL, known_item_hashes=known)
        return
    partial = parse_feed(doc, url=URL, known_item_hashes=known)
    if partial.complete:
        assert partial == full
    else:
        assert partial.series == full.series
        assert partial.item_hashes == full.item_hashes
        assert partial.episodes == tuple(e for e in full.episodes if e.item_hash not in known)
