"""Plain typed values that the stages hand each other.

fetch -> ``FetchResult``; parse -> ``ParsedFeed`` (``ParsedSeries`` + ``ParsedEpisode``);
the update decision -> ``FeedUpdate``; storage <- those, -> ``FeedRecord``,
``SeriesRecord``, ``EpisodeRecord``. No ORM rows and no feedparser dicts cross a
stage boundary. Every datetime is timezone-aware UTC.

Why one module of over 400 lines: these values are the contracts between the stages;
together, every boundary reads in one place, and no stage imports another for types.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "CatalogEpisode",
    "CatalogSeries",
    "Enclosure",
    "EpisodeRecord",
    "Evidence",
    "FeedKind",
    "FeedRecord",
    "FeedStatus",
    "FeedUpdate",
    "FetchResult",
    "HyperLink",
    "LinkProposal",
    "LinkRecord",
    "LinkStatus",
    "Match",
    "ParsedEpisode",
    "ParsedFeed",
    "ParsedSeries",
    "Person",
    "Relation",
    "ReviewDocument",
    "ReviewRecord",
    "ReviewSourceRecord",
    "SavedReview",
    "SeriesRecord",
    "StoreCounts",
    "TextSketch",
    "Validators",
]


class FeedKind(enum.StrEnum):
    PODCAST = "podcast"
    REVIEWS = "reviews"


class FeedStatus(enum.StrEnum):
    ACTIVE = "active"  # last poll succeeded (or never polled yet)
    FAILING = "failing"  # last poll(s) failed; retried with backoff, never given up
    GONE = "gone"  # 410 Gone; not polled again unless re-added


# --- fetch -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP cache validators kept from the last successful response."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch of a feed brought back.

    ``content`` is None exactly when ``not_modified`` (a 304). ``moved_to`` is set when
    every redirect from the requested URL was permanent (301/308): the feed's stored
    URL should follow. ``headers`` are lower-cased names.
    """

    url: str
    final_url: str
    status: int
    content: bytes | None
    headers: Mapping[str, str]
    validators: Validators
    moved_to: str | None = None
    retry_after: datetime | None = None
    max_age_seconds: int | None = None
    elapsed_seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.content is None


# --- parse -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """A ``podcast:person`` (or an ``itunes:author`` turned into one)."""

    name: str
    role: str | None = None
    group: str | None = None
    href: str | None = None
    img: str | None = None


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    type: str | None = None
    length: int | None = None  # bytes; None when absent, zero or not a number


@dataclass(frozen=True, slots=True)
class ParsedEpisode:
    """One item of a podcast feed, sanitized and normalized.

    ``guid`` is the item's guid, else its link, else its single enclosure URL, else a
    hash of title and date; ``guid_is_fallback`` says it was not a real guid.
    ``item_hash`` hashes the raw bytes of the item as it stood in the document (for
    incremental parsing); ``content_hash`` hashes the normalized fields (to decide
    whether a stored episode changed).
    """

    guid: str
    title: str
    description_html: str = ""
    link: str | None = None
    published: datetime | None = None
    enclosure: Enclosure | None = None
    duration_seconds: int | None = None
    season: int | None = None
    number: int | None = None
    episode_type: str | None = None  # "full", "trailer" or "bonus"
    image: str | None = None
    transcript_url: str | None = None
    chapters_url: str | None = None
    persons: tuple[Person, ...] = ()
    author: str | None = None
    guid_is_fallback: bool = False
    item_hash: str | None = None
    content_hash: str = ""


