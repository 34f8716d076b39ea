"""The API's request and response bodies, as pydantic models (they make the OpenAPI).

Dates go out as ISO 8601 strings in UTC with an explicit offset
(``2018-07-01T00:00:00+00:00``), exactly as the CLI's ``--json`` prints them; the
link shape is the CLI's documented one (README "Links as JSON") plus the link's
``id``, which the API needs to confirm or reject it.

Text that came from feeds or reviews is returned as data: HTML fields
(``description_html``) are the sanitized HTML stored, every other string is plain
text, and all of it is JSON — a client that puts it in a page must escape it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from aggregator.reviews.extract import MAX_REVIEW_BYTES
from aggregator.types import FeedKind, LinkStatus, Relation

__all__ = [
    "MAX_ID",
    "EpisodeDetailOut",
    "EpisodeOut",
    "ErrorOut",
    "EvidenceOut",
    "FeedIn",
    "FeedOut",
    "HealthOut",
    "HyperLinkOut",
    "Id",
    "IsoDateTime",
    "LinkEpisodeOut",
    "LinkIn",
    "LinkOut",
    "LinkReviewOut",
    "LinkSeriesOut",
    "Page",
    "PersonOut",
    "PollOut",
    "ReviewAddedOut",
    "ReviewIn",
    "ReviewOut",
    "ReviewSummaryOut",
    "ReviewText",
    "SearchOut",
    "SeriesDetailOut",
    "SeriesOut",
    "ShortText",
    "UrlText",
    "plain_text",
]

# Ids are 32-bit on PostgreSQL; a larger one names nothing and must not reach SQL.
MAX_ID = 2**31 - 1

IsoDateTime = Annotated[
    str,
    Field(
        description="ISO 8601 date and time in UTC, e.g. 2018-07-01T00:00:00+00:00",
        json_schema_extra={"format": "date-time"},
    ),
]


def plain_text(value: str) -> str:
    """Refuse text no database can store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


