"""parse_feed on the 22 real podcast feeds in ``tests/data/feeds/real`` (SOURCES.md).

References are computed here, independently of our parser, from the raw bytes with
plain regular expressions: the items, each item's guid, pubDate (by
``email.utils``), itunes:duration (by the rules written out below) and enclosure.
Third-party expected results are used for Critical Role (``expected/``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin

import pytest

from aggregator.feeds.parse import parse_feed
from aggregator.types import ParsedEpisode, ParsedFeed, Person

REAL = Path(__file__).resolve().parent / "data" / "feeds" / "real"
FEEDS = sorted([*REAL.glob("*.xml"), *REAL.glob("*.rss")])
CALIPHATE = Path(__file__).resolve().parent / "data" / "linking" / "catalog" / "caliphate.xml"

_ITEM = re.compile(rb"<item[\s>].*?</item>", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)


@pytest.fixture(scope="module")
def parsed() -> dict[str, ParsedFeed]:
    """Every real feed parsed once (about 7 s in all)."""
    return {path.name: parse_feed(path.read_bytes(), url=_url(path)) for path in FEEDS}


def _url(path: Path) -> str:
    return f"https://feeds.example/{path.name}"


def _squash(text: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def _texts(item: bytes, tag: str) -> list[str]:
    """The text of every ``<tag>`` in ``item`` (not in comments), CDATA unwrapped,
    entities decoded."""
    item = re.sub(rb"<!--.*?-->", b"", item, flags=re.DOTALL)
    found = re.findall(
        rf"<{re.escape(tag)}(?:\s[^>]*)?(?:/>|>(.*?)</{re.escape(tag)}\s*>)".encode(),
        item,
        re.DOTALL,
    )
    return [html.unescape(_CDATA.sub(r"\1", text.decode())).strip() for text in found]


def _attr(item: bytes, tag: str, name: str) -> list[str]:
    tags = re.findall(rf"<{re.escape(tag)}\s[^>]*>".encode(), item)
    values = [re.search(rf'\s{name}\s*=\s*"([^"]*)"'.encode(), t) for t in tags]
    return [html.unescape(v.group(1).decode()).strip() for v in values if v]


def _seconds(text: str) -> int | None:
    """itunes:duration by hand: seconds, MM:SS, H:MM:SS; nothing else in these feeds."""
    if not re.fullmatch(r"\d+(:\d\d){0,2}", text):
        return None
    total = 0
    for part in text.split(":"):
        total = total * 60 + int(part)
    return total


def _role(attributes: bytes) -> str:
    role = re.search(rb'role="([^"]*)"', attributes)
    return role.group(1).decode().lower() if role else "host"  # the spec's default


def _pairs(path: Path, feed: ParsedFeed) -> Iterator[tuple[bytes, ParsedEpisode]]:
    items = _ITEM.findall(path.read_bytes())
    assert len(feed.episodes) == len(items)
    yield from zip(items, feed.episodes, strict=True)


@pytest.mark.parametrize("path", FEEDS, ids=[p.stem.split("__")[0] for p in FEEDS])
def test_every_item_comes_out_as_written(path: Path, parsed: dict[str, ParsedFeed]) -> None:
    feed = parsed[path.name]
    assert feed.complete
    assert len(feed.item_hashes) == len(feed.episodes)
    assert len({e.guid for e in feed.episodes}) == len(feed.episodes)
    assert len({e.item_hash for e in feed.episodes}) == len(feed.episodes)
    for item, episode in _pairs(path, feed):
        guids = _texts(item, "guid")
        if guids[0]:
            assert (episode.guid, episode.guid_is_fallback) == (guids[0], False)
        else:  # se-radio has 5 '<guid isPermaLink="false"/>': the link stands in
            assert episode.guid_is_fallback
            assert episode.link is not None and episode.guid == episode.link

        titles = _texts(item, "title")
        assert episode.title == _squash(titles[0])

        dates = _texts(item, "pubDate")
        if episode.published is not None:
            assert episode.published.utcoffset() == timedelta(0)
        try:
            reference = parsedate_to_datetime(dates[0])
        except (IndexError, TypeError, ValueError):
            pass  # no pubDate, or one email.utils cannot read (1 in appload)
        else:
            if reference.tzinfo is None:  # "-0000": UTC, local zone unknown (RFC 2822)
                reference = reference.replace(tzinfo=UTC)
            assert episode.published == reference

        durations = _texts(item, "itunes:duration")
        expected = _seconds(durations[0]) if durations else None
        assert episode.duration_seconds == expected

        urls = _attr(item, "enclosure", "url")
        if len(urls) == 1:
            assert episode.enclosure is not None
            # uhh-yeah-dude writes "//traffic.libsyn.com/...": relative to the feed's scheme
            assert episode.enclosure.url == urljoin(_url(path), urls[0])


def test_durations_were_found_in_each_format(parsed: dict[str, ParsedFeed]) -> None:
    def with_duration(name: str) -> int:
        return sum(e.duration_seconds is not None for e in parsed[name].episodes)

    # Counts from SOURCES.md: seconds, MM:SS past 59 minutes, HH:MM:SS, empty.
    assert with_duration("connected__podkit-2018.xml") == 188
    assert with_duration("se-radio__node-podcast-parser-2016.xml") == 244
    assert with_duration("planet-money-all-episodes__xjcl-2023.xml") == 1377 - 25
    long_mm_ss = [
        e for e in parsed["se-radio__node-podcast-parser-2016.xml"].episodes
        if e.duration_seconds and e.duration_seconds >= 3600
    ]  # fmt: skip
    assert long_mm_ss


def test_broken_feeds_are_recovered_with_the_reason(parsed: dict[str, ParsedFeed]) -> None:
    no_agenda = parsed["no-agenda__partytime-2021.xml"]
    assert no_agenda.warning == "not well-formed XML, recovered: undefined entity at line 2761"
    assert len(no_agenda.episodes) == 29
    garbage = parsed["sentimental-garbage__partytime-2023.xml"]
    assert garbage.warning == (
        "not well-formed XML, recovered: XML or text declaration not at start of entity at line 2"
    )
    assert len(garbage.episodes) == 138
    assert all(f.warning is None for name, f in parsed.items() if name not in {
        "no-agenda__partytime-2021.xml", "sentimental-garbage__partytime-2023.xml"
    })  # fmt: skip


def test_minus_zero_zone_dates_are_utc(parsed: dict[str, ParsedFeed]) -> None:
    # 1865: every pubDate ends in "-0000".
    for episode in parsed["1865__partytime-2021.xml"].episodes:
        assert episode.published is not None and episode.published.tzinfo == UTC


@pytest.mark.parametrize(
    ("older", "newer", "common"),
    [
        ("serial__podkit-2017.xml", "serial__lukaswhite-2020.rss", 26),
        (
            "critical-role__critrolesync-2020-07-12.xml",
            "critical-role__critrolesync-2026-07-21.xml",
            92,
        ),
    ],
)
def test_snapshot_pairs_share_guids_while_enclosures_moved(
    older: str, newer: str, common: int, parsed: dict[str, ParsedFeed]
) -> None:
    old = {e.guid: e for e in parsed[older].episodes}
    new = {e.guid: e for e in parsed[newer].episodes}
    shared = old.keys() & new.keys()
    assert len(shared) == common  # SOURCES.md, "Snapshot pairs"
    for guid in shared:
        before, after = old[guid].enclosure, new[guid].enclosure
        assert before is not None and after is not None
        assert before.url != after.url


@pytest.mark.parametrize(
    "name", ["critical-role__critrolesync-2020-07-12", "critical-role__critrolesync-2026-07-21"]
)
def test_critical_role_matches_the_third_party_result(
    name: str, parsed: dict[str, ParsedFeed]
) -> None:
    expected = json.loads((REAL / "expected" / f"{name}.parsed.json").read_text())
    ours = {e.guid: e for e in parsed[f"{name}.xml"].episodes}
    raw_dates = {
        _texts(item, "guid")[0]: _texts(item, "pubDate")[0]
        for item in _ITEM.findall((REAL / f"{name}.xml").read_bytes())
    }
    assert len(expected) in (99, 424)
    for row in expected:
        episode = ours[row["GUID"]]
        assert episode.title == _squash(row["Title"])  # they keep stray and doubled spaces
        assert episode.duration_seconds == row["Seconds"]
        assert episode.enclosure is not None
        assert (episode.enclosure.url, episode.enclosure.type) == (row["URL"], row["Type"])
        assert episode.enclosure.length == row["Bytes"]
        # Their date is the pubDate's own calendar day: move ours into its zone.
        zone = parsedate_to_datetime(raw_dates[row["GUID"]]).tzinfo
        assert episode.published is not None
        assert episode.published.astimezone(zone).date() == date.fromisoformat(
            row["Publication Date"]
        )


def test_caliphate_people(parsed: dict[str, ParsedFeed]) -> None:
    feed = parse_feed(CALIPHATE.read_bytes(), url="https://feeds.example/caliphate.xml")
    assert feed.series.persons == (
        Person("Rukmini Callimachi", role="host", group="cast"),
        Person("Andy Mills", role="producer", group="audio production"),
    )
    assert feed.series.itunes_type == "serial"
    assert feed.series.podcast_guid == "cbfbee74-9d85-4ae3-955b-925c71f8adbf"
    assert len(feed.episodes) == 13
    roles = {p.role for e in feed.episodes for p in e.persons}
    assert roles == {"host", "guest"}
    note = feed.episodes[0]
    assert [p.name for p in note.persons] == ["Michael Barbaro", "Dean Baquet", "Mark Mazzetti"]
    assert (note.number, note.episode_type) == (13, "bonus")
    guests = [p.name for e in feed.episodes for p in e.persons if p.role == "guest"]
    assert "Abu Huzayfah" in guests


@pytest.mark.parametrize(
    "name",
    [
        "podcasting-2.0__partytime-2021.xml",  # podcastindex.org URI? see the declaration
        "no-agenda__partytime-2021.xml",  # the GitHub URI, and not well-formed
        "mike-neumann-show__partytime-2024.xml",
    ],
)
def test_podcast_namespace_elements(name: str, parsed: dict[str, ParsedFeed]) -> None:
    path = REAL / name
    for item, episode in _pairs(path, parsed[name]):
        people = re.findall(rb"<podcast:person([^>]*)>([^<]*)</podcast:person>", item)
        expected = [
            (html.unescape(name.decode()).strip(), _role(attrs))
            for attrs, name in people
            if name.strip()
        ]
        assert [(p.name, p.role) for p in episode.persons] == expected
        transcripts = _attr(item, "podcast:transcript", "url")
        assert episode.transcript_url == (transcripts[-1] if transcripts else None)
        chapters = _attr(item, "podcast:chapters", "url")
        assert episode.chapters_url == (chapters[0] if chapters else None)
    assert sum(len(e.persons) for e in parsed[name].episodes) > 0


def test_both_podcast_namespace_uris_are_among_the_real_feeds() -> None:
    declared = {
        name: re.search(rb'xmlns:podcast="([^"]+)"', (REAL / name).read_bytes())
        for name in ("no-agenda__partytime-2021.xml", "critical-role__critrolesync-2026-07-21.xml")
    }
    uris = {m.group(1).decode() for m in declared.values() if m}
    assert uris == {
        "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
        "https://podcastindex.org/namespace/1.0",
    }


# --- incremental parsing on real documents -------------------------------------------------


def _edited(doc: bytes) -> bytes:
    """``doc`` with a new item on top, the 3rd item's title changed, the 5th removed."""
    items = list(_ITEM.finditer(doc))
    first = items[0].group()
    new = re.sub(rb"(<guid[^>]*>)", rb"\1brand-new-", first, count=1)
    new = re.sub(rb"<title>", b"<title>NEW ", new, count=1)
    third = items[2].group().replace(b"<title>", b"<title>Changed: ", 1)
    return b"".join(
        [
            doc[: items[0].start()], new, b"\n", doc[items[0].start() : items[2].start()], third,
            doc[items[2].end() : items[4].start()], doc[items[4].end() :],
        ]
    )  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "critical-role__critrolesync-2026-07-21.xml",
        "no-agenda__partytime-2021.xml",
        "sentimental-garbage__partytime-2023.xml",
        "podcasting-2.0__partytime-2021.xml",
        "this-american-life-all-episodes__aallen-2020.xml",
    ],
)
def test_incremental_parse_gives_what_a_full_parse_gives(
    name: str, parsed: dict[str, ParsedFeed]
) -> None:
    before = parsed[name]
    doc = _edited((REAL / name).read_bytes())
    full = parse_feed(doc, url=_url(REAL / name))
    partial = parse_feed(doc, url=_url(REAL / name), known_item_hashes=before.item_hashes)

    assert full.complete
    assert partial.item_hashes == full.item_hashes
    assert len(partial.item_hashes) == len(before.item_hashes)  # one added, one removed
    assert partial.series == full.series
    assert partial.warning == full.warning
    if full.warning is not None:
        # Not well-formed: the forgiving parser might read the items otherwise than
        # our cut, so the whole document is parsed (item hashes still filled).
        assert partial == full
        return
    assert not partial.complete
    changed = tuple(e for e in full.episodes if e.item_hash not in before.item_hashes)
    assert len(changed) == 2
    assert partial.episodes == changed
    assert partial.episodes[0].title.startswith("NEW ")
    assert partial.episodes[1].title.startswith("Changed: ")