@dataclass(frozen=True, slots=True)
class ParsedSeries:
    title: str
    author: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None
    description_html: str = ""
    link: str | None = None
    image: str | None = None
    language: str | None = None
    categories: tuple[str, ...] = ()
    itunes_type: str | None = None  # "episodic" or "serial"
    podcast_guid: str | None = None
    persons: tuple[Person, ...] = ()
    new_feed_url: str | None = None  # itunes:new-feed-url / redirect newLocation
    ttl_minutes: int | None = None  # RSS <ttl>
    content_hash: str = ""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document.

    With a full parse ``complete`` is True and ``episodes`` holds every item. With an
    incremental parse ``complete`` is False and ``episodes`` holds only the items
    whose raw bytes are new or changed; ``item_hashes`` always holds the raw hash of
    every item in the document, so storage can tell which known episodes are still
    present and which disappeared.
    """

    series: ParsedSeries
    episodes: tuple[ParsedEpisode, ...]
    item_hashes: frozenset[str] = frozenset()
    complete: bool = True
    warning: str | None = None  # set when feedparser recovered from a broken document
    # Items not read at all, over the cap of items per poll (then ``complete`` is
    # False; ``item_hashes`` still holds the known ones among them).
    left_out: int = 0


# --- update decision and storage ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """A feed as storage knows it."""

    id: int
    url: str
    added_url: str
    kind: FeedKind
    status: FeedStatus
    validators: Validators = field(default_factory=Validators)
    content_hash: str | None = None
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    error_count: int = 0
    last_error: str | None = None
    warning: str | None = None
    note: str | None = None  # e.g. "moved from X (301) on 2026-11-29"
    title: str | None = None
    created_at: datetime | None = None
    # The feed's publishing rhythm and <ttl>, kept from its last changed document so
    # that a 304 can be scheduled without reading episodes.
    typical_gap_minutes: float | None = None
    newest_published_at: datetime | None = None
    ttl_minutes: int | None = None
    # "api" for a feed added through the HTTP API: fetched only from public addresses.
    added_via: str | None = None


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """What one poll decided about a feed: written by storage in one transaction."""

    feed_id: int
    polled_at: datetime
    next_poll_at: datetime
    status: FeedStatus
    url: str | None = None  # new URL when the feed moved, else None
    validators: Validators | None = None  # None: keep the stored ones
    content_hash: str | None = None  # None: keep the stored one
    error_count: int = 0
    last_error: str | None = None
    warning: str | None = None
    note: str | None = None  # None: keep the stored note
    # None: keep the stored values (set only when a changed document was parsed)
    typical_gap_minutes: float | None = None
    newest_published_at: datetime | None = None
    ttl_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """Episodes written by one poll."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0  # known episodes no longer in the feed (kept, marked)
    # Context, not counts (so left out of ==): the series written, when the poll had
    # content, and the earliest publication date among new and changed episodes --
    # reviews older than that cannot be about them (used to re-link incrementally).
    series_id: int | None = field(default=None, compare=False)
    changed_since: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    id: int
    feed_id: int
    feed_url: str
    title: str
    author: str | None
    description_html: str
    link: str | None
    image: str | None
    language: str | None
    categories: tuple[str, ...]
    itunes_type: str | None
    podcast_guid: str | None
    persons: tuple[Person, ...]
    episode_count: int = 0


@dataclass(frozen=True, slots=True)
class EpisodeRecord:
    id: int
    series_id: int
    guid: str
    title: str
    description_html: str
    link: str | None
    published: datetime | None
    enclosure: Enclosure | None
    duration_seconds: int | None
    season: int | None
    number: int | None
    episode_type: str | None
    image: str | None
    transcript_url: str | None
    chapters_url: str | None
    persons: tuple[Person, ...]
    missing_since: datetime | None = None


# --- reviews and links -------------------------------------------------------------


class Relation(enum.StrEnum):
    REVIEWS = "reviews"  # the subject of the review
    MENTIONS = "mentions"  # named in passing or as a comparison


@dataclass(frozen=True, slots=True)
class HyperLink:
    """A hyperlink of the review's original HTML.

    ``start``/``end`` locate its anchor text in ``ReviewDocument.text`` (-1 when the
    anchor text is not part of the main text, e.g. a link in a sidebar).
    """

    href: str
    text: str
    start: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class ReviewDocument:
    """A review as the linker reads it: main text with boilerplate removed."""

    text: str
    title: str | None = None
    url: str | None = None
    author: str | None = None
    published: datetime | None = None
    links: tuple[HyperLink, ...] = ()
    html: str | None = None  # the original (sanitized) HTML, when it came as HTML


@dataclass(frozen=True, slots=True)
class CatalogEpisode:
    """An episode as the linker sees it (plain text, no HTML)."""

    id: int
    series_id: int
    guid: str
    title: str
    description_text: str = ""
    published: datetime | None = None
    season: int | None = None
    number: int | None = None
    episode_type: str | None = None
    link: str | None = None
    enclosure_url: str | None = None
    persons: tuple[Person, ...] = ()


