"""Where a feed lives: normalize what a user typed into a URL we can poll.

http(s) URLs are kept as given (scheme and host lower-cased); ``file:`` URLs and
filesystem paths become absolute ``file://`` URLs, and must exist.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aggregator.exceptions import InputError

__all__ = ["normalize_feed_location"]


def normalize_feed_location(text: str, *, allow_file: bool = True) -> str:
    """The canonical URL for a feed location typed by a user.

    >>> normalize_feed_location("HTTPS://Example.COM/feed.xml")
    'https://example.com/feed.xml'
    >>> normalize_feed_location("ftp://example.com/feed.xml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    aggregator.exceptions.InputError: ftp://example.com/feed.xml: not a feed URL: ...
    """
    text = text.strip()
    if not text:
        raise InputError("empty feed URL")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise InputError(f"{text}: not a feed URL: no host name")
        netloc = parts.netloc.rsplit("@", 1)
        netloc[-1] = netloc[-1].lower()
        return urlunsplit((scheme, "@".join(netloc), parts.path or "/", parts.query, ""))
    if scheme == "file" or (scheme == "" and text):
        if not allow_file:
            raise InputError(f"{text}: local files can only be added from the config file or CLI")
        path = Path(parts.path) if scheme == "file" else Path(text).expanduser()
        path = path.resolve()
        if not path.is_file():
            raise InputError(f"{text}: no such file")
        return path.as_uri()
    raise InputError(f"{text}: not a feed URL: only http, https and local files are supported")
