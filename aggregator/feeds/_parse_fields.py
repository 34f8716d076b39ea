"""feedparser's dicts -> ``ParsedSeries`` / ``ParsedEpisode`` (the second half of parse).

Works on plain mappings (no feedparser import): ``parse`` hands over the feed and
entry dicts, including the ``agg_*`` keys its own element handlers add. Every
value from the feed is treated as untrusted: any field may be missing, blank or
of the wrong type, and gives None (or "") rather than an error.

Rules, where feeds disagree with each other:

- guid: the ``<guid>`` as written, else the link, else the enclosure URL when the
  item has exactly one, else ``title-date:`` + a hash of title and date
  (``guid_is_fallback``). An item with no guid, link, enclosure or title is
  dropped: there is nothing to know it by.
- title: missing -> the single enclosure's file name without extension.
- description: ``content:encoded`` (or Atom content), else the RSS description
  (or Atom summary), else ``itunes:summary``; sanitized with nh3.
- enclosure: the first audio/video one among ``<enclosure>``s then
  ``media:content``s, else the first; length None when absent, 0 or not a number.
- categories: nested ``itunes:category`` as "Parent/Child" strings, each parent
  also on its own ("Arts", "Arts/Design").
- persons: ``podcast:person`` with the spec's defaults (role "host", group
  "cast"), lower-cased; nameless ones skipped.
- published: ``pubDate`` (or Atom published, else updated) in UTC; a date outside
  what we take in (``aggregator.dates``: 9999-12-31, 0001-01-01) is no date, with
  one log line per parse saying how many items had one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass, replace
from datetime import UTC, datetime
from html import escape as html_escape
from typing import Any, TypeVar
from urllib.parse import unquote, urljoin, urlsplit

from aggregator import dates
from aggregator.feeds.durations import parse_duration
from aggregator.sanitize import html_to_text, sanitize_html, storable_text
from aggregator.types import Enclosure, ParsedEpisode, ParsedSeries, Person

log = logging.getLogger("aggregator.feeds.parse")  # its lines are the parser's

_EPISODE_TYPES = frozenset({"full", "trailer", "bonus"})
_SERIES_TYPES = frozenset({"episodic", "serial"})
_TEXT_TYPES = frozenset({"text/plain", "text"})


def series_from(feed: Mapping[str, Any], base: str) -> ParsedSeries:
    publisher = feed.get("publisher_detail") or {}
    image = feed.get("agg_itunes_image") or (feed.get("image") or {}).get("href")
    description = _first_html(
        (feed.get("subtitle"), _detail_type(feed, "subtitle")),
        (feed.get("agg_itunes_summary"), "text/html"),
    )
    series = ParsedSeries(
        title=_plain(feed, "title") or "",
        # Only itunes:author: feedparser fills "author" from itunes:owner too.
        author=_squash(feed.get("agg_itunes_author")),
        owner_name=_squash(publisher.get("name")),
        owner_email=_squash(publisher.get("email")),
        description_html=sanitize_html(description, base),
        link=_url(feed.get("link"), base),
        image=_url(image or feed.get("logo") or feed.get("icon"), base),
        language=_squash(feed.get("language")),
        categories=_categories(feed.get("agg_categories") or ()),
        itunes_type=_one_of(feed.get("itunes_type"), _SERIES_TYPES),
        podcast_guid=_squash(feed.get("podcast_guid")),
        persons=_persons(feed.get("agg_persons") or ()),
        new_feed_url=_url(feed.get("itunes_new-feed-url") or feed.get("newlocation"), base),
        ttl_minutes=_positive_int(feed.get("ttl")),
    )
    return _with_content_hash(series)


def episodes_from(
    entries: Sequence[Mapping[str, Any]], base: str, item_hashes: Sequence[str] | None
) -> tuple[ParsedEpisode, ...]:
    """The episodes of ``entries`` (document order); ``item_hashes[i]`` is the raw
    hash of entry i, when known."""
    episodes = []
    undated = 0  # items whose date is outside what we take in
    for index, entry in enumerate(entries):
        if entry.get("agg_live"):
            continue  # a podcast:liveItem left over in a broken document
        given = _utc(_raw(entry, "published_parsed") or _raw(entry, "updated_parsed"))
        published = dates.bounded(given)
        undated += given is not None and published is None
        episode = _episode(entry, base, item_hashes[index] if item_hashes else None, published)
        if episode is not None:
            episodes.append(episode)
    if undated:
        # One line per parse, not per item: a feed of 3,000 items dated 9999-12-31
        # would otherwise write 3,000 lines at each change.
        log.info("%s: %d items dated outside %s, read as undated", base, undated, dates.RANGE)
    return tuple(episodes)


def _episode(
    entry: Mapping[str, Any], base: str, item_hash: str | None, published: datetime | None
) -> ParsedEpisode | None:
    enclosures = _enclosures(entry, base)
    urls = {enclosure.url for enclosure in enclosures}
    single_url = next(iter(urls)) if len(urls) == 1 else None
    title = _plain(entry, "title") or (_file_stem(single_url) if single_url else "")
    guid = _squash(entry.get("id"))
    link = _url(entry.get("link"), base)
    if not (guid or link or enclosures or title):
        return None  # nothing to tell this item by, nothing to show of it
    description = _first_html(
        *((c.get("value"), c.get("type")) for c in entry.get("content") or ()),
        (entry.get("summary"), _detail_type(entry, "summary")),
        (entry.get("agg_itunes_summary"), "text/html"),
    )
    thumbnails = entry.get("media_thumbnail") or [{}]
    image = entry.get("agg_itunes_image") or (entry.get("image") or {}).get("href")
    transcripts = [t.get("url") for t in entry.get("agg_transcripts") or () if t.get("url")]
    chapters = [c.get("url") for c in entry.get("agg_chapters") or () if c.get("url")]
    episode = ParsedEpisode(
        guid=guid or link or single_url or _fallback_guid(title, published),
        title=title,
        description_html=sanitize_html(description, base),
        link=link,
        published=published,
        enclosure=_pick_enclosure(enclosures),
        duration_seconds=parse_duration(_squash(entry.get("itunes_duration"))),
        season=_positive_int(entry.get("itunes_season")),
        number=_positive_int(entry.get("itunes_episode")),
        episode_type=_one_of(entry.get("itunes_episodetype"), _EPISODE_TYPES),
        image=_url(image or thumbnails[0].get("url"), base),
        # Feeds offer a transcript in several formats; like podcastparser we take
        # the last one listed.
        transcript_url=_url(transcripts[-1], base) if transcripts else None,
        chapters_url=_url(chapters[0], base) if chapters else None,
        persons=_persons(entry.get("agg_persons") or ()),
        author=_squash(entry.get("agg_itunes_author") or entry.get("author")),
        guid_is_fallback=not guid,
        item_hash=item_hash,
    )
    return _with_content_hash(episode)


def _raw(context: Mapping[str, Any], key: str) -> Any:
    """``context[key]`` without FeedParserDict's key aliases (asking it for a missing
    "updated_parsed" answers "published_parsed" with a DeprecationWarning)."""
    return dict.get(context, key) if isinstance(context, dict) else context.get(key)


def _enclosures(entry: Mapping[str, Any], base: str) -> list[Enclosure]:
    """RSS ``<enclosure>`` and Atom ``rel=enclosure`` links, then ``media:content``."""
    found = []
    for link in entry.get("links") or ():
        url = _url(link.get("href"), base) if link.get("rel") == "enclosure" else None
        if url:
            found.append(Enclosure(url, _squash(link.get("type")), _length(link.get("length"))))
    for media in entry.get("media_content") or ():
        url = _url(media.get("url"), base)
        if url:
            found.append(Enclosure(url, _squash(media.get("type")), _length(media.get("filesize"))))
    return found


def _pick_enclosure(enclosures: Sequence[Enclosure]) -> Enclosure | None:
    for enclosure in enclosures:
        if enclosure.type and enclosure.type.lower().startswith(("audio/", "video/")):
            return enclosure
    return enclosures[0] if enclosures else None


def _persons(found: Sequence[Mapping[str, str]]) -> tuple[Person, ...]:
    # The spec's defaults: role "host", group "cast"; both are lower-case words.
    return tuple(
        Person(
            name=_squash(attrs.get("name")) or "",
            role=(_squash(attrs.get("role")) or "host").lower(),
            group=(_squash(attrs.get("group")) or "cast").lower(),
            href=_squash(attrs.get("href")),
            img=_squash(attrs.get("img")),
        )
        for attrs in found
    )


def _categories(paths: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """Nested ``itunes:category`` as flat strings, parent first: "Arts",
    "Arts/Design". Empty ``text`` levels are left out."""
    flat = ("/".join(part for part in path if part) for path in paths)
    return tuple(dict.fromkeys(name for name in flat if name))


def _first_html(*candidates: tuple[Any, Any]) -> str:
    """The first non-blank candidate as HTML; plain text is escaped."""
    for value, content_type in candidates:
        if isinstance(value, str) and value.strip():
            if content_type in _TEXT_TYPES:
                return html_escape(value)
            return value
    return ""


def _detail_type(context: Mapping[str, Any], key: str) -> str | None:
    detail = context.get(f"{key}_detail") or {}
    content_type = detail.get("type")
    return content_type if isinstance(content_type, str) else None


def _plain(context: Mapping[str, Any], key: str) -> str | None:
    value = context.get(key)
    if not isinstance(value, str):
        return None
    if _detail_type(context, key) in ("text/html", "application/xhtml+xml"):
        value = html_to_text(value)
    return _squash(value)


_ASCII_SPACE = re.compile(r"[ \t\r\n]+")


def _squash(value: Any) -> str | None:
    """Strip and collapse ASCII white space; None for blank or non-text values.
    (No-break spaces are content: they stay.)"""
    if not isinstance(value, str):
        return None
    return _ASCII_SPACE.sub(" ", value).strip() or None


def _url(value: Any, base: str) -> str | None:
    text = _squash(value)
    if text is None:
        return None
    try:
        return urljoin(base, text)
    except ValueError:  # e.g. a broken IPv6 literal: keep what the feed said
        return text


def _file_stem(url: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name.rsplit(".", 1)[0] if "." in name[1:] else name


# Storage's integer columns are 32-bit on PostgreSQL (enclosure lengths 64-bit). A
# number past them in a feed is junk (no show has two billion episodes), and must not
# fail the write of the whole feed.
_MAX_INT = 2**31 - 1
_MAX_LENGTH = 2**63 - 1


def _positive_int(value: Any, limit: int = _MAX_INT) -> int | None:
    text = _squash(value)
    if text is None or not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0")
    if len(digits) > len(str(limit)):  # also keeps int() off 4,300+ digits (it refuses)
        return None
    number = int(digits or "0")
    return number if 0 < number <= limit else None


def _length(value: Any) -> int | None:
    return _positive_int(value, _MAX_LENGTH)


def _one_of(value: Any, allowed: frozenset[str]) -> str | None:
    text = _squash(value)
    return text.lower() if text and text.lower() in allowed else None


def _utc(parsed: Any) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC struct_time) as an aware datetime."""
    try:
        year, month, day, hour, minute, second = parsed[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _fallback_guid(title: str, published: datetime | None) -> str:
    stamp = published.isoformat() if published else ""
    return "title-date:" + _sha256(f"{title}\n{stamp}".encode())[:32]


_Hashed = TypeVar("_Hashed", ParsedSeries, ParsedEpisode)


def _with_content_hash(value: _Hashed) -> _Hashed:
    value = _storable(value)
    fields = _plain_data(value)
    del fields["content_hash"]
    fields.pop("item_hash", None)  # raw bytes may change while the content does not
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return replace(value, content_hash=_sha256(text.encode()))


def _storable(value: Any) -> Any:
    """``value`` with every string in it passed through ``storable_text``: a NUL in a
    title (raw, or from ``&#0;`` in a broken feed) would make PostgreSQL refuse the
    whole feed. The same object back when nothing changed (the common case)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, tuple):
        items = tuple(_storable(item) for item in value)
        return value if items == value else items
    if is_dataclass(value) and not isinstance(value, type):
        changed = {}
        for f in dataclass_fields(value):
            old = getattr(value, f.name)
            new = _storable(old)
            if new is not old:
                changed[f.name] = new
        return replace(value, **changed) if changed else value
    return value


def _plain_data(value: Any) -> Any:
    """JSON-ready copy of a value (``dataclasses.asdict`` deep-copies: 3x slower)."""
    if is_dataclass(value):
        return {f.name: _plain_data(getattr(value, f.name)) for f in dataclass_fields(value)}
    if isinstance(value, tuple):
        return [_plain_data(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
