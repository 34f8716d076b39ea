"""The combined feeds as documents: what goes in comes out, escaped and sanitized.

Pure rendering, from records built here by hand; the served feeds, read by real
clients, are in test_syndicate_routes.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
import lxml.html  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.syndicate.render import (
    AGG_NS,
    ITUNES_NS,
    PODCAST_NS,
    ReviewsFeed,
    SeriesFeed,
    excerpt,
    render_reviews_feed,
    render_series_feed,
    reviewed_episode,
    rfc822,
)
from aggregator.types import (
    Enclosure,
    EpisodeRecord,
    Evidence,
    LinkRecord,
    LinkStatus,
    Person,
    Relation,
    ReviewRecord,
    SeriesRecord,
)

T0 = datetime(2024, 5, 3, 9, 30, tzinfo=UTC)
BASE = "http://127.0.0.1:8000"
NS = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "agg": AGG_NS}
XSS = '<script>alert("x")</script><img src=x onerror="alert(1)">'


def a_series(**overrides: Any) -> SeriesRecord:
    values: dict[str, Any] = {
        "id": 7,
        "feed_id": 3,
        "feed_url": "https://show.example/feed.xml",
        "title": "The Show",
        "author": "Show People",
        "description_html": "<p>A show.</p>",
        "link": "https://show.example/",
        "image": "https://show.example/cover.jpg",
        "language": "en",
        "categories": ("Arts", "Society & Culture"),
        "itunes_type": "serial",
        "podcast_guid": "917393e3-1b1e-5cef-ace4-edaa54e1f810",
        "persons": (Person("Ann Host", role="host"),),
    }
    values.update(overrides)
    return SeriesRecord(**values)


def an_episode(n: int, **overrides: Any) -> EpisodeRecord:
    values: dict[str, Any] = {
        "id": 100 + n,
        "series_id": 7,
        "guid": f"tag:show.example,2024:{n}?a=1&b=<2>",
        "title": f"Episode {n}",
        "description_html": f"<p>Notes of episode {n}.</p>",
        "link": f"https://show.example/{n}",
        "published": T0 - timedelta(days=n),
        "enclosure": Enclosure(f"https://cdn.example/{n}.mp3", "audio/mpeg", 1234 * n),
        "duration_seconds": 1800 + n,
        "season": 2,
        "number": n,
        "episode_type": "full",
        "image": f"https://show.example/{n}.jpg",
        "transcript_url": f"https://show.example/{n}.srt",
        "chapters_url": f"https://show.example/{n}.chapters.json",
        "persons": (Person("Bo Guest", role="guest", href="https://bo.example/"),),
    }
    values.update(overrides)
    return EpisodeRecord(**values)


def a_review(n: int, **overrides: Any) -> ReviewRecord:
    values: dict[str, Any] = {
        "id": n,
        "text": f"Review {n} text. " + "Filler words go here. " * 30 + "The key sentence.",
        "content_hash": f"h{n}",
        "source": "url",
        "url": f"https://www.critic.example/review-{n}",
        "title": f"Critic on episode {n}",
        "author": "C. Critic",
        "published": T0 + timedelta(days=n),
    }
    values.update(overrides)
    return ReviewRecord(**values)


def a_link(review_id: int, episode: EpisodeRecord | None, **overrides: Any) -> LinkRecord:
    values: dict[str, Any] = {
        "id": review_id * 10 + (episode.id if episode else 0),
        "review_id": review_id,
        "series_id": 7,
        "episode_id": episode.id if episode else None,
        "relation": Relation.REVIEWS,
        "score": 0.875,
        "evidence": (),
        "status": LinkStatus.AUTO,
        "linker_version": "1",
        "feed_url": "https://show.example/feed.xml",
        "episode_guid": episode.guid if episode else None,
    }
    values.update(overrides)
    return LinkRecord(**values)


def series_feed(
    episodes: list[EpisodeRecord],
    links: list[LinkRecord] | None = None,
    reviews: list[ReviewRecord] | None = None,
    **overrides: Any,
) -> bytes:
    values: dict[str, Any] = {
        "series": a_series(),
        "episodes": episodes,
        "links": links or [],
        "reviews": {r.id: r for r in reviews or []},
        "self_url": f"{BASE}/feeds/series/7.xml",
        "base_url": BASE,
        "generator": "aggregator test",
        "updated": T0,
        "owner_name": "Owner Name",
        "owner_email": "owner@show.example",
        "episode_authors": {101: "Ep Author"},
    }
    values.update(overrides)
    return render_series_feed(SeriesFeed(**values))


def items(document: bytes) -> list[Any]:
    return list(etree.fromstring(document).iter("item"))


def description_html(item: Any) -> Any:
    return lxml.html.fragment_fromstring(item.findtext("description"), create_parent="div")


# --- the series feed ---------------------------------------------------------------


def test_every_episode_keeps_its_guid_enclosure_and_tags() -> None:
    episodes = [an_episode(1), an_episode(2)]
    document = series_feed(episodes)
    found = items(document)
    assert [i.findtext("guid") for i in found] == [
        "tag:show.example,2024:1?a=1&b=<2>",
        "tag:show.example,2024:2?a=1&b=<2>",
    ]
    first = found[0]
    assert first.find("guid").get("isPermaLink") == "false"
    assert first.find("enclosure").attrib == {
        "url": "https://cdn.example/1.mp3",
        "length": "1234",
        "type": "audio/mpeg",
    }
    assert first.findtext("pubDate") == "Thu, 02 May 2024 09:30:00 GMT"
    assert first.findtext("itunes:duration", namespaces=NS) == "1801"
    assert first.findtext("itunes:season", namespaces=NS) == "2"
    assert first.findtext("itunes:episode", namespaces=NS) == "1"
    assert first.findtext("itunes:episodeType", namespaces=NS) == "full"
    assert first.findtext("itunes:author", namespaces=NS) == "Ep Author"
    assert found[1].find("itunes:author", namespaces=NS) is None
    assert first.find("itunes:image", namespaces=NS).get("href") == "https://show.example/1.jpg"
    transcript = first.find("podcast:transcript", namespaces=NS)
    assert transcript.attrib == {"url": "https://show.example/1.srt", "type": "application/srt"}
    chapters = first.find("podcast:chapters", namespaces=NS)
    assert chapters.get("url") == "https://show.example/1.chapters.json"
    assert chapters.get("type") == "application/json+chapters"
    person = first.find("podcast:person", namespaces=NS)
    assert (person.text, person.get("role"), person.get("href")) == (
        "Bo Guest",
        "guest",
        "https://bo.example/",
    )


def test_channel_carries_the_series_tags() -> None:
    channel = etree.fromstring(series_feed([an_episode(1)])).find("channel")
    assert channel.findtext("title") == "The Show"
    assert channel.findtext("link") == "https://show.example/"
    assert channel.findtext("language") == "en"
    assert channel.findtext("podcast:guid", namespaces=NS) == (
        "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    )
    assert channel.findtext("itunes:type", namespaces=NS) == "serial"
    assert channel.findtext("itunes:author", namespaces=NS) == "Show People"
    assert channel.findtext("itunes:owner/itunes:email", namespaces=NS) == "owner@show.example"
    categories = [c.get("text") for c in channel.findall("itunes:category", namespaces=NS)]
    assert categories == ["Arts", "Society & Culture"]
    assert channel.find("{http://www.w3.org/2005/Atom}link").get("href") == (
        f"{BASE}/feeds/series/7.xml"
    )
    origin = channel.find("agg:origin", namespaces=NS)
    assert origin.get("url") == "https://show.example/feed.xml"
    assert origin.get("feed") == "917393e3-1b1e-5cef-ace4-edaa54e1f810"


def test_guid_is_a_permalink_only_when_it_is_the_items_address() -> None:
    same = an_episode(1, guid="https://show.example/1", link="https://show.example/1")
    other = an_episode(2, guid="https://show.example/ep/2", link="https://show.example/2")
    found = items(series_feed([same, other]))
    assert found[0].find("guid").get("isPermaLink") == "true"
    assert found[1].find("guid").get("isPermaLink") == "false"
    # feedparser, told "false", keeps the guid as the id and the link as the link.
    parsed = feedparser.parse(series_feed([same, other]))
    assert [(e.id, e.link) for e in parsed.entries] == [
        ("https://show.example/1", "https://show.example/1"),
        ("https://show.example/ep/2", "https://show.example/2"),
    ]


def test_unknown_enclosure_length_and_type_are_written_as_rss_needs_them() -> None:
    episode = an_episode(1, enclosure=Enclosure("https://cdn.example/a.m4a?x=1", None, None))
    enclosure = items(series_feed([episode]))[0].find("enclosure")
    assert enclosure.get("length") == "0"
    assert enclosure.get("type") == "audio/mp4"


def test_episode_description_carries_its_reviews() -> None:
    episode = an_episode(1)
    review = a_review(1)
    key = review.text.index("The key sentence")
    evidence = Evidence("episode-title", "The key", key, key + 7, "title")
    link = a_link(1, episode, evidence=(evidence,))
    item = items(series_feed([episode], [link], [review]))[0]
    html = description_html(item)
    assert "Notes of episode 1." in html.text_content()
    anchor = html.xpath("//li/a")[0]
    assert anchor.text == "Critic on episode 1"
    assert anchor.get("href") == "https://www.critic.example/review-1"
    line = html.xpath("//li")[0].text_content()
    assert "critic.example" in line
    assert "by C. Critic" in line
    assert "2024-05-04" in line  # T0 + 1 day
    assert "score 0.88" in line
    quote = html.xpath("//li/blockquote")[0].text
    # Centred on the evidence, far into the text: the opening is cut.
    assert quote.startswith("…")
    assert "The key sentence." in quote
    assert len(quote) <= 302


def test_namespace_says_which_episode_each_review_links_to() -> None:
    episode = an_episode(1)
    link = a_link(1, episode, relation=Relation.MENTIONS, score=0.5, status=LinkStatus.CONFIRMED)
    no_url = a_review(2, url=None)
    series_link = a_link(2, None, score=0.9)
    document = series_feed([episode], [link, series_link], [a_review(1), no_url])
    item = items(document)[0]
    found = item.findall("agg:link", namespaces=NS)
    assert [x.attrib for x in found] == [
        {
            "review": "https://www.critic.example/review-1",
            "feed": "917393e3-1b1e-5cef-ace4-edaa54e1f810",
            "feedUrl": "https://show.example/feed.xml",
            "episode": "tag:show.example,2024:1?a=1&b=<2>",
            "relation": "mentions",
            "score": "0.500",
            "status": "confirmed",
        }
    ]
    # A review of the series as a whole is said at channel level; a review without a
    # URL of its own is named by its page here.
    channel = etree.fromstring(document).find("channel")
    about_series = channel.findall("agg:link", namespaces=NS)
    assert [(x.get("review"), x.get("episode")) for x in about_series] == [
        (f"{BASE}/reviews/2", None)
    ]


def test_feed_without_podcast_guid_is_named_by_its_url() -> None:
    episode = an_episode(1)
    series = a_series(podcast_guid=None)
    document = series_feed([episode], [a_link(1, episode)], [a_review(1)], series=series)
    link = items(document)[0].find("agg:link", namespaces=NS)
    assert link.get("feed") == "https://show.example/feed.xml"
    channel = etree.fromstring(document).find("channel")
    assert channel.find("podcast:guid", namespaces=NS) is None


def test_reviews_are_listed_reviews_first_then_by_score() -> None:
    episode = an_episode(1)
    links = [
        a_link(1, episode, relation=Relation.MENTIONS, score=0.99),
        a_link(2, episode, score=0.6),
        a_link(3, episode, score=0.8),
    ]
    reviews = [a_review(1), a_review(2), a_review(3)]
    html = description_html(items(series_feed([episode], links, reviews))[0])
    assert [a.text for a in html.xpath("//li/a")] == [
        "Critic on episode 3",
        "Critic on episode 2",
        "Critic on episode 1",
    ]


def _assert_harmless(html: Any) -> None:
    assert not html.xpath("//script|//style|//iframe|//object")
    for element in html.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            assert not value.strip().lower().startswith("javascript:"), (element.tag, value)


def test_xss_in_titles_descriptions_and_reviews_never_reaches_the_feed_unescaped() -> None:
    # Descriptions come sanitized from the parser; the feed sanitizes again anyway,
    # so even a description stored raw cannot carry a script out.
    episode = an_episode(
        1,
        title=f"Ep {XSS}",
        description_html=f'<p onclick="x()">Hi</p>{XSS}<a href="javascript:alert(2)">y</a>',
        link="javascript:alert(3)",
    )
    review = a_review(1, title=f"T {XSS}", text=f"Text {XSS} end", url="javascript:alert(4)")
    series = a_series(title=f"S {XSS}", description_html=XSS)
    document = series_feed([episode], [a_link(1, episode)], [review], series=series)
    root = etree.fromstring(document)
    # Titles are text: the payload is there, as characters, not as elements.
    assert root.findtext("channel/title") == f"S {XSS}"
    item = root.find("channel/item")
    assert item.findtext("title") == f"Ep {XSS}"
    assert item.find("link") is None  # a javascript: link is no link
    html = description_html(item)
    _assert_harmless(html)
    _assert_harmless(lxml.html.fragment_fromstring(root.findtext("channel/description"), "div"))
    # The review's text survives as text inside the quote.
    assert XSS in html.xpath("//blockquote")[0].text
    assert html.xpath("//li/a")[0].get("href") == f"{BASE}/reviews/1"
    assert b"<script" not in document
    assert b"&lt;script" in document


def test_characters_xml_cannot_carry_are_dropped() -> None:
    episode = an_episode(1, title="Bad\x00 \x0bbyte\ufffe", guid="g\x01uid")
    item = items(series_feed([episode]))[0]
    assert item.findtext("title") == "Bad byte"
    assert item.findtext("guid") == "guid"


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(max_size=60),
    description=st.text(max_size=200),
    review_text=st.text(min_size=1, max_size=400),
)
def test_any_text_makes_a_well_formed_feed_that_gives_it_back(
    title: str, description: str, review_text: str
) -> None:
    episode = an_episode(1, title=title, description_html=description)
    document = series_feed([episode], [a_link(1, episode)], [a_review(1, text=review_text)])
    item = items(document)[0]
    expected = "".join(
        c
        for c in title
        if c in "\t\n\r"
        or ("\x20" <= c <= "\ud7ff")
        or ("\ue000" <= c <= "\ufffd")
        or c >= "\U00010000"
    )
    assert item.findtext("title") == expected
    _assert_harmless(description_html(item))


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(1971, 1, 1)))
def test_rfc822_dates_read_back(value: datetime) -> None:
    assert parsedate_to_datetime(rfc822(value)) == value.replace(microsecond=0)


def test_excerpt_of_a_long_text_without_evidence_is_its_opening() -> None:
    text = "word " * 200
    cut = excerpt(text, None, limit=50)
    assert cut.startswith("word word")
    assert cut.endswith("…")
    assert len(cut) <= 51


# --- the reviews feed -----------------------------------------------------------------


def reviews_feed(
    reviews: list[ReviewRecord], links: list[LinkRecord], episodes: list[EpisodeRecord]
) -> bytes:
    return render_reviews_feed(
        ReviewsFeed(
            title="Reviews",
            description="Reviews.",
            link=f"{BASE}/",
            self_url=f"{BASE}/feeds/reviews.xml",
            base_url=BASE,
            generator="aggregator test",
            reviews=reviews,
            links=links,
            episodes={e.id: e for e in episodes},
            series={7: a_series()},
            updated=T0,
        )
    )


def test_review_item_plays_the_episode_it_reviews_not_one_it_mentions() -> None:
    reviewed, mentioned, weaker = an_episode(1), an_episode(2), an_episode(3)
    links = [
        a_link(1, mentioned, relation=Relation.MENTIONS, score=0.95),
        a_link(1, weaker, score=0.4),
        a_link(1, reviewed, score=0.7),
        a_link(1, None, score=0.9),
    ]
    assert reviewed_episode(links) == links[2]
    document = reviews_feed([a_review(1)], links, [reviewed, mentioned, weaker])
    item = items(document)[0]
    assert item.findtext("title") == "Critic on episode 1"
    assert item.findtext("link") == "https://show.example/1"
    assert item.findtext("guid") == "https://www.critic.example/review-1"
    assert item.find("enclosure").get("url") == "https://cdn.example/1.mp3"
    assert item.findtext("itunes:duration", namespaces=NS) == "1801"
    assert item.findtext("pubDate") == "Sat, 04 May 2024 09:30:00 GMT"
    found = item.findall("agg:link", namespaces=NS)
    assert [(x.get("episode"), x.get("relation")) for x in found] == [
        (mentioned.guid, "mentions"),
        (weaker.guid, "reviews"),
        (reviewed.guid, "reviews"),
        (None, "reviews"),
    ]
    html = description_html(item)
    assert html.xpath("//p/a")[0].text == "Episode 1"
    assert html.xpath("//p/a")[-1].get("href") == "https://www.critic.example/review-1"


def test_review_of_no_single_episode_has_no_enclosure_and_links_to_the_review() -> None:
    document = reviews_feed([a_review(1)], [a_link(1, None)], [])
    item = items(document)[0]
    assert item.find("enclosure") is None
    assert item.findtext("link") == "https://www.critic.example/review-1"


def test_reviews_feed_escapes_review_payloads() -> None:
    episode = an_episode(1, title=f"E {XSS}")
    review = a_review(1, title=f"T {XSS}", text=f"{XSS} body", author=XSS)
    document = reviews_feed([review], [a_link(1, episode)], [episode])
    item = items(document)[0]
    assert item.findtext("title") == f"T {XSS}"
    html = description_html(item)
    _assert_harmless(html)
    assert html.xpath("//p/a")[0].text == f"E {XSS}"
    assert b"<script" not in document


def test_reviews_feed_parses_in_feedparser() -> None:
    episode = an_episode(1)
    document = reviews_feed([a_review(1), a_review(2)], [a_link(1, episode)], [episode])
    parsed = feedparser.parse(document)
    assert not parsed.bozo
    assert [e.id for e in parsed.entries] == [
        "https://www.critic.example/review-1",
        "https://www.critic.example/review-2",
    ]
    assert parsed.entries[0].enclosures[0].href == "https://cdn.example/1.mp3"
