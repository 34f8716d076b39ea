"""Combined feeds: a series as a podcast feed with its reviews, and reviews as items.

Pure code: typed values in, RSS 2.0 bytes out. The documents are built with lxml,
never by string concatenation, so every title, guid and URL is escaped by
construction; HTML descriptions are built as elements too, then sanitized as a whole
(``sanitize_html``) and stored as escaped text, which every reader we test with
(feedparser, podcastparser, newsboat) unescapes.

Namespaces: RSS 2.0 with ``itunes:`` (Apple's podcast tags), ``podcast:`` (Podcast
Index's namespace, for guid, person, transcript and chapters) and ``agg:``, ours,
documented in ``docs/namespace.md``: per item, which episode (feed + item guid) a
review links to, with relation and score.

The series feed keeps every episode's guid string, enclosure and tags as stored; only
the description grows by the reviews linked to the episode. The reviews feed makes
each review an item that carries the enclosure and link of the episode it reviews, so
that a podcast app plays the reviewed episode.

Both are rendered as a stream of chunks of items (``_stream``), never built whole.

Why one module of about 600 lines: both documents share the namespaces, the channel
and item builders, the escaping rules and the streaming; split, either half would
import the other (and lxml has one importer here).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from mimetypes import guess_type
from typing import TypeVar
from urllib.parse import urlsplit

from lxml import etree  # type: ignore[import-untyped]
from lxml.html import builder as h  # type: ignore[import-untyped]
from lxml.html import tostring as html_tostring

from aggregator.sanitize import sanitize_html
from aggregator.types import (
    EpisodeRecord,
    LinkRecord,
    Person,
    Relation,
    ReviewRecord,
    SeriesRecord,
)

__all__ = [
    "AGG_NS",
    "ATOM_NS",
    "CHUNK_ITEMS",
    "EXCERPT_CHARS",
    "ITUNES_NS",
    "MAX_REVIEWS_SHOWN",
    "NSMAP",
    "PODCAST_NS",
    "PageLinks",
    "ReviewsFeed",
    "SeriesFeed",
    "excerpt",
    "feed_identity",
    "render_reviews_feed",
    "render_series_feed",
    "review_page",
    "reviewed_episode",
    "reviews_feed_chunks",
    "reviews_html",
    "rfc822",
    "safe_url",
    "series_feed_chunks",
    "site_name",
]

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
# The spec now names https://podcastindex.org/namespace/1.0, and its parsers (ours
# too) take both; gPodder's podcastparser (0.6.11) knows only the GitHub URI it was
# first published under, so that is the one every reader we test understands.
PODCAST_NS = "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
ATOM_NS = "http://www.w3.org/2005/Atom"
AGG_NS = "https://aggregator.dev/ns/links/1.0"
NSMAP = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": ATOM_NS, "agg": AGG_NS}

# Reviews shown in one description; more are counted, not listed (a description
# that runs to pages is cut by most apps anyway). Every link stays in agg:link.
MAX_REVIEWS_SHOWN = 20
# Characters of review text quoted per review: about two sentences, enough to show
# what the reviewer says without republishing the review.
EXCERPT_CHARS = 300
# Items rendered at a time (see ``_stream``): a few hundred KB of XML at most.
CHUNK_ITEMS = 50
_RSS_TYPE = "application/rss+xml"

# Characters XML 1.0 cannot carry at all (lxml refuses them): control characters
# from broken feeds are dropped rather than failing the whole feed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACE = re.compile(r"\s+")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# podcast:transcript needs a type; we keep only the URL, so it is told by extension.
_TRANSCRIPT_TYPES = {
    ".vtt": "text/vtt",
    ".srt": "application/srt",
    ".json": "application/json",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
}


T = TypeVar("T")


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass(frozen=True, slots=True)
class PageLinks:
    """Where the other pages of a paged feed are (RFC 5005, section 3): ``first`` is
    the feed's own address, ``next`` holds older items."""

    first: str
    previous: str | None = None
    next: str | None = None


