"""Where a feed lives: normalize what a user typed into a URL we can poll.

http(s) URLs are kept as given (scheme and host lower-cased) once their host and port
pass ``http_url_problem``; ``file:`` URLs and filesystem paths become absolute
``file://`` URLs, and must exist.

``http_url_problem`` is the one syntax check of an http(s) URL, wherever it comes
from: a feed added from the config, the CLI, OPML or the API, a review's URL, a
redirect's ``Location`` or a feed's announced new URL (``feeds.addresses`` uses it
before it judges the address).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

import idna

from aggregator.exceptions import InputError

__all__ = ["ascii_host", "http_url_problem", "normalize_feed_location", "normalize_http_url"]

# A DNS label as hosts are really named: letters, digits and hyphens (RFC 1123), plus
# the underscore some internal hosts carry and every browser accepts; 1 to 63 bytes,
# no hyphen at either end (RFC 1035 §2.3.4).
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
# WHATWG URL parsing reads a host whose last label is a number ("1.2.3", "0x7f.1",
# "2130706433") as an IPv4 address in a form of its own; getaddrinfo does too. Only the
# dotted-quad form means the same to every reader, so the others are refused.
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_MAX_HOST = 253  # RFC 1035 §2.3.4, without the trailing dot


def http_url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as an http(s) URL, or None when it is fine.

    >>> http_url_problem("https://example.com:8443/feed.xml") is None
    True
    >>> http_url_problem("http://example.com:99999/")
    'port 99999 is out of range (1-65535)'
    >>> http_url_problem("http://0x7f.1/")
    'host name 0x7f.1 is not valid (a number where a name or a dotted IPv4 address belongs)'
    """
    try:
        parts = urlsplit(url)
    except ValueError as e:  # an unclosed "[" of an IPv6 address
        return f"not a valid URL ({e})"
    if parts.scheme.lower() not in ("http", "https"):
        return "only http and https URLs are accepted"
    return _port_problem(parts) or _host_problem(parts)


def _port_problem(parts: SplitResult) -> str | None:
    # urlsplit's .port range-checks only what parses as a number; the text is checked
    # here so that "+80", " 80" or "८०" (Devanagari digits, which int() reads) fail too.
    netloc = parts.netloc.rpartition("@")[2]
    _, bracket, after = netloc.rpartition("]")
    port = (after if bracket else netloc).partition(":")[2]
    if not port:
        return None
    if not (port.isascii() and port.isdigit()):
        return f"port {port!r} is not a number"
    if not 1 <= int(port) <= 65535:
        return f"port {int(port)} is out of range (1-65535)"
    return None


def _host_problem(parts: SplitResult) -> str | None:
    host = parts.hostname
    if not host:
        return "no host name"
    try:
        ascii_host(host)
    except ValueError as e:
        return f"host name {host} is not valid ({e})"
    return None


def ascii_host(host: str) -> str:
    """``host`` as DNS and sockets want it: lower-case, IDNA-encoded (punycode), an
    IPv6 address without brackets. Raises ValueError for anything that is no host.

    >>> ascii_host("Bücher.Example"), ascii_host("[::1]"), ascii_host("10.0.0.1")
    ('xn--bcher-kva.example', '::1', '10.0.0.1')
    """
    text = host.strip("[]") if host.startswith("[") else host
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if ":" in text or "%" in text:
        raise ValueError("not a host name or IP address")
    name = text.lower().removesuffix(".")
    if not name.isascii():
        try:  # as httpx encodes it, so that what we check is what it connects to
            name = idna.encode(name).decode("ascii")
        except idna.IDNAError as e:
            raise ValueError(str(e)) from e
    labels = name.split(".")
    if len(name) > _MAX_HOST or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("letters, digits, hyphens and dots only, in labels of 1 to 63")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise ValueError("a number where a name or a dotted IPv4 address belongs")
    return name


def normalize_http_url(url: str) -> str:
    """``url`` normalized, when it is a usable http(s) URL; else InputError.

    For addresses that are only stored and shown (a review's own URL), never fetched:
    no ``javascript:`` or ``data:`` link, no port 99999, reaches a page through them.
    """
    text = url.strip()
    problem = http_url_problem(text)
    if problem is not None:
        raise InputError(f"{text}: not a valid URL: {problem}")
    return _normalized_http(urlsplit(text))


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
    try:
        parts = urlsplit(text)
    except ValueError as e:
        raise InputError(f"{text}: not a feed URL: {e}") from e
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        problem = http_url_problem(text)
        if problem is not None:
            raise InputError(f"{text}: not a feed URL: {problem}")
        return _normalized_http(parts)
    if scheme == "file" or (scheme == "" and text):
        if not allow_file:
            raise InputError(f"{text}: local files can only be added from the config file or CLI")
        path = Path(parts.path) if scheme == "file" else Path(text).expanduser()
        path = path.resolve()
        if not path.is_file():
            raise InputError(f"{text}: no such file")
        return path.as_uri()
    raise InputError(f"{text}: not a feed URL: only http, https and local files are supported")


def _normalized_http(parts: SplitResult) -> str:
    netloc = parts.netloc.rsplit("@", 1)
    netloc[-1] = netloc[-1].lower()
    return urlunsplit((parts.scheme.lower(), "@".join(netloc), parts.path or "/", parts.query, ""))
