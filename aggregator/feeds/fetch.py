"""Fetch one feed: conditional GET over HTTP(S), or a read of a local file.

The only module that imports httpx. Every httpx error is caught here and re-raised as
a ``FetchError`` subclass (see ``aggregator.exceptions``) with a one-line message and
the cause chained.

Redirects are followed by hand rather than by httpx so that each hop can be checked
(scheme, address) and so we know whether the whole chain was permanent: only then
does the feed's stored URL follow (``FetchResult.moved_to``).

The body is read raw and decoded here (``_fetch_utils.ContentDecoder``), in bounded
pieces, so both size limits hold without ever holding more than one piece past them:
httpx's own decoder hands back the full expansion of each network read, which for a
gzip bomb is 64 MiB per 64 KiB read.

Requests go straight to a transport, not through ``httpx.Client``: we follow
redirects ourselves, send no auth and keep no cookies (the client reads and writes
its cookie jar on every response). Each origin has its own small connection pool
(``_transport.OriginPools``): httpcore's pool scans every connection it holds,
several times, on every request and every response close. Both together cut a third
of the CPU of a fetch answered 304 (bench/poll).

Every request, redirects included, is first judged by the address policy
(``feeds.addresses.check_url``), which resolves the host once; the request names the
addresses judged, and the transport connects to one of them, never resolving the
name again (DNS rebinding: ``feeds._transport``).

Why one module of over 400 lines: one request's life (redirects, moves, size limits,
the deadline) is one piece of state handled in order; the parts that stand alone
(decoding, local files) are in ``_fetch_utils``, the connections in ``_transport``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from aggregator._version import USER_AGENT
from aggregator.closing import Closing
from aggregator.exceptions import (
    BlockedURL,
    BodyTooLarge,
    FeedGone,
    FetchConnectionError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooManyRedirects,
)
from aggregator.feeds._fetch_utils import (
    ContentDecoder,
    DecodingError,
    UnsupportedEncoding,
    fetch_file,
    first_line,
    format_size,
    int_or_none,
    local_feed_path,
    os_reason,
    parse_max_age,
    parse_retry_after,
)
from aggregator.feeds._transport import PINNED, OriginPools
from aggregator.feeds.addresses import InvalidURL, Origin, Refused, check_url, parse_networks
from aggregator.settings import FetchSettings
from aggregator.types import FetchResult, Validators

__all__ = ["ACCEPT", "Fetcher"]

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
# Only what we can decode in bounded pieces ourselves (no br or zstd).
ACCEPT_ENCODING = "gzip, deflate"

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PARSED_URLS = 4096
_PERMANENT = frozenset({301, 308})


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Fetcher(Closing):
    """Fetches feeds with one shared, thread-safe HTTP client.

    ``allow_file`` lets ``file:`` URLs and filesystem paths through (a redirect never
    leads to one). ``allow_private`` says the URLs this fetcher is given come from the
    operator (config, CLI, OPML): the host and port of each (or of the ``trusted_url``
    given with it) may be a loopback or private address, and its redirects may stay
    there. Without it every address must be public. ``allowed_networks`` (e.g.
    ``["10.20.0.0/16"]``) count as public, for a feed server on a known internal
    network. Link-local and metadata addresses are never fetched. The whole policy is
    ``feeds.addresses``.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        user_agent: str = USER_AGENT,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = _utc_now,
        allow_file: bool = True,
        allow_private: bool = True,
        allowed_networks: Iterable[str] = (),
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._allow_file = allow_file
        self._allow_private = allow_private
        self._allowed_networks = parse_networks(allowed_networks)
        self._transport = transport or OriginPools(settings.max_connections)
        # Feed URLs parsed before: httpx's parser costs ~4 % of a 304 poll, and the
        # same feeds come round again and again. Bounded (~600 bytes an entry).
        self._parsed: dict[str, httpx.URL] = {}
        # Copied for each request (a copy of parsed headers costs little).
        self._headers = httpx.Headers(
            {"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
        )

    def close(self) -> None:
        self._transport.close()

    def _through_proxy(self, url: str) -> bool:
        pools = self._transport
        if not isinstance(pools, OriginPools) or not pools.proxied:
            return False  # nearly always: no URL parsed
        return pools.proxy_for(httpx.URL(url)) is not None

    def fetch(
        self,
        url: str,
        validators: Validators = Validators(),  # noqa: B008
        *,
        trusted_url: str | None = None,
    ) -> FetchResult:
        """Fetch ``url`` (http, https, file or a path), sending ``validators``.

        ``trusted_url`` is the URL the operator gave, when ``url`` is not it (a feed
        that moved, a feed's announced new URL): only its host and port may be
        non-public. Returns a result whose ``content`` is None when the feed is not
        modified. Raises a ``FetchError`` subclass for anything that is not a usable
        response.
        """
        started = time.monotonic()
        path = local_feed_path(url, allow_file=self._allow_file)
        if path is not None:
            return fetch_file(url, path, validators, self._settings, started)
        parsed = self._parsed.get(url)
        if parsed is None:
            parsed = _http_url(url, url)  # a bad URL fails before any I/O
            if len(self._parsed) >= _PARSED_URLS:
                self._parsed.clear()
            self._parsed[url] = parsed
        trusted = Origin.trusted(trusted_url or url) if self._allow_private else None
        return _Attempt(self, url, parsed, validators, started, trusted).run()


class _Attempt:
    """One call of ``Fetcher.fetch`` over HTTP: the redirect loop and its state."""

    def __init__(
        self,
        fetcher: Fetcher,
        url: str,
        parsed: httpx.URL,
        validators: Validators,
        started: float,
        trusted: Origin | None,
    ) -> None:
        self.f = fetcher
        self.trusted = trusted  # the operator's origin, which may be non-public
        self.s = fetcher._settings
        self.url = url
        self.parsed = parsed
        self.validators = validators
        self.started = started
        self.deadline = started + self.s.total_timeout
        # Time left when the current request was sent: every wait of that request
        # (connect, each read) is capped to it, so a timeout below the configured one
        # came from the total deadline. A body read may still start just before the
        # deadline and wait that long past it: the overshoot is at most one read.
        self.remaining = self.s.total_timeout

    def run(self) -> FetchResult:
        current = self.url
        current_url = self.parsed
        seen = {current}
        hops = 0
        all_permanent = True
        while True:
            addresses = self._check_address(current, redirected=hops > 0)
            response = self._send(current, current_url, addresses)
            try:
                status = response.status_code
                location = response.headers.get("location")
                if status not in _REDIRECTS or not location:
                    moved_to = current if hops and all_permanent else None
                    return self._finish(current, response, moved_to)
                target = self._redirect_target(current, location)
                hops += 1
                all_permanent = all_permanent and status in _PERMANENT
                if target in seen:
                    raise TooManyRedirects(
                        self.url, f"redirect loop: {current} sends us back to {target}"
                    )
                if hops > self.s.max_redirects:
                    raise TooManyRedirects(
                        self.url,
                        f"more than {self.s.max_redirects} redirects (the last to {target})",
                    )
                seen.add(target)
                current = target
                current_url = _http_url(self.url, target)
            finally:
                _release(response)

    def _redirect_target(self, current: str, location: str) -> str:
        location = location.strip()
        try:
            scheme = urlsplit(location).scheme.lower()
            if scheme and scheme not in ("http", "https"):
                raise BlockedURL(
                    self.url, f"redirect to a {scheme}: URL ({location}) is not followed"
                )
            target = httpx.URL(current).join(location).copy_with(fragment=None)
        except (httpx.InvalidURL, ValueError) as e:
            raise FetchError(self.url, f"redirect to an invalid URL {location!r}") from e
        if not target.host:  # "http:///feed", "https:"
            raise FetchError(self.url, f"redirect to an invalid URL {location!r}")
        return str(target)

    def _check_address(self, current: str, *, redirected: bool) -> tuple[str, ...]:
        """The address policy (``feeds.addresses``), before any connection to ``current``:
        the addresses judged, the only ones the request may connect to."""
        try:
            return check_url(
                current,
                trusted=self.trusted,
                allowed=self.f._allowed_networks,
                proxied=self.f._through_proxy(current),
            ).addresses
        except InvalidURL as e:
            where = f"redirect to an invalid URL {current!r}" if redirected else "not a valid URL"
            raise FetchError(self.url, f"{where}: {e}") from e
        except Refused as e:
            what = f"refused redirect to {current}" if redirected else "refused"
            raise BlockedURL(self.url, f"{what}: {e}") from e
        except OSError as e:
            host = urlsplit(current).hostname
            raise FetchConnectionError(self.url, f"could not resolve host name {host}") from e

    def _send(self, current: str, url: httpx.URL, addresses: tuple[str, ...]) -> httpx.Response:
        s = self.s
        remaining = self.remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout(self.url, self._over_total())
        headers = httpx.Headers(self.f._headers)
        if self.validators.etag:
            headers["If-None-Match"] = self.validators.etag
        if self.validators.last_modified:
            headers["If-Modified-Since"] = self.validators.last_modified
        # The total deadline caps every wait, so a slow hop cannot outlive it.
        timeout = {
            "connect": min(s.connect_timeout, remaining),
            "read": min(s.read_timeout, remaining),
            "write": min(s.read_timeout, remaining),
            "pool": remaining,
        }
        try:
            # The addresses judged go with the request: the transport connects to one
            # of them, so the name is not resolved again (DNS rebinding).
            extensions = {"timeout": timeout, PINNED: addresses}
            request = httpx.Request("GET", url, headers=headers, extensions=extensions)
            response = self.f._transport.handle_request(request)
        except httpx.HTTPError as e:
            raise self._error(e, current, body_bytes=None) from e
        response.request = request
        return response

    def _finish(self, current: str, response: httpx.Response, moved_to: str | None) -> FetchResult:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"), self.f._clock())
        fresh = Validators(
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
        if status == 304:
            content = None
            # A 304 need not repeat the validators; the ones we sent still hold.
            fresh = Validators(
                etag=fresh.etag or self.validators.etag,
                last_modified=fresh.last_modified or self.validators.last_modified,
            )
        elif 200 <= status < 300:
            content = self._read_body(current, response)
        else:
            reason = httpx.codes.get_reason_phrase(status) or response.reason_phrase
            message = f"HTTP {status} {reason}".rstrip()
            if status == 410:
                raise FeedGone(self.url, status, f"{message}: the feed was retired", retry_after)
            if status in _REDIRECTS:
                message += " without a Location header"
            raise HTTPStatusError(self.url, status, message, retry_after)
        return FetchResult(
            url=self.url,
            final_url=current,
            status=status,
            content=content,
            headers={k.lower(): v for k, v in response.headers.items()},
            validators=fresh,
            moved_to=moved_to,
            retry_after=retry_after,
            max_age_seconds=parse_max_age(response.headers.get("cache-control")),
            elapsed_seconds=time.monotonic() - self.started,
        )

    def _read_body(self, current: str, response: httpx.Response) -> bytes:
        raw_limit = self.s.max_body_bytes
        limit = self.s.max_decompressed_bytes
        declared = int_or_none(response.headers.get("content-length"))
        if declared is not None and declared > raw_limit:
            raise BodyTooLarge(
                self.url,
                f"body is {format_size(declared)}, over the {format_size(raw_limit)} limit",
            )
        encoding = response.headers.get("content-encoding")
        try:
            decoder = ContentDecoder(encoding)
        except UnsupportedEncoding as e:
            raise FetchError(self.url, f"unsupported Content-Encoding {e}") from e
        body = bytearray()
        raw = 0
        try:
            for chunk in response.iter_raw():
                raw += len(chunk)
                if raw > raw_limit:
                    raise BodyTooLarge(self.url, f"body is over the {format_size(raw_limit)} limit")
                for piece in decoder.decode(chunk):
                    self._append(body, piece, limit, encoding)
                if time.monotonic() > self.deadline:
                    raise FetchTimeout(self.url, self._over_total(" while reading the body"))
            for piece in decoder.finish():
                self._append(body, piece, limit, encoding)
        except httpx.HTTPError as e:
            raise self._error(e, current, body_bytes=(raw, declared)) from e
        except DecodingError as e:
            raise FetchError(self.url, f"body is {e} (Content-Encoding: {encoding})") from e
        return bytes(body)

    def _append(self, body: bytearray, piece: bytes, limit: int, encoding: str | None) -> None:
        if len(body) + len(piece) > limit:
            how = f" once decompressed ({encoding})" if encoding else ""
            raise BodyTooLarge(self.url, f"body is over the {format_size(limit)} limit{how}")
        body += piece

    def _over_total(self, during: str = "") -> str:
        return f"gave up{during}: the whole fetch took longer than {self.s.total_timeout:g} s"

    def _error(
        self,
        e: httpx.HTTPError,
        current: str,
        body_bytes: tuple[int, int | None] | None,
    ) -> FetchError:
        """Our error, with a one-line message, for an httpx error on the way to ``current``."""
        s = self.s
        url = self.url
        where = "" if current == self.url else f" (at {current})"
        if isinstance(e, httpx.TimeoutException):
            if isinstance(e, httpx.PoolTimeout):
                return FetchTimeout(url, f"timed out waiting for a free connection{where}")
            limit = s.connect_timeout if isinstance(e, httpx.ConnectTimeout) else s.read_timeout
            if self.remaining < limit:
                return FetchTimeout(url, self._over_total() + where)
            if isinstance(e, httpx.ConnectTimeout):
                return FetchTimeout(url, f"timed out after {limit:g} s connecting{where}")
            waiting = "response headers" if body_bytes is None else "more of the body"
            return FetchTimeout(url, f"timed out after {limit:g} s waiting for {waiting}{where}")
        reason = os_reason(e)
        if isinstance(e, httpx.ConnectError):
            host = _http_url(url, current).host
            return FetchConnectionError(
                url, f"could not connect to {host}: {reason or first_line(str(e))}{where}"
            )
        if isinstance(e, httpx.RemoteProtocolError) and body_bytes is not None:
            got, declared = body_bytes
            of = f" of {declared:,}" if declared is not None else ""
            return FetchConnectionError(
                url, f"connection closed after {got:,}{of} bytes of the body{where}"
            )
        if isinstance(e, httpx.TransportError):
            phase = "waiting for response headers" if body_bytes is None else "reading the body"
            what = reason or first_line(str(e)) or "connection broken"
            return FetchConnectionError(url, f"{what} while {phase}{where}")
        return FetchError(url, f"{first_line(str(e)) or type(e).__name__}{where}")


# A body this small (an error page, a redirect's note) is read to the end rather than
# thrown away with its connection: a connection that is read to the end goes back to
# the pool. Reusing it halved the CPU of an unchanged poll (bench/poll).
_DRAIN_LIMIT = 64 * 1024


def _release(response: httpx.Response) -> None:
    """Close a response, keeping its connection for the next request when cheap."""
    if not response.is_stream_consumed:
        length = response.headers.get("content-length", "")
        small = length.isdigit() and int(length) <= _DRAIN_LIMIT
        if response.status_code in (204, 304) or small:
            with contextlib.suppress(httpx.HTTPError):
                for _ in response.iter_raw():
                    pass
    response.close()


def _http_url(requested: str, current: str) -> httpx.URL:
    """``current`` parsed, or a FetchError naming what is wrong with it."""
    try:
        u = httpx.URL(current)
    except (httpx.InvalidURL, ValueError) as e:
        raise FetchError(requested, f"not a valid URL: {first_line(str(e))}") from e
    if not u.host:
        raise FetchError(requested, "not a valid URL: it has no host name")
    return u