@dataclass(frozen=True, slots=True)
class SeriesFeed:
    """Everything the feed of one series shows.

    ``episodes`` in feed order (newest first), episodes gone from the source feed
    already left out; ``links`` the series' links that are not rejected;
    ``reviews`` the reviews those links come from, by id. ``base_url`` is the
    service's address (the page of a review without a URL of its own lives there).
    """

    series: SeriesRecord
    episodes: Sequence[EpisodeRecord]
    links: Sequence[LinkRecord]
    reviews: Mapping[int, ReviewRecord]
    self_url: str
    base_url: str
    generator: str
    updated: datetime | None = None
    owner_name: str | None = None
    owner_email: str | None = None
    episode_authors: Mapping[int, str] = field(default_factory=dict)
    pages: PageLinks | None = None  # when the episodes are one page of several


@dataclass(frozen=True, slots=True)
class ReviewsFeed:
    """Everything a page of the reviews feed shows: ``reviews`` newest first, their
    links (not rejected), the episodes and series those links name (by id)."""

    title: str
    description: str
    link: str
    self_url: str
    base_url: str
    generator: str
    reviews: Sequence[ReviewRecord]
    links: Sequence[LinkRecord]
    episodes: Mapping[int, EpisodeRecord]
    series: Mapping[int, SeriesRecord]
    image: str | None = None
    updated: datetime | None = None
    pages: PageLinks | None = None  # when the reviews are one page of several


# --- small pure helpers ------------------------------------------------------------


def _clean(value: str) -> str:
    # Printable text (most titles, URLs, guids) cannot hold a character XML refuses:
    # those are all controls, surrogates or non-characters. The check runs in C.
    return value if value.isprintable() else _NOT_XML.sub("", value)


def rfc822(value: datetime) -> str:
    """An RSS date (RFC 822 as RFC 1123 has it), always in GMT.

    >>> rfc822(datetime(2017, 3, 28, 13, 15, tzinfo=UTC))
    'Tue, 28 Mar 2017 13:15:00 GMT'
    """
    # By hand: email.utils.format_datetime costs ~20 µs a call, 3,000 calls a feed.
    v = value.astimezone(UTC)
    day, month = _DAYS[v.weekday()], _MONTHS[v.month - 1]
    return f"{day}, {v.day:02d} {month} {v.year:04d} {v.hour:02d}:{v.minute:02d}:{v.second:02d} GMT"


def feed_identity(series: SeriesRecord) -> str:
    """How our namespace names a feed: its podcast:guid, else its URL."""
    return series.podcast_guid or series.feed_url


def safe_url(url: str | None) -> str | None:
    """``url`` if a reader may follow it (http or https), else None.

    >>> safe_url("https://example.com/a"), safe_url("javascript:alert(1)"), safe_url(None)
    ('https://example.com/a', None, None)
    """
    if url is None:
        return None
    url = url.strip()
    return url if url[:8].lower().startswith(("http://", "https://")) else None


def site_name(url: str | None) -> str | None:
    """The host a review lives on, without ``www.``.

    >>> site_name("https://www.vulture.com/article/x.html")
    'vulture.com'
    """
    host = urlsplit(url).hostname if url else None
    return host.removeprefix("www.") if host else None


