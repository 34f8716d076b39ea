"""OPML subscription lists: read one into feed URLs, write our feeds as one.

Pure code over bytes. OPML from podcast apps nests outlines in folders and spells the
feed attribute ``xmlUrl`` (some tools: ``xmlurl`` or ``url``); every outline with
such an attribute is a feed, wherever it sits. Python's expat refuses external
entities and caps entity expansion, so a hostile file cannot read local files.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aggregator.exceptions import InputError
from aggregator.types import FeedKind, FeedRecord

__all__ = ["OpmlFeed", "read_opml", "write_opml"]

_URL_ATTRIBUTES = ("xmlUrl", "xmlurl", "url")


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    title: str | None
    kind: FeedKind


def read_opml(content: bytes, *, source: str) -> list[OpmlFeed]:
    """The feeds in an OPML document, in document order, without duplicates."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError as e:
        raise InputError(f"{source}: not a valid OPML file: {e}") from e
    if root.tag != "opml":
        raise InputError(f"{source}: not an OPML file (root element is <{root.tag}>)")
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = next((outline.get(a) for a in _URL_ATTRIBUTES if outline.get(a)), None)
        if not url:
            continue
        url = url.strip()
        if url in seen:
            continue
        seen.add(url)
        kind = FeedKind.REVIEWS if outline.get("category") == "reviews" else FeedKind.PODCAST
        title = outline.get("title") or outline.get("text")
        feeds.append(OpmlFeed(url=url, title=title, kind=kind))
    return feeds


def write_opml(feeds: Iterable[FeedRecord], *, now: datetime) -> bytes:
    """Our feeds as OPML 2.0; review feeds carry ``category="reviews"``."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "aggregator subscriptions"
    ET.SubElement(head, "dateCreated").text = now.strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = ET.SubElement(root, "body")
    for feed in feeds:
        title = feed.title or feed.url
        attrs = {"type": "rss", "text": title, "title": title, "xmlUrl": feed.url}
        if feed.kind is FeedKind.REVIEWS:
            attrs["category"] = "reviews"
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    content: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return content + b"\n"
