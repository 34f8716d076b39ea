"""Our parse against gpodder/podcastparser's own corpus: 70 small feeds, each with
podcastparser's expected result (``tests/data/peer/podcastparser``, README there).

Every feed is parsed with the URL podcastparser's tests use as base
(``file://tests/data/X.rss``) and compared field by field with the expected JSON,
in podcastparser's units turned into ours (Unix time -> aware datetime, -1/0 ->
None, "application/octet-stream" -> no type). Episodes are matched by guid:
podcastparser sorts them by date, we keep document order.

Deliberate differences are listed in ``DIFFERENCES`` with the reason; everything
else must agree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.feeds.parse import parse_feed
from aggregator.sanitize import html_to_text
from aggregator.types import Enclosure, ParsedEpisode, ParsedFeed, Person

CORPUS = Path(__file__).resolve().parent / "data" / "peer" / "podcastparser"
FEEDS = sorted(CORPUS.glob("*.rss"))

_GUID_RESOLVED = (
    "a relative permalink <guid>: podcastparser resolves it against the feed URL, we keep the "
    "guid as written (a guid that changed whenever the feed moved would duplicate every "
    "episode) and resolve only the link made from it"
)
# Feeds where podcastparser's guid is the resolved form of ours.
RESOLVED_GUID_FEEDS = {
    "chapters", "duration", "itunes_duration", "itunes_episode_image", "itunes_no_xmlns",
    "itunes_subtitle", "itunes_xmlns", "media_episode_thumbnail", "media_episode_thumbnail_group",
    "no_title_multi_enclosure", "permalink",
}  # fmt: skip
# feed name -> what differs and why we do it our way
DIFFERENCES: dict[str, str] = {
    **dict.fromkeys(RESOLVED_GUID_FEEDS, _GUID_RESOLVED),
    "no_enclosure": "item B has a title but no guid, link or enclosure: podcastparser drops it, "
    "we keep it under a title+date fallback guid (the brief drops only items with nothing at all)",
    "no_title_multi_enclosure": "a guid but no title and two enclosures: podcastparser drops it, "
    "we keep it with an empty title (it has an identity, and storage keys on guid). Also: "
    + _GUID_RESOLVED,
    "max_episodes": "podcastparser's max_episodes=1 parameter has no counterpart: we return both",
    "atom_published_updated": "podcastparser ignores Atom <summary>; we use it as the "
    "description. And see atom_content_encoded",
    "atom_updated": "as atom_published_updated",
    "atom_content_encoded": "<link href=...> without rel is rel=alternate (RFC 4287 4.2.7.2): our "
    "series link; podcastparser takes only links typed text/html",
}
# Feeds whose episodes we keep although podcastparser drops them, by feed name.
EXTRA_EPISODES = {"no_enclosure": 1, "no_title_multi_enclosure": 1, "max_episodes": 1}
ATOM_SUMMARY_FEEDS = {"atom_published_updated", "atom_updated"}
ATOM_ALTERNATE_LINK = {"atom_content_encoded", "atom_published_updated", "atom_updated"}
# Feeds whose episodes we keep although podcastparser drops them, by feed name.
EXTRA_EPISODES = {"no_enclosure": 1, "no_title_multi_enclosure": 1, "max_episodes": 1}
ATOM_SUMMARY_FEEDS = {"atom_published_updated", "atom_updated"}


@pytest.fixture(scope="module")
def parsed() -> dict[str, ParsedFeed]:
    return {
        path.stem: parse_feed(path.read_bytes(), url=f"file://tests/data/{path.name}")
        for path in FEEDS
    }


def test_the_whole_corpus_is_there() -> None:
    assert len(FEEDS) == 70
    assert all(path.with_suffix(".json").exists() for path in FEEDS)
    assert set(DIFFERENCES) <= {path.stem for path in FEEDS}


def _text(html: str) -> str:
    return " ".join(html_to_text(html).split())


def _expected_description(expected: dict[str, Any]) -> str:
    # podcastparser keeps HTML (content:encoded or HTML-looking description) apart
    # from plain text; we keep one HTML field, preferring content:encoded.
    return _text(expected.get("description_html") or expected["description"])


def _expected_enclosure(enclosures: list[dict[str, Any]]) -> Enclosure | None:
    """Our choice among podcastparser's enclosures: the first audio/video one,
    else the first; with its units turned into ours."""
    if not enclosures:
        return None
    chosen = next(
        (e for e in enclosures if e["mime_type"].startswith(("audio/", "video/"))), enclosures[0]
    )
    mime = chosen["mime_type"]
    return Enclosure(
        url=chosen["url"],
        type=None if mime == "application/octet-stream" else mime,
        length=None if chosen["file_size"] <= 0 else chosen["file_size"],
    )


def _check_episode(ours: ParsedEpisode, expected: dict[str, Any], feed: str) -> None:
    assert ours.title == expected["title"]
    assert ours.link == (expected["link"] or None)
    published = expected["published"]
    assert ours.published == (datetime.fromtimestamp(published, UTC) if published else None)
    assert (ours.duration_seconds or 0) == expected["total_time"]
    assert ours.enclosure == _expected_enclosure(expected["enclosures"])
    assert ours.number == expected.get("number")
    assert ours.season == expected.get("season")
    assert ours.episode_type == expected.get("type")
    assert ours.image == expected.get("episode_art_url")
    assert ours.transcript_url == expected.get("transcript_url")
    assert ours.chapters_url == expected.get("chapters_json_url")
    assert ours.author == expected.get("itunes_author")
    assert ours.persons == tuple(Person(**p) for p in expected.get("persons", []))
    if feed in ATOM_SUMMARY_FEEDS:
        assert _text(ours.description_html) == "Some text."
    else:
        assert _text(ours.description_html) == _expected_description(expected)


@pytest.mark.parametrize("path", FEEDS, ids=[path.stem for path in FEEDS])
def test_feed_matches_podcastparser(path: Path, parsed: dict[str, ParsedFeed]) -> None:
    name = path.stem
    expected = json.loads(path.with_suffix(".json").read_text())
    feed = parsed[name]
    series = feed.series

    # podcastparser names an untitled podcast after the file; we leave the title empty.
    assert series.title == ("" if expected["title"] == name else expected["title"])
    if name in ATOM_ALTERNATE_LINK:
        assert (expected.get("link"), series.link) == (None, "http://example.org/")
    else:
        assert series.link == expected.get("link")
    assert _text(series.description_html) == " ".join(expected.get("description", "").split())
    assert series.image == expected.get("cover_url")
    assert series.itunes_type == expected.get("type")
    assert series.new_feed_url == expected.get("new_url")
    assert series.language == expected.get("language")
    assert series.author == expected.get("itunes_author")
    owner = expected.get("itunes_owner", {})
    assert (series.owner_name, series.owner_email) == (owner.get("name"), owner.get("email"))
    # Nested categories ["Arts", "Design"] are our "Arts" and "Arts/Design".
    categories: list[str] = []
    for path_parts in expected.get("itunes_categories", []):
        for depth in range(1, len(path_parts) + 1):
            flat = "/".join(part for part in path_parts[:depth] if part)
            if flat and flat not in categories:
                categories.append(flat)
    assert list(series.categories) == categories

    by_guid = {episode.guid: episode for episode in feed.episodes}
    assert len(by_guid) == len(feed.episodes), "guids are unique"
    assert len(feed.episodes) == len(expected["episodes"]) + EXTRA_EPISODES.get(name, 0)
    for expected_episode in expected["episodes"]:
        guid = expected_episode["guid"]
        if name in RESOLVED_GUID_FEEDS and guid not in by_guid:
            # The permalink guid, resolved, is our episode's link; its text ends the URL.
            (ours,) = [e for e in feed.episodes if e.link == guid and guid.endswith(e.guid)]
            assert ours.guid != guid
        else:
            ours = by_guid[guid]
        _check_episode(ours, expected_episode, name)


def test_dropped_by_podcastparser_kept_by_us(parsed: dict[str, ParsedFeed]) -> None:
    kept = next(e for e in parsed["no_enclosure"].episodes if e.title == "B")
    assert kept.guid_is_fallback and kept.guid.startswith("title-date:")
    (untitled,) = parsed["no_title_multi_enclosure"].episodes
    assert (untitled.guid, untitled.title) == ("episode::1", "")
    assert untitled.enclosure == Enclosure("http://example.com/test.mp3", "audio/mpeg", 4000000)
    assert parsed["no_url"].episodes == ()
