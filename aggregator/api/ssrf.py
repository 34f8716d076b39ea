"""URLs that people on the network hand us: http(s) to public addresses only.

A feed or review URL given through the API is fetched by the server, from inside its
network; without a check anyone with the token could make it read ``file:`` paths,
``http://127.0.0.1:5432``, a cloud metadata service at 169.254.169.254 or an
intranet host (server-side request forgery). ``check_public_url`` refuses such a URL
before it is stored, resolving host names (``localhost`` is loopback too).

This is the early, friendly refusal. The binding one is at fetch time: a feed added
through the API is fetched by a ``Fetcher(allow_file=False, allow_private=False,
allowed_networks=...)``, which checks the address of every request and redirect
again (a host name may resolve elsewhere later).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from aggregator.exceptions import BlockedURL, InputError
from aggregator.feeds._fetch_utils import (
    address_problem,
    is_ip_literal,
    parse_networks,
    resolve_host,
)
from aggregator.feeds.locations import normalize_feed_location

__all__ = ["check_http_url", "check_public_url"]


def check_http_url(url: str) -> str:
    """``url`` normalized, when it is an http(s) URL with a host; else InputError.

    For addresses that are only stored and shown (a review's own URL), never fetched:
    no ``javascript:`` or ``data:`` link ever reaches a page through them.
    """
    text = url.strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError as e:
        raise InputError(f"{text}: not a valid URL: {e}") from e
    if scheme not in ("http", "https"):
        raise InputError(f"{text}: only http and https URLs are accepted")
    return normalize_feed_location(text, allow_file=False)


def check_public_url(
    url: str,
    allowed_networks: Sequence[str] = (),
    *,
    resolve: Callable[[str, int], list[str]] = resolve_host,
) -> str:
    """The normalized ``url`` when the server may fetch it for a remote user.

    Raises InputError for anything but an http(s) URL with a host, and BlockedURL
    when the host is, or resolves to, a loopback, private, link-local or otherwise
    non-public address outside ``allowed_networks``.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:  # an unclosed "[", a port that is not a number
        raise InputError(f"{text}: not a valid URL: {e}") from e
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(
            f"{text}: only http and https URLs may be added here "
            "(local files only from the config file or the command line)"
        )
    normalized = normalize_feed_location(text, allow_file=False)
    host = parts.hostname or ""
    if is_ip_literal(host):
        addresses = [host]
    else:
        try:
            addresses = resolve(host, port or (443 if parts.scheme.lower() == "https" else 80))
        except (OSError, UnicodeError, ValueError) as e:
            raise InputError(f"{text}: cannot resolve the host name {host}") from e
    allowed = parse_networks(allowed_networks)
    for address in addresses:
        problem = address_problem(address, allowed)
        if problem:
            where = "is a" if address == host else "resolves to a"
            raise BlockedURL(text, f"refused: {host} {where} {problem}, not allowed here")
    return normalized