@dataclass(frozen=True, slots=True)
class CatalogSeries:
    """A series and its episodes as the linker sees them."""

    id: int
    title: str
    feed_url: str
    author: str | None = None
    owner_name: str | None = None
    description_text: str = ""
    link: str | None = None
    image: str | None = None
    categories: tuple[str, ...] = ()
    persons: tuple[Person, ...] = ()
    episodes: tuple[CatalogEpisode, ...] = ()


@dataclass(frozen=True, slots=True)
class Evidence:
    """Words of the review that point at a series or episode.

    ``kind`` says what sort of signal (e.g. "hyperlink", "series-title", "person",
    "episode-title", "episode-number", "ordinal", "relative", "guest", "term", "date",
    "count"); ``text`` is the matched text, ``start``/``end`` its character span in
    the review text (-1 for signals outside the text, e.g. a link in a sidebar), and
    ``detail`` what it matched ("host Rukmini Callimachi (ratio 91)").
    """

    kind: str
    text: str
    start: int
    end: int
    detail: str


@dataclass(frozen=True, slots=True)
class LinkProposal:
    """One link the linker proposes: a series, or one episode of it."""

    series_id: int
    episode_id: int | None
    relation: Relation
    score: float  # in [0, 1]
    evidence: tuple[Evidence, ...]


class LinkStatus(enum.StrEnum):
    AUTO = "auto"  # proposed by the linker; replaced when the review is re-linked
    CONFIRMED = "confirmed"  # a person said yes: kept whatever the linker says later
    REJECTED = "rejected"  # a person said no: the linker may not propose it again
    MANUAL = "manual"  # added by a person


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """A review as storage knows it."""

    id: int
    text: str
    content_hash: str
    source: str  # "feed", "file", "url" or "stdin"
    url: str | None = None
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    html: str | None = None
    links: tuple[HyperLink, ...] = ()
    feed_id: int | None = None  # the reviews feed it came from
    linker_version: str | None = None  # None: never linked
    linked_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def document(self) -> ReviewDocument:
        """The review as the linker reads it."""
        return ReviewDocument(
            text=self.text,
            title=self.title,
            url=self.url,
            author=self.author,
            published=self.published,
            links=self.links,
            html=self.html,
        )


@dataclass(frozen=True, slots=True)
class TextSketch:
    """A text's MinHash signature over its word shingles, and the hashes of its LSH
    bands (``aggregator.fingerprint``): what finds a copy that is nearly the same."""

    signature: tuple[int, ...]
    bands: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ReviewSourceRecord:
    """One way a review arrived: a feed's item, a page, a file, stdin, the API.

    ``location`` is the item's link, the page's URL or the file's path ("" for stdin
    and for text given to the API without a URL); ``feed_id`` the reviews feed of an
    item (None once the feed is removed).
    """

    kind: str  # "feed", "url", "file", "stdin" or "api"
    location: str
    feed_id: int | None
    added_at: datetime


class Match(enum.StrEnum):
    """How a copy of a review was found to be one already stored."""

    ADDRESS = "same address"  # the review's URL, or a URL it came from before
    TEXT = "same text"  # the same words (case, spacing and punctuation aside)
    NEAR_TEXT = "nearly the same text"  # a headline, footer or a few edits apart


@dataclass(frozen=True, slots=True)
class SavedReview:
    """What saving a copy of a review did.

    ``match`` is None for a new review. ``source_added`` when the copy came a new
    way (always for a new review; for one stored already: another address, file or
    feed); ``changed`` when the stored review changed (its text or what is known
    about it), ``took_text`` when that change is this copy's text in place of the
    shorter one stored.
    """

    review: ReviewRecord
    match: Match | None = None
    source_added: bool = True
    changed: bool = False
    took_text: bool = False

    @property
    def created(self) -> bool:
        return self.match is None


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """A stored link, with what a reader of it needs to know about both ends."""

    id: int
    review_id: int
    series_id: int
    episode_id: int | None
    relation: Relation
    score: float
    evidence: tuple[Evidence, ...]
    status: LinkStatus
    linker_version: str | None
    review_url: str | None = None
    review_title: str | None = None
    review_published: datetime | None = None
    series_title: str = ""
    feed_url: str = ""
    episode_guid: str | None = None
    episode_title: str | None = None
    episode_published: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