# Strings from a request: storable text, of bounded length.
ShortText = Annotated[str, Field(max_length=2000), AfterValidator(plain_text)]
UrlText = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(plain_text)]
# No max_length: a review over the limit (MAX_REVIEW_BYTES of UTF-8, the same for
# every way in) is refused by intake with a 413, not by validation with a 422.
ReviewText = Annotated[
    str,
    Field(min_length=1, description=f"At most {MAX_REVIEW_BYTES:,} bytes of UTF-8."),
    AfterValidator(plain_text),
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

T = TypeVar("T")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_fields(cls, data: Any) -> Any:
        # One error for all unknown fields, before pydantic makes one per field: a
        # 12 MB body of 800,000 unknown keys cost 28 s of server time building
        # 800,000 errors that no answer names anyway.
        if isinstance(data, dict):
            unknown = [key for key in data if key not in cls.model_fields]
            if unknown:
                shown = ", ".join(repr(str(key)[:40]) for key in unknown[:3])
                more = f" and {len(unknown) - 3:,} more" if len(unknown) > 3 else ""
                raise ValueError(f"unknown fields {shown}{more}")
        return data


class ErrorOut(_Out):
    error: str = Field(description="What went wrong, in one line.")


class Page(_Out, Generic[T]):
    """One page of a list; ask for the next with ``offset=next_offset``."""

    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")


# --- feeds ---------------------------------------------------------------------------


class FeedOut(_Out):
    id: int
    url: str = Field(description="The URL polled now (it follows permanent redirects).")
    added_url: str
    kind: FeedKind
    status: str = Field(description="active, failing or gone")
    title: str | None
    last_polled_at: IsoDateTime | None
    next_poll_at: IsoDateTime | None
    error_count: int
    last_error: str | None
    warning: str | None
    note: str | None
    added_via_api: bool = Field(
        description="Added through this API: fetched only from public addresses."
    )


class FeedIn(_In):
    url: UrlText = Field(description="An http(s) URL on a public address.")
    kind: FeedKind = FeedKind.PODCAST


class PollOut(_Out):
    feed_id: int
    url: str
    outcome: str = Field(description="new, updated, unchanged, not-modified, failed or gone")
    new: int
    updated: int
    unchanged: int
    missing: int
    error: str | None
    elapsed_seconds: float


# --- series and episodes --------------------------------------------------------------


class PersonOut(_Out):
    name: str
    role: str | None
    group: str | None


class SeriesOut(_Out):
    id: int
    title: str
    feed_id: int
    feed_url: str
    author: str | None
    link: str | None
    image: str | None
    language: str | None
    categories: list[str]
    type: str | None = Field(description="itunes:type: episodic or serial")
    podcast_guid: str | None
    episode_count: int
    review_count: int = Field(description="Reviews linked to the series or its episodes.")


class SeriesDetailOut(SeriesOut):
    description_html: str = Field(description="Sanitized HTML from the feed.")
    persons: list[PersonOut]


class EpisodeOut(_Out):
    id: int
    series_id: int
    guid: str
    title: str
    published: IsoDateTime | None
    link: str | None
    enclosure_url: str | None
    enclosure_type: str | None
    enclosure_length: int | None
    duration: int | None = Field(description="Seconds")
    season: int | None
    number: int | None
    episode_type: str | None
    image: str | None
    transcript_url: str | None
    chapters_url: str | None
    persons: list[PersonOut]
    missing_since: IsoDateTime | None = Field(
        description="When the episode left its feed (kept, marked); null while in it."
    )
    review_count: int = Field(description="Reviews linked to this episode.")


class EpisodeDetailOut(EpisodeOut):
    description_html: str = Field(description="Sanitized HTML from the feed.")


# --- links -----------------------------------------------------------------------------


class LinkReviewOut(_Out):
    id: int
    url: str | None
    title: str | None
    published: IsoDateTime | None


class LinkSeriesOut(_Out):
    id: int
    title: str
    feed_url: str


class LinkEpisodeOut(_Out):
    id: int
    guid: str | None
    title: str | None
    published: IsoDateTime | None


class EvidenceOut(_Out):
    kind: str
    text: str
    start: int = Field(description="Character offset into the review text; -1 outside it.")
    end: int
    detail: str


class LinkOut(_Out):
    id: int
    review: LinkReviewOut
    series: LinkSeriesOut
    episode: LinkEpisodeOut | None = Field(description="null: the series as a whole")
    relation: Relation
    score: float = Field(ge=0.0, le=1.0)
    status: LinkStatus
    evidence: list[EvidenceOut]


class LinkIn(_In):
    review_id: Id
    series_id: Id
    episode_id: Id | None = Field(default=None, description="null: the series as a whole")
    relation: Relation = Relation.REVIEWS


# --- reviews ---------------------------------------------------------------------------


class ReviewSummaryOut(_Out):
    id: int
    url: str | None
    title: str | None
    author: str | None
    published: IsoDateTime | None
    source: str = Field(description="feed, url, file, stdin or api")
    feed_id: int | None
    linker_version: str | None
    linked_at: IsoDateTime | None
    excerpt: str = Field(description="The first characters of the text (plain text).")
    text_length: int
    link_count: int


class HyperLinkOut(_Out):
    href: str
    text: str
    start: int
    end: int


class ReviewSourceOut(_Out):
    kind: str = Field(
        description="How the review came: feed (a reviews feed's item), url (a page "
        "fetched), file, stdin, or api (text given to the API)."
    )
    location: str = Field(
        description="The item's link or the page's URL; a file's name; empty for stdin and "
        "text given without a URL."
    )
    feed_id: int | None = Field(description="The reviews feed of an item, while it is followed.")
    added_at: IsoDateTime


class ReviewOut(_Out):
    id: int
    url: str | None
    title: str | None
    author: str | None
    published: IsoDateTime | None
    source: str
    feed_id: int | None
    linker_version: str | None
    linked_at: IsoDateTime | None
    text: str = Field(description="The review's main text (plain text; evidence offsets index it).")
    hyperlinks: list[HyperLinkOut]
    links: list[LinkOut]
    sources: list[ReviewSourceOut] = Field(
        description="Every way the review arrived, first come first: copies of one review "
        "(at the same address with the same or an overlapping text, the same text, or "
        "nearly the same text) are one review."
    )


class ReviewAddedOut(_Out):
    created: bool = Field(description="false: the review was stored already (see match)")
    match: Literal["same address", "same text", "nearly the same text"] | None = Field(
        description="How the stored review was found: its URL or one it came from, the same "
        "words, or nearly the same text (a headline, footer or a few edits apart); null "
        "for a new review."
    )
    source_added: bool = Field(description="true: the review came a new way, now recorded")
    review: ReviewOut


class ReviewIn(_In):
    """A review by its text, or by the URL of its page (fetched by the server)."""

    text: ReviewText | None = Field(
        default=None, description="The review itself; without it, the page at url is fetched."
    )
    format: Literal["text", "markdown", "html"] | None = Field(
        default=None, description="How text is written; guessed when absent."
    )
    url: UrlText | None = Field(
        default=None,
        description="Where the review lives. Without text: an http(s) page on a public "
        "address, fetched and read.",
    )
    title: ShortText | None = None
    author: ShortText | None = None
    published: datetime | None = Field(
        default=None, description="ISO 8601; a date and time without an offset is UTC."
    )


# --- search and service -----------------------------------------------------------------


class SearchOut(_Out):
    series: list[SeriesOut] = Field(
        description="Series whose title or publisher has a word starting with each word."
    )
    episodes: list[EpisodeOut]
    reviews: list[ReviewSummaryOut]


class HealthOut(_Out):
    status: Literal["ok"]
    database: Literal["ok"]
    instance: str = Field(
        description="This instance's name (host:pid:random), as on the leases it holds."
    )
