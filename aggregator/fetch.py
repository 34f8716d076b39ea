"""Fetch one feed: conditional GET over HTTP(S), or a read of a local file.

The only module that imports httpx. Every httpx error is caught here and re-raised as
a ``FetchError`` subclass (see ``aggregator.exceptions``) with a one-line message and
the cause chained.

Redirects are followed by hand rather than by httpx so that each hop can be checked
(scheme, address) and so we know whether the whole chain was permanent: only then
does the feed's stored URL follow (``FetchResult.moved_to``).

The body is read raw and decoded here (``_http_utils.ContentDecoder``), in bounded
pieces, so both size limits hold without ever holding more than one piece past them:
httpx's own decoder hands back the full expansion of each network read, which for a
gzip bomb is 64 MiB per 64 KiB read.

Known gap: with ``allow_private=False`` the host is resolved and checked before the
request, and httpx resolves it again to connect, so a DNS server that answers
differently the second time (DNS rebinding) is not stopped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from aggregator._http_utils import (
    ContentDecoder,
    DecodingError,
    UnsupportedEncoding,
    address_problem,
    fetch_file,
    first_line,
    format_size,
    int_or_none,
    is_ip_literal,
    local_feed_path,
    os_reason,
    parse_max_age,
    parse_networks,
    parse_retry_after,
    resolve_host,
)
from aggregator._version import USER_AGENT
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
from aggregator.settings import FetchSettings
from aggregator.types import FetchResult, Validators

__all__ = ["ACCEPT", "Fetcher"]

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
# Only what we can decode in bounded pieces ourselves (no br or zstd).
ACCEPT_ENCODING = "gzip, deflate"

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Fetcher:
    """Fetches feeds with one shared, thread-safe HTTP client.

    ``allow_file`` lets ``file:`` URLs and filesystem paths through (a redirect never
    leads to one); ``allow_private`` lets URLs reach loopback, private, link-local and
    other non-public addresses, and redirects stay on the URL's own host there: a
    redirect to another non-public host is refused all the same (issue 5).
    ``allowed_networks`` (e.g. ``["10.20.0.0/16"]``) are exempt from that block, for a
    feed server on a known internal network.
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
        self._client = httpx.Client(
            transport=transport,
            # Few connections: httpx's pool slows down sharply as it grows
            # (~1,400 req/s at 10 connections, ~200 at 200; encode/httpx#3215).
            # Keep-alive for all of them: many feeds share one hosting company.
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
            follow_redirects=False,
            event_hooks={"response": [_stop_at_odd_location]},
            headers={
                "User-Agent": user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def fetch(self, url: str, validators: Validators = Validators()) -> FetchResult:  # noqa: B008
        """Fetch ``url`` (http, https, file or a path), sending ``validators``.

        Returns a result whose ``content`` is None when the feed is not modified.
        Raises a ``FetchError`` subclass for anything that is not a usable response.
        """
        started = time.monotonic()
        path = local_feed_path(url, allow_file=self._allow_file)
        if path is not None:
            return fetch_file(url, path, validators, self._settings, started)
        _http_url(url, url)  # a bad URL fails before any I/O
        return _Attempt(self, url, validators, started).run()


class _Attempt:
    """One call of ``Fetcher.fetch`` over HTTP: the redirect loop and its state."""

    def __init__(self, fetcher: Fetcher, url: str, validators: Validators, started: float) -> None:
        self.f = fetcher
        self.s = fetcher._settings
        self.url = url
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
        seen = {current}
        hops = 0
        all_permanent = True
        while True:
            self._check_address(current, redirected=hops > 0)
            response = self._send(current)
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
        return str(target)

    def _check_address(self, current: str, *, redirected: bool) -> None:
        if self.f._allow_private and not redirected:
            return
        u = _http_url(self.url, current)
        if self.f._allow_private and u.host == _http_url(self.url, self.url).host:
            # Whoever chose the feed's URL trusts its host, private or not; a redirect
            # elsewhere is the server's choice, and may not reach inward (SSRF).
            return
        what = f"refused redirect to {current}" if redirected else "refused"
        if is_ip_literal(u.host):
            addresses = [u.host]
        else:
            port = u.port or (443 if u.scheme == "https" else 80)
            try:  # raw_host: the IDNA (punycode) form, as DNS wants it
                addresses = resolve_host(u.raw_host.decode("ascii"), port)
            except OSError as e:
                raise FetchConnectionError(self.url, f"could not resolve host name {u.host}") from e
        for address in addresses:
            problem = address_problem(address, self.f._allowed_networks)
            if problem:
                resolves = "is a" if address == u.host else f"{u.host} resolves to a"
                raise BlockedURL(self.url, f"{what}: {resolves} {problem}, not allowed here")

    def _send(self, current: str) -> httpx.Response:
        s = self.s
        remaining = self.remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout(self.url, self._over_total())
        headers = {}
        if self.validators.etag:
            headers["If-None-Match"] = self.validators.etag
        if self.validators.last_modified:
            headers["If-Modified-Since"] = self.validators.last_modified
        # The total deadline caps every wait, so a slow hop cannot outlive it.
        timeout = httpx.Timeout(
            connect=min(s.connect_timeout, remaining),
            read=min(s.read_timeout, remaining),
            write=min(s.read_timeout, remaining),
            pool=remaining,
        )
        try:
            request = self.f._client.build_request("GET", current, headers=headers, timeout=timeout)
            return self.f._client.send(request, stream=True)
        except httpx.HTTPError as e:
            raise self._error(e, current, body_bytes=None) from e
        except _OddLocation as e:
            self._redirect_target(current, e.location)  # raises, naming what is wrong
            raise FetchError(self.url, f"redirect to an invalid URL {e.location!r}") from e
        except httpx.InvalidURL as e:  # only a Location can be invalid here: ours was checked
            raise FetchError(self.url, f"redirect to an invalid URL ({e})") from e

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


class _OddLocation(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _stop_at_odd_location(response: httpx.Response) -> None:
    """A response hook: stop at a redirect whose Location httpx itself would choke on.

    httpx prepares the next request of every redirect, even one it will not follow, and
    raises a bare ``InvalidURL`` for a Location such as ``data:,x`` or ``javascript:``
    (no host), after which the Location is lost. Stopping here keeps it for the message.
    """
    if not response.has_redirect_location:
        return
    location = response.headers["location"]
    try:
        scheme = urlsplit(location.strip()).scheme.lower()
        parsed = httpx.URL(location)
    except (httpx.InvalidURL, ValueError):
        raise _OddLocation(location) from None
    if scheme not in ("", "http", "https") or (scheme and not parsed.host):
        raise _OddLocation(location)


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
