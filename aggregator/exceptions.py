"""The one exception tree of aggregator.

Third-party errors are caught at the seam that wraps their library (httpx in
``feeds.fetch``, feedparser in ``feeds.parse``, SQLAlchemy in ``storage``) and re-raised
as one of these with the cause chained (``raise ParseError(...) from e``). The CLI and
the API turn any ``AggregatorError`` into a one-line message; anything else is a bug.

"Not found" and "already exists" are answers about what is stored, not failures of
the database, so they are not ``StorageError``: the API answers them 404 and 409, and
503 only when the database failed. Catch them by kind (``NotFoundError``: no such
thing, whatever it is) or by domain (``SeriesNotFound``: no such series). Code that
treats whatever the store raised alike (a poll, a scheduler tick) names the three.

    AggregatorError
    ├── ConfigError                 a setting is missing or has a bad value
    ├── InputError                  a user-given value (URL, path, option) is unusable
    ├── SourceError                 a feed or page could not be read; carries url and reason
    │   ├── FetchError              it could not be retrieved
    │   │   ├── FetchTimeout        connect/read timed out, or the body trickled too slowly
    │   │   ├── FetchConnectionError  DNS, refused, reset, truncated body, TLS
    │   │   ├── TooManyRedirects    redirect loop or chain longer than the limit
    │   │   ├── BodyTooLarge        body (raw or decompressed) over the configured limit
    │   │   ├── BlockedURL          scheme or address we refuse to fetch
    │   │   └── HTTPStatusError     an error status (4xx/5xx); carries status and Retry-After
    │   │       └── FeedGone        410 Gone: the publisher retired the feed
    │   └── ParseError              the bytes are not a feed we can read
    ├── StorageError                the database failed or refused a write
    ├── NotFoundError               no such thing
    │   ├── FeedNotFound            no such feed
    │   ├── SeriesNotFound          no such series
    │   ├── EpisodeNotFound         no such episode
    │   ├── ReviewNotFound          no such review
    │   └── LinkNotFound            no such link
    ├── AlreadyExistsError          the thing being added is there already
    │   ├── FeedAlreadyExists       a feed with that URL
    │   └── ReviewAlreadyExists     a review with that URL
    └── ReviewError                 a review could not be taken in (empty, binary, unreadable)
        └── ReviewTooLarge          over the size limit (MAX_REVIEW_BYTES)

``tests/test_exceptions.py`` checks that this tree is the classes' own.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

__all__ = [
    "AggregatorError",
    "AlreadyExistsError",
    "BlockedURL",
    "BodyTooLarge",
    "ConfigError",
    "EpisodeNotFound",
    "FeedAlreadyExists",
    "FeedGone",
    "FeedNotFound",
    "FetchConnectionError",
    "FetchError",
    "FetchTimeout",
    "HTTPStatusError",
    "InputError",
    "LinkNotFound",
    "NotFoundError",
    "ParseError",
    "ReviewAlreadyExists",
    "ReviewError",
    "ReviewNotFound",
    "ReviewTooLarge",
    "SeriesNotFound",
    "SourceError",
    "StorageError",
    "TooManyRedirects",
]


class AggregatorError(Exception):
    """Root of every error aggregator raises on purpose."""


class ConfigError(AggregatorError):
    """A setting is missing or has a bad value; the message names key and source."""


class InputError(AggregatorError):
    """A value given by the user (URL, path, option) cannot be used."""


class SourceError(AggregatorError):
    """A feed or page could not be read. ``url`` is the URL (or path) we asked for,
    ``reason`` what went wrong; the message is both."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.reason = message


class FetchError(SourceError):
    """A feed (or a review's page) could not be retrieved."""


class FetchTimeout(FetchError):
    """Connecting or reading took longer than the configured timeout."""


class FetchConnectionError(FetchError):
    """The connection failed or broke (DNS, refused, reset, truncated body)."""


class TooManyRedirects(FetchError):
    """A redirect loop, or a chain longer than the configured limit."""


class BodyTooLarge(FetchError):
    """The body, raw or decompressed, is over the configured size limit."""


class BlockedURL(FetchError):
    """A URL (or a redirect target) whose scheme or address we refuse to fetch."""


class HTTPStatusError(FetchError):
    """The server answered with an error status.

    ``retry_after`` is the absolute time the server asked us to wait until
    (from ``Retry-After`` in seconds or as an HTTP date), if it said so.
    """

    def __init__(
        self, url: str, status: int, message: str, retry_after: datetime | None = None
    ) -> None:
        super().__init__(url, message)
        self.status = status
        self.retry_after = retry_after


class FeedGone(HTTPStatusError):
    """410 Gone: the publisher says the feed will not come back."""


class ParseError(SourceError):
    """The content is not a feed we can read (HTML page, JSON, empty, garbage)."""


class StorageError(AggregatorError):
    """The database failed or refused a write; the original error is chained."""


class NotFoundError(AggregatorError):
    """No such feed, series, episode, review or link.

    Raised as the subclass of the thing looked for; ``noun`` names it in messages.
    """

    noun: ClassVar[str] = "thing"


class FeedNotFound(NotFoundError):
    """No feed with that id or URL."""

    noun = "feed"


class SeriesNotFound(NotFoundError):
    """No series with that id."""

    noun = "series"


class EpisodeNotFound(NotFoundError):
    """No episode with that id (in that series)."""

    noun = "episode"


class ReviewNotFound(NotFoundError):
    """No review with that id or URL."""

    noun = "review"


class LinkNotFound(NotFoundError):
    """No link with that id."""

    noun = "link"


class AlreadyExistsError(AggregatorError):
    """The thing being added is there already."""


class FeedAlreadyExists(AlreadyExistsError):
    """A feed with that URL (current or as added) is known."""


class ReviewAlreadyExists(AlreadyExistsError):
    """A review with that URL is stored."""


class ReviewError(AggregatorError):
    """A review could not be taken in (empty, binary, oversized, unreadable)."""


class ReviewTooLarge(ReviewError):
    """The review (text, file, stdin or fetched page) is over the size limit."""
