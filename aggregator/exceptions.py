"""The one exception tree of aggregator.

Third-party errors are caught at the seam that wraps their library (httpx in
``fetch``, feedparser in ``parse``, SQLAlchemy in ``storage``) and re-raised as one
of these with the cause chained (``raise ParseError(...) from e``). The CLI and the
API turn any ``AggregatorError`` into a one-line message; anything else is a bug.

    AggregatorError
    ├── ConfigError                 a setting is missing or has a bad value
    ├── InputError                  a user-given value (URL, path, option) is unusable
    ├── FetchError                  a feed could not be retrieved
    │   ├── FetchTimeout            connect/read timed out, or the body trickled too slowly
    │   ├── FetchConnectionError    DNS, refused, reset, truncated body, TLS
    │   ├── TooManyRedirects        redirect loop or chain longer than the limit
    │   ├── BodyTooLarge            body (raw or decompressed) over the configured limit
    │   ├── BlockedURL              scheme or address we refuse to fetch
    │   └── HTTPStatusError         an error status (4xx/5xx); carries status and Retry-After
    │       └── FeedGone            410 Gone: the publisher retired the feed
    ├── ParseError                  the bytes are not a feed we can read
    ├── StorageError                the database failed or refused a write
    │   └── NotFoundError           no such feed, series, episode, review or link
    │       (also AlreadyExistsError for duplicates)
    └── ReviewError                 a review could not be taken in (empty, binary, unreadable)
        └── ReviewTooLarge          over the size limit (MAX_REVIEW_BYTES)
"""

from __future__ import annotations

from datetime import datetime


class AggregatorError(Exception):
    """Root of every error aggregator raises on purpose."""


class ConfigError(AggregatorError):
    """A setting is missing or has a bad value; the message names key and source."""


class InputError(AggregatorError):
    """A value given by the user (URL, path, option) cannot be used."""


class FetchError(AggregatorError):
    """A feed could not be retrieved. ``url`` is the URL we asked for."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.reason = message


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


class ParseError(AggregatorError):
    """The content is not a feed we can read (HTML page, JSON, empty, garbage)."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.reason = message


class StorageError(AggregatorError):
    """The database failed or refused a write; the original error is chained."""


class NotFoundError(StorageError):
    """No such feed, series, episode, review or link."""


class AlreadyExistsError(StorageError):
    """The thing being added is there already."""


class ReviewError(AggregatorError):
    """A review could not be taken in (empty, binary, oversized, unreadable)."""


class ReviewTooLarge(ReviewError):
    """The review (text, file, stdin or fetched page) is over the size limit."""