def excerpt(text: str, around: tuple[int, int] | None = None, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of ``text`` (whitespace collapsed, cut between
    words), centred on the span ``around`` when given, with ellipses at the cuts.

    >>> excerpt("one two three four five six", limit=14)
    'one two three…'
    >>> excerpt("alpha beta gamma delta epsilon zeta", (17, 22), limit=17)
    '…gamma delta…'
    >>> excerpt("short  text")
    'short text'
    """
    if len(text) <= limit:
        return " ".join(text.split())
    start = 0
    if around is not None and 0 <= around[0] < len(text):
        middle = (around[0] + max(around[0], around[1])) // 2
        start = max(0, min(middle - limit // 2, len(text) - limit))
    end = start + limit
    if start > 0 and not text[start - 1].isspace():  # mid-word: skip to the next word
        space = _SPACE.search(text, start, end)
        start = space.end() if space else start
    if end < len(text) and not text[end].isspace():
        cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
        end = cut if cut > start else end
    piece = " ".join(text[start:end].split())
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text) else "")


def _evidence_span(link: LinkRecord) -> tuple[int, int] | None:
    # The linker lists its strongest evidence first; a span of -1 lies outside the text.
    for item in link.evidence:
        if item.start >= 0:
            return item.start, item.end
    return None


def reviewed_episode(links: Iterable[LinkRecord]) -> LinkRecord | None:
    """Of one review's links, the one to the episode it reviews: the best-scored
    ``reviews`` link to an episode (None when it reviews no single episode)."""
    candidates = [x for x in links if x.relation is Relation.REVIEWS and x.episode_id is not None]
    return max(candidates, key=lambda x: (x.score, -x.id), default=None)


def review_page(review: ReviewRecord, base_url: str) -> str:
    """Where a reader can read the review: its own URL, else our page of it."""
    return safe_url(review.url) or f"{base_url.rstrip('/')}/reviews/{review.id}"


def _note_order(link: LinkRecord, review: ReviewRecord) -> tuple[bool, float, float]:
    # Reviews of the episode before mentions of it, then best score, then newest.
    published = review.published.timestamp() if review.published else 0.0
    return (link.relation is not Relation.REVIEWS, -link.score, -published)


# --- HTML descriptions ---------------------------------------------------------------


def _review_line(link: LinkRecord, review: ReviewRecord, base_url: str) -> object:
    title = review.title or site_name(review.url) or f"Review {review.id}"
    about = [site_name(review.url)]
    if review.author:
        about.append(f"by {review.author}")
    if review.published:
        about.append(review.published.date().isoformat())
    verb = "reviews" if link.relation is Relation.REVIEWS else "mentions"
    meta = ", ".join(x for x in about if x)
    return h.LI(
        h.A(_clean(title), href=review_page(review, base_url)),
        _clean(f" — {meta}" if meta else ""),
        h.SMALL(f" ({verb} it, score {link.score:.2f})"),
        h.BLOCKQUOTE(_clean(excerpt(review.text, _evidence_span(link)))),
    )


def reviews_html(notes: Sequence[tuple[LinkRecord, ReviewRecord]], base_url: str) -> str:
    """The block of reviews appended to a description (empty without reviews)."""
    if not notes:
        return ""
    ordered = sorted(notes, key=lambda n: _note_order(*n))
    items = [_review_line(link, review, base_url) for link, review in ordered[:MAX_REVIEWS_SHOWN]]
    block = h.DIV(h.P(h.STRONG("Reviews")), h.UL(*items))
    if len(ordered) > MAX_REVIEWS_SHOWN:
        block.append(h.P(f"and {len(ordered) - MAX_REVIEWS_SHOWN} more"))
    return str(html_tostring(block, encoding="unicode"))


def _with_reviews(description_html: str, block: str) -> str:
    # Stored descriptions were sanitized at parse time; sanitizing the whole again
    # costs little and keeps the guarantee in this one place.
    combined = f"{description_html}<hr>{block}" if block and description_html else block
    return _clean(sanitize_html(combined or description_html))


# --- XML building -------------------------------------------------------------------


def _sub(parent: object, tag: str, text: str | None = None, /, **attributes: str | None) -> object:
    attrib = {name: _clean(value) for name, value in attributes.items() if value is not None}
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = _clean(text)
    return element


def _persons(parent: object, persons: Sequence[Person]) -> None:
    for p in persons:
        href, img = safe_url(p.href), safe_url(p.img)
        _sub(
            parent, _q(PODCAST_NS, "person"), p.name, role=p.role, group=p.group, href=href, img=img
        )


def _agg_link(
    parent: object, link: LinkRecord, series: SeriesRecord | None, review_url: str
) -> None:
    # One element per link; attributes documented in docs/namespace.md.
    _sub(
        parent,
        _q(AGG_NS, "link"),
        review=review_url,
        feed=feed_identity(series) if series else link.feed_url,
        feedUrl=series.feed_url if series else link.feed_url,
        episode=link.episode_guid,
        relation=link.relation.value,
        score=f"{link.score:.3f}",
        status=link.status.value,
    )


def _channel(
    title: str,
    link: str,
    description: str,
    self_url: str,
    generator: str,
    updated: datetime | None,
    pages: PageLinks | None = None,
) -> tuple[object, object]:
    rss = etree.Element("rss", nsmap=NSMAP, version="2.0")
    channel = _sub(rss, "channel")
    _sub(channel, "title", title)
    _sub(channel, "link", link)
    _sub(channel, "description", description)
    _sub(channel, _q(ATOM_NS, "link"), href=self_url, rel="self", type=_RSS_TYPE)
    if pages is not None:
        for rel in ("first", "previous", "next"):
            href = getattr(pages, rel)
            if href is not None:
                _sub(channel, _q(ATOM_NS, "link"), href=href, rel=rel, type=_RSS_TYPE)
    _sub(channel, "generator", generator)
    if updated is not None:
        _sub(channel, "lastBuildDate", rfc822(updated))
    return rss, channel


def _image(channel: object, image: str | None, title: str, link: str) -> None:
    url = safe_url(image)
    if url is None:
        return
    # Classic RSS image for feed readers, itunes:image for podcast apps.
    picture = _sub(channel, "image")
    _sub(picture, "url", url)
    _sub(picture, "title", title)
    _sub(picture, "link", link)
    _sub(channel, _q(ITUNES_NS, "image"), href=url)


def _enclosure(item: object, episode: EpisodeRecord) -> None:
    enclosure = episode.enclosure
    # A feed may say anything here (javascript: included); apps play what we republish.
    if enclosure is None or safe_url(enclosure.url) is None:
        return
    # RSS requires type and length: an unknown length is "0", as podcasters write it,
    # and an unknown type is told from the file name when it can be.
    kind = enclosure.type or guess_type(urlsplit(enclosure.url).path)[0]
    _sub(item, "enclosure", url=enclosure.url, length=str(enclosure.length or 0), type=kind)


def _guid(item: object, guid: str, link: str | None) -> None:
    # The guid string is kept exactly: apps know episodes by it. It is a permalink
    # only when it is the item's web address; RSS assumes one unless told otherwise.
    permalink = guid == link and safe_url(guid) is not None
    _sub(item, "guid", guid, isPermaLink="true" if permalink else "false")


def _episode_tags(item: object, episode: EpisodeRecord, author: str | None) -> None:
    if author:
        _sub(item, _q(ITUNES_NS, "author"), author)
    if episode.duration_seconds is not None:
        _sub(item, _q(ITUNES_NS, "duration"), str(episode.duration_seconds))
    if safe_url(episode.image):
        _sub(item, _q(ITUNES_NS, "image"), href=episode.image)
    if episode.season is not None:
        _sub(item, _q(ITUNES_NS, "season"), str(episode.season))
    if episode.number is not None:
        _sub(item, _q(ITUNES_NS, "episode"), str(episode.number))
    if episode.episode_type:
        _sub(item, _q(ITUNES_NS, "episodeType"), episode.episode_type)
    transcript = safe_url(episode.transcript_url)
    if transcript:
        suffix = urlsplit(transcript).path.rsplit(".", 1)[-1].lower()
        kind = _TRANSCRIPT_TYPES.get(f".{suffix}", "text/plain")
        _sub(item, _q(PODCAST_NS, "transcript"), url=transcript, type=kind)
    chapters = safe_url(episode.chapters_url)
    if chapters:
        _sub(item, _q(PODCAST_NS, "chapters"), url=chapters, type="application/json+chapters")
    _persons(item, episode.persons)


def _bytes(rss: object, *, declaration: bool = True) -> bytes:
    return bytes(
        etree.tostring(rss, xml_declaration=declaration, encoding="UTF-8", pretty_print=True)
    )


def _stream(rss: object, items: Iterable[T], add: Callable[[object, T], None]) -> Iterator[bytes]:
    """The document ``rss`` with an item added by ``add`` for each of ``items``, as
    pieces: the channel, then ``CHUNK_ITEMS`` items at a time, then its end.

    A page of a thousand items with long show notes was three copies in memory at
    once (the records, lxml's tree, the bytes); this way the tree and the bytes are
    never more than one chunk. Each chunk is built in a document of its own, under
    the same namespaces, and cut out between its ``<channel>`` tags, so the pieces
    joined are byte for byte the document built whole (lxml escapes every ``<`` in
    text and attributes, so those tags cannot appear inside an item).
    """
    head = _bytes(rss)
    end = len(head[: head.rindex(b"</channel>")].rstrip())
    yield head[:end]
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == CHUNK_ITEMS:
            yield _items(batch, add)
            batch = []
    if batch:
        yield _items(batch, add)
    yield head[end:]


def _items(batch: Sequence[T], add: Callable[[object, T], None]) -> bytes:
    rss = etree.Element("rss", nsmap=NSMAP)
    channel = _sub(rss, "channel")
    for item in batch:
        add(channel, item)
    piece = _bytes(rss, declaration=False)
    return piece[
        piece.index(b"<channel>") + len(b"<channel>") : piece.rindex(b"</channel>")
    ].rstrip()


# --- the two feeds ------------------------------------------------------------------


def render_series_feed(feed: SeriesFeed) -> bytes:
    """The series as a podcast feed, each episode's description with its reviews."""
    return b"".join(series_feed_chunks(feed))


def series_feed_chunks(feed: SeriesFeed) -> Iterator[bytes]:
    """``render_series_feed`` in pieces, built as they are asked for (``_stream``)."""
    series = feed.series
    by_episode: dict[int | None, list[tuple[LinkRecord, ReviewRecord]]] = {}
    for link in feed.links:
        review = feed.reviews.get(link.review_id)
        if review is not None:
            by_episode.setdefault(link.episode_id, []).append((link, review))

    home = safe_url(series.link) or feed.self_url
    about_series = by_episode.get(None, [])
    description = _with_reviews(series.description_html, reviews_html(about_series, feed.base_url))
    rss, channel = _channel(
        series.title, home, description, feed.self_url, feed.generator, feed.updated, feed.pages
    )
    _sub(channel, _q(AGG_NS, "origin"), url=series.feed_url, feed=feed_identity(series))
    if series.language:
        _sub(channel, "language", series.language)
    if series.author:
        _sub(channel, _q(ITUNES_NS, "author"), series.author)
    if feed.owner_name or feed.owner_email:
        owner = _sub(channel, _q(ITUNES_NS, "owner"))
        if feed.owner_name:
            _sub(owner, _q(ITUNES_NS, "name"), feed.owner_name)
        if feed.owner_email:
            _sub(owner, _q(ITUNES_NS, "email"), feed.owner_email)
    _image(channel, series.image, series.title, home)
    for category in series.categories:
        _sub(channel, _q(ITUNES_NS, "category"), text=category)
    if series.itunes_type:
        _sub(channel, _q(ITUNES_NS, "type"), series.itunes_type)
    if series.podcast_guid:
        _sub(channel, _q(PODCAST_NS, "guid"), series.podcast_guid)
    _persons(channel, series.persons)
    for link, review in about_series:
        _agg_link(channel, link, series, review_page(review, feed.base_url))

    def add(channel: object, episode: EpisodeRecord) -> None:
        notes = by_episode.get(episode.id, [])
        item = _sub(channel, "item")
        _sub(item, "title", episode.title)
        if safe_url(episode.link):
            _sub(item, "link", episode.link)
        _guid(item, episode.guid, episode.link)
        if episode.published is not None:
            _sub(item, "pubDate", rfc822(episode.published))
        block = reviews_html(notes, feed.base_url)
        _sub(item, "description", _with_reviews(episode.description_html, block))
        _enclosure(item, episode)
        _episode_tags(item, episode, feed.episode_authors.get(episode.id))
        for link, review in notes:
            _agg_link(item, link, series, review_page(review, feed.base_url))

    return _stream(rss, feed.episodes, add)


def _review_description(
    review: ReviewRecord,
    reviewed: LinkRecord | None,
    episode: EpisodeRecord | None,
    series: SeriesRecord | None,
    base_url: str,
) -> str:
    parts: list[object] = []
    if reviewed is not None and episode is not None:
        href = safe_url(episode.link)
        title = _clean(episode.title)
        target = h.A(title, href=href) if href else h.STRONG(title)
        show = f" ({_clean(series.title)})" if series else ""
        parts.append(h.P("Reviews ", target, show, f", score {reviewed.score:.2f}."))
    parts.append(
        h.BLOCKQUOTE(_clean(excerpt(review.text, _evidence_span(reviewed) if reviewed else None)))
    )
    by = [x for x in (site_name(review.url), review.author and f"by {review.author}") if x]
    read = h.A("Read the review", href=review_page(review, base_url))
    parts.append(h.P(read, _clean(f" ({', '.join(by)})") if by else ""))
    html = "".join(str(html_tostring(p, encoding="unicode")) for p in parts)
    return _clean(sanitize_html(html))


def render_reviews_feed(feed: ReviewsFeed) -> bytes:
    """Reviews as items; each carries the enclosure and link of the episode it reviews."""
    return b"".join(reviews_feed_chunks(feed))


def reviews_feed_chunks(feed: ReviewsFeed) -> Iterator[bytes]:
    """``render_reviews_feed`` in pieces, built as they are asked for (``_stream``)."""
    links_of: dict[int, list[LinkRecord]] = {}
    for link in feed.links:
        links_of.setdefault(link.review_id, []).append(link)
    home = safe_url(feed.link) or feed.self_url
    rss, channel = _channel(
        feed.title, home, feed.description, feed.self_url, feed.generator, feed.updated, feed.pages
    )
    _image(channel, feed.image, feed.title, home)

    def add(channel: object, review: ReviewRecord) -> None:
        links = links_of.get(review.id, [])
        reviewed = reviewed_episode(links)
        episode = (
            feed.episodes.get(reviewed.episode_id) if reviewed and reviewed.episode_id else None
        )
        series = feed.series.get(reviewed.series_id) if reviewed else None
        page = review_page(review, feed.base_url)
        item = _sub(channel, "item")
        title = review.title or (f"Review: {episode.title}" if episode else f"Review {review.id}")
        _sub(item, "title", title)
        _sub(item, "link", safe_url(episode.link if episode else None) or page)
        _guid(item, page, None)
        published = review.published or review.created_at
        if published is not None:
            _sub(item, "pubDate", rfc822(published))
        description = _review_description(review, reviewed, episode, series, feed.base_url)
        _sub(item, "description", description)
        if review.author:
            _sub(item, _q(ITUNES_NS, "author"), review.author)
        if episode is not None:
            _enclosure(item, episode)
            if episode.duration_seconds is not None:
                _sub(item, _q(ITUNES_NS, "duration"), str(episode.duration_seconds))
            image = safe_url(episode.image) or safe_url(series.image if series else None)
            if image:
                _sub(item, _q(ITUNES_NS, "image"), href=image)
        for link in links:
            _agg_link(item, link, feed.series.get(link.series_id), page)

    return _stream(rss, feed.reviews, add)
