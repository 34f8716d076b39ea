"""URL keys for matching a review's hyperlinks to a series' site, feed and episodes.

Two URLs that a person would call the same page get the same key: scheme, "www.",
default ports, trailing slashes, query strings and fragments are dropped, and
tracking prefixes that wrap an enclosure ("podtrac.com/pts/redirect.mp3/HOST/...")
are unwrapped to the URL they forward to.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

__all__ = ["link_hash", "prefixes", "url_key"]

_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
_MEDIA = re.compile(r"\.(mp3|m4a|mp4|aac|ogg|opus|wav|m4v|mov)$")


def url_key(url: str) -> str | None:
    """A comparable key for a URL, or None when it has no host.

    >>> url_key("https://www.Relay.fm/cortex/")
    'relay.fm/cortex'
    >>> url_key("https://www.podtrac.com/pts/redirect.mp3/traffic.libsyn.com/cortex/C_66.mp3?x=1")
    'traffic.libsyn.com/cortex/c_66.mp3'
    >>> url_key("#comments") is None, url_key("mailto:a@b.c") is None
    (True, True)
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https", "") or not parts.netloc:
        return None
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    segments = [s for s in unquote(parts.path).lower().split("/") if s]
    # Unwrap tracking redirects: a later path segment that is itself a host name.
    for i, segment in enumerate(segments[:-1]):
        if _HOST.match(segment) and not _MEDIA.search(segment) and "." in segment:
            host = segment[4:] if segment.startswith("www.") else segment
            segments = segments[i + 1 :]
            break
    if not host:
        return None
    return "/".join([host, *segments])


def prefixes(key: str) -> list[str]:
    """The key's host and host-plus-first-segment, most specific first.

    >>> prefixes("relay.fm/cortex/62")
    ['relay.fm/cortex', 'relay.fm']
    >>> prefixes("giantbomb.com")
    ['giantbomb.com']
    """
    parts = key.split("/")
    found = ["/".join(parts[:2])] if len(parts) > 1 else []
    return [*found, parts[0]]


def link_hash(key: str) -> int:
    """A small stand-in for a URL key in the in-memory index (Python's string hash: 64
    bits, stable within one process, which is as long as an index lives)."""
    return hash(key)
