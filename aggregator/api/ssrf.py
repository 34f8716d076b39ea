"""URLs that people on the network hand us: http(s) to public addresses only.

A feed or review URL given through the API is fetched by the server, from inside its
network; without a check anyone with the token could make it read ``file:`` paths,
``http://127.0.0.1:5432``, a cloud metadata service at 169.254.169.254 or an
intranet host (server-side request forgery). ``check_public_url`` refuses such a URL
before it is stored, with the address policy of every fetch
(``feeds.addresses.check_url``, with no trusted origin: a remote user has none).

This is the early, friendly refusal. The binding one is at fetch time: a feed added
through the API is fetched by a ``Fetcher(allow_file=False, allow_private=False,
allowed_networks=...)``, which checks the address of every request and redirect
again (a host name may resolve elsewhere later).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from aggregator.exceptions import BlockedURL, InputError
from aggregator.feeds.addresses import Refused, check_url, parse_networks
from aggregator.feeds.locations import normalize_http_url

__all__ = ["check_http_url", "check_public_url"]


def check_http_url(url: str) -> str:
    """``url`` normalized, when it is an http(s) URL with a valid host and port; else
    InputError. For addresses that are only stored and shown (a review's own URL)."""
    return normalize_http_url(url)


def check_public_url(
    url: str,
    allowed_networks: Sequence[str] = (),
    *,
    resolve: Callable[[str, int], list[str]] | None = None,
) -> str:
    """The normalized ``url`` when the server may fetch it for a remote user.

    Raises InputError for anything but an http(s) URL with a valid host and port,
    and BlockedURL when the host is, or resolves to, a loopback, private, link-local
    or otherwise non-public address outside ``allowed_networks``.
    """
    text = url.strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError as e:  # an unclosed "["
        raise InputError(f"{text}: not a valid URL: {e}") from e
    if scheme not in ("http", "https"):
        raise InputError(
            f"{text}: only http and https URLs may be added here "
            "(local files only from the config file or the command line)"
        )
    normalized = normalize_http_url(text)
    try:
        check_url(text, trusted=None, allowed=parse_networks(allowed_networks), resolve=resolve)
    except Refused as e:
        raise BlockedURL(text, f"refused: {e}") from e
    except (OSError, UnicodeError) as e:
        host = urlsplit(text).hostname
        raise InputError(f"{text}: cannot resolve the host name {host}") from e
    return normalized
