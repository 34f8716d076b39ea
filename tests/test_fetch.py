"""Unit tests of fetch over ``httpx.MockTransport``: no sockets, no DNS.

Hosts are public IP literals (or names never resolved, with allow_private left on), so
the address checks need no resolver; no traffic leaves the process.
"""

from __future__ import annotations

import errno
import gzip
import os
import socket
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from aggregator import USER_AGENT
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
from aggregator.feeds import addresses
from aggregator.feeds.fetch import Fetcher
from aggregator.settings import FetchSettings
from aggregator.types import Validators

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
BASE = "http://93.184.215.14"  # a public address; MockTransport never connects to it

Handler = Callable[[httpx.Request], httpx.Response]


def fetcher(handler: Handler, **kwargs: object) -> Fetcher:
    settings = kwargs.pop("settings", FetchSettings())
    assert isinstance(settings, FetchSettings)
    return Fetcher(
        settings,
        transport=httpx.MockTransport(handler),
        clock=lambda: NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def resp(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    """A response as a real transport gives it: body not yet read.

    (``httpx.Response(content=...)`` reads and *decodes* the body at once, which a
    fetcher that reads the raw stream itself cannot use.)
    """
    all_headers = {"Content-Length": str(len(body))} | (headers or {})
    return httpx.Response(status, headers=all_headers, stream=httpx.ByteStream(body))


def ok(request: httpx.Request) -> httpx.Response:
    return resp(200, FEED, {"Content-Type": "application/rss+xml"})


Route = Callable[[], httpx.Response]


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    return lambda: resp(status, body, headers)


def redirect(status: int, location: str) -> Route:
    return answer(status, headers={"Location": location})


class Recorder:
    """A handler that answers from a table of paths and records every request."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get(request.url.raw_path.decode("ascii"))
        return resp(404) if route is None else route()

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


# --- request headers ---------------------------------------------------------------


def test_sends_user_agent_accept_and_accept_encoding() -> None:
    seen = Recorder({"/feed": answer(200, FEED)})
    with fetcher(seen) as f:
        f.fetch(BASE + "/feed")
    headers = seen.requests[0].headers
    assert headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("aggregator/")
    assert headers["accept-encoding"] == "gzip, deflate"
    accept = headers["accept"]
    for media_type in ("application/rss+xml", "application/atom+xml", "application/xml"):
        assert media_type in accept
    assert "if-none-match" not in headers
    assert "if-modified-since" not in headers


def test_custom_user_agent() -> None:
    seen = Recorder({"/feed": answer(200, FEED)})
    with fetcher(seen, user_agent="test-agent/1") as f:
        f.fetch(BASE + "/feed")
    assert seen.requests[0].headers["user-agent"] == "test-agent/1"


def test_sends_conditional_headers_from_validators() -> None:
    seen = Recorder({"/feed": answer(304)})
    sent = Validators(etag='W/"abc"', last_modified="Sat, 28 Feb 2026 10:00:00 GMT")
    with fetcher(seen) as f:
        f.fetch(BASE + "/feed", sent)
    headers = seen.requests[0].headers
    assert headers["if-none-match"] == 'W/"abc"'
    assert headers["if-modified-since"] == "Sat, 28 Feb 2026 10:00:00 GMT"


# --- responses ---------------------------------------------------------------------


def test_200_result_fields() -> None:
    response = resp(
        200,
        FEED,
        {
            "Content-Type": "application/rss+xml; charset=utf-8",
            "ETag": '"v1"',
            "Last-Modified": "Sat, 28 Feb 2026 10:00:00 GMT",
            "Cache-Control": "public, max-age=900",
            "X-Custom": "Yes",
        },
    )
    with fetcher(lambda r: response) as f:
        result = f.fetch(BASE + "/feed")
    assert result.url == BASE + "/feed"
    assert result.final_url == BASE + "/feed"
    assert result.status == 200
    assert result.content == FEED
    assert not result.not_modified
    assert result.validators == Validators('"v1"', "Sat, 28 Feb 2026 10:00:00 GMT")
    assert result.max_age_seconds == 900
    assert result.retry_after is None
    assert result.moved_to is None
    assert result.headers["x-custom"] == "Yes"
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert all(k == k.lower() for k in result.headers)
    assert 0 <= result.elapsed_seconds < 5


def test_200_without_validators_returns_empty_validators() -> None:
    with fetcher(ok) as f:
        result = f.fetch(BASE + "/feed", Validators(etag='"old"'))
    assert result.validators == Validators()


def test_retry_after_on_a_success_is_kept() -> None:
    response = resp(200, FEED, {"Retry-After": "3600"})
    with fetcher(lambda r: response) as f:
        result = f.fetch(BASE + "/feed")
    assert result.retry_after == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


def test_304_keeps_the_validators_sent_when_it_repeats_none() -> None:
    sent = Validators(etag='"v1"', last_modified="Sat, 28 Feb 2026 10:00:00 GMT")
    with fetcher(lambda r: resp(304)) as f:
        result = f.fetch(BASE + "/feed", sent)
    assert result.not_modified
    assert result.content is None
    assert result.status == 304
    assert result.validators == sent


def test_304_takes_new_validators_and_keeps_the_rest() -> None:
    sent = Validators(etag='"v1"', last_modified="Sat, 28 Feb 2026 10:00:00 GMT")
    response = resp(304, headers={"ETag": '"v2"', "Cache-Control": "max-age=60"})
    with fetcher(lambda r: response) as f:
        result = f.fetch(BASE + "/feed", sent)
    assert result.validators == Validators('"v2"', "Sat, 28 Feb 2026 10:00:00 GMT")
    assert result.max_age_seconds == 60


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "HTTP 400 Bad Request"),
        (403, "HTTP 403 Forbidden"),
        (404, "HTTP 404 Not Found"),
        (429, "HTTP 429 Too Many Requests"),
        (500, "HTTP 500 Internal Server Error"),
        (503, "HTTP 503 Service Unavailable"),
    ],
)
def test_error_statuses(status: int, message: str) -> None:
    with (
        fetcher(lambda r: resp(status, b"<html>oops</html>")) as f,
        pytest.raises(HTTPStatusError) as info,
    ):
        f.fetch(BASE + "/feed")
    e = info.value
    assert type(e) is HTTPStatusError
    assert e.status == status
    assert e.reason == message
    assert str(e) == f"{BASE}/feed: {message}"
    assert e.url == BASE + "/feed"
    assert e.retry_after is None


def test_410_is_feed_gone() -> None:
    with fetcher(lambda r: resp(410)) as f, pytest.raises(FeedGone) as info:
        f.fetch(BASE + "/feed")
    assert info.value.status == 410
    assert info.value.reason.startswith("HTTP 410 Gone")
    assert isinstance(info.value, HTTPStatusError)


def test_unknown_status_keeps_the_servers_reason() -> None:
    response = httpx.Response(599, extensions={"reason_phrase": b"Network Read Timeout"})
    with fetcher(lambda r: response) as f, pytest.raises(HTTPStatusError) as info:
        f.fetch(BASE + "/feed")
    assert info.value.reason == "HTTP 599 Network Read Timeout"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        ("Sun, 01 Mar 2026 12:30:00 GMT", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
        ("later", None),
    ],
)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_on_429_and_503(status: int, header: str, expected: datetime | None) -> None:
    seen = Recorder({"/feed": answer(status, headers={"Retry-After": header})})
    with fetcher(seen) as f, pytest.raises(HTTPStatusError) as info:
        f.fetch(BASE + "/feed")
    assert info.value.status == status
    assert info.value.retry_after == expected


# --- redirects ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "moved"),
    [
        ((301,), True),
        ((308,), True),
        ((301, 308, 301), True),
        ((302,), False),
        ((303,), False),
        ((307,), False),
        ((301, 302), False),
        ((302, 301), False),
        ((301, 301, 307), False),
    ],
)
def test_redirect_chain_is_a_move_only_when_every_hop_is_permanent(
    statuses: tuple[int, ...], moved: bool
) -> None:
    routes: dict[str, Route] = {
        f"/hop{i}": redirect(status, f"/hop{i + 1}") for i, status in enumerate(statuses)
    }
    routes[f"/hop{len(statuses)}"] = answer(200, FEED)
    seen = Recorder(routes)
    with fetcher(seen) as f:
        result = f.fetch(BASE + "/hop0")
    final = f"{BASE}/hop{len(statuses)}"
    assert seen.paths == [f"/hop{i}" for i in range(len(statuses) + 1)]
    assert result.url == BASE + "/hop0"
    assert result.final_url == final
    assert result.content == FEED
    assert result.moved_to == (final if moved else None)


def test_conditional_headers_go_to_every_hop() -> None:
    seen = Recorder({"/old": redirect(301, "/new"), "/new": answer(304)})
    with fetcher(seen) as f:
        result = f.fetch(BASE + "/old", Validators(etag='"e"'))
    assert [r.headers.get("if-none-match") for r in seen.requests] == ['"e"', '"e"']
    assert result.not_modified
    assert result.moved_to == BASE + "/new"


@pytest.mark.parametrize(
    ("start", "location", "lands_on"),
    [
        ("/a/b/feed.xml", "../c/rss", "/a/c/rss"),
        ("/a/b/feed.xml", "rss.xml", "/a/b/rss.xml"),
        ("/a/b/feed.xml", "/root.xml", "/root.xml"),
        ("/a/b/feed.xml", "?page=2", "/a/b/feed.xml?page=2"),
        ("/a/b/feed.xml", "/x.xml#frag", "/x.xml"),
    ],
)
def test_relative_location_is_resolved_against_the_current_url(
    start: str, location: str, lands_on: str
) -> None:
    seen = Recorder({start: redirect(302, location)})
    seen.routes[lands_on] = answer(200, FEED)
    with fetcher(seen) as f:
        result = f.fetch(BASE + start)
    assert result.final_url == BASE + lands_on
    assert str(seen.requests[1].url) == BASE + lands_on


def test_scheme_relative_location_goes_to_the_other_host() -> None:
    seen = Recorder({"/feed": redirect(301, "//93.184.215.34:8080/moved")})
    seen.routes["/moved"] = answer(200, FEED)
    with fetcher(seen) as f:
        result = f.fetch(BASE + "/feed")
    assert result.final_url == "http://93.184.215.34:8080/moved"
    assert result.moved_to == "http://93.184.215.34:8080/moved"


def test_redirect_loop() -> None:
    seen = Recorder({"/a": redirect(302, "/b"), "/b": redirect(302, "/a")})
    with fetcher(seen) as f, pytest.raises(TooManyRedirects, match="redirect loop"):
        f.fetch(BASE + "/a")
    assert seen.paths == ["/a", "/b"]


def test_redirect_to_itself() -> None:
    seen = Recorder({"/a": redirect(301, BASE + "/a")})
    with fetcher(seen) as f, pytest.raises(TooManyRedirects, match="redirect loop"):
        f.fetch(BASE + "/a")
    assert seen.paths == ["/a"]


def test_chain_longer_than_the_limit() -> None:
    routes: dict[str, Route] = {f"/{i}": redirect(302, f"/{i + 1}") for i in range(10)}
    routes["/10"] = answer(200, FEED)
    settings = FetchSettings(max_redirects=3)
    # Exactly three hops are fine...
    with fetcher(Recorder(routes), settings=settings) as f:
        assert f.fetch(BASE + "/7").final_url == BASE + "/10"
    # ...the fourth is one too many, and it is never requested.
    seen = Recorder(routes)
    with (
        fetcher(seen, settings=settings) as f,
        pytest.raises(TooManyRedirects, match="more than 3 redirects") as info,
    ):
        f.fetch(BASE + "/0")
    assert seen.paths == ["/0", "/1", "/2", "/3"]
    assert info.value.url == BASE + "/0"


def test_max_redirects_zero_refuses_any_redirect() -> None:
    seen = Recorder({"/a": redirect(301, "/b"), "/b": answer(200)})
    with (
        fetcher(seen, settings=FetchSettings(max_redirects=0)) as f,
        pytest.raises(TooManyRedirects),
    ):
        f.fetch(BASE + "/a")


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "ftp://93.184.215.14/feed", "javascript:alert(1)", "data:,hi"],
)
def test_redirect_to_another_scheme_is_blocked(location: str) -> None:
    seen = Recorder({"/feed": redirect(302, location)})
    with fetcher(seen) as f, pytest.raises(BlockedURL) as info:
        f.fetch(BASE + "/feed")
    assert seen.paths == ["/feed"]
    assert "redirect to a" in info.value.reason


def test_redirect_without_location_is_an_error_status() -> None:
    with fetcher(lambda r: resp(302)) as f, pytest.raises(HTTPStatusError) as info:
        f.fetch(BASE + "/feed")
    assert info.value.status == 302
    assert info.value.reason == "HTTP 302 Found without a Location header"


def test_redirect_to_an_invalid_url() -> None:
    seen = Recorder({"/feed": redirect(302, "http://[broken/")})
    with fetcher(seen) as f, pytest.raises(FetchError, match="invalid URL"):
        f.fetch(BASE + "/feed")


# --- private addresses -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/feed",
        "http://127.0.0.1:8080/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/feed",
        "http://[::ffff:192.168.0.1]/feed",
        "http://0.0.0.0/feed",
        "http://localhost/feed",  # a name: resolved, and every address checked
    ],
)
def test_private_addresses_are_blocked_before_any_request(url: str) -> None:
    seen = Recorder({})
    with fetcher(seen, allow_private=False) as f, pytest.raises(BlockedURL) as info:
        f.fetch(url)
    assert seen.requests == []
    assert "address" in info.value.reason


def test_redirect_to_a_private_address_is_blocked() -> None:
    seen = Recorder({"/feed": redirect(301, "http://192.168.1.1/admin")})
    with fetcher(seen, allow_private=False) as f, pytest.raises(BlockedURL) as info:
        f.fetch(BASE + "/feed")
    assert seen.paths == ["/feed"]
    assert info.value.reason == (
        "refused redirect to http://192.168.1.1/admin: "
        "is a private address 192.168.1.1, not allowed here"
    )


def test_private_addresses_pass_when_allowed() -> None:
    seen = Recorder({"/feed": answer(200, FEED)})
    with fetcher(seen) as f:
        assert f.fetch("http://10.0.0.5/feed").content == FEED
    with fetcher(seen, allow_private=False, allowed_networks=["10.0.0.0/8"]) as f:
        assert f.fetch("http://10.0.0.5/feed").content == FEED
        with pytest.raises(BlockedURL):
            f.fetch("http://192.168.0.5/feed")


def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    # A name with one public and one private address is refused: the connection
    # could go to either. (resolve_host is replaced so that no DNS query leaves.)
    answers = {
        "feeds.example.com": ["93.184.215.14"],
        "mixed.example.com": ["93.184.215.14", "10.1.2.3"],
        "xn--bcher-kva.example": ["93.184.215.15"],  # bücher.example, as DNS sees it
    }
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    monkeypatch.setattr(addresses, "resolve_host", resolve)
    seen = Recorder({"/feed": answer(200, FEED)})
    with fetcher(seen, allow_private=False) as f:
        assert f.fetch("http://feeds.example.com/feed").content == FEED
        assert f.fetch("https://bücher.example:8443/feed").content == FEED
        with pytest.raises(BlockedURL) as info:
            f.fetch("http://mixed.example.com/feed")
        assert info.value.reason == (
            # Published as the feed's last error: the kind of address, never which.
            "refused: mixed.example.com resolves to a private address, not allowed here"
        )
        with pytest.raises(FetchConnectionError) as unresolved:
            f.fetch("http://nowhere.example.com/feed")
        assert unresolved.value.reason == "could not resolve host name nowhere.example.com"
    assert asked == [
        ("feeds.example.com", 80),
        ("xn--bcher-kva.example", 8443),
        ("mixed.example.com", 80),
        ("nowhere.example.com", 80),
    ]
    assert len(seen.requests) == 2


# --- bad URLs ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://93.184.215.14/feed", "javascript:alert(1)", "gopher://x"])
def test_other_schemes_are_blocked(url: str) -> None:
    seen = Recorder({})
    with fetcher(seen) as f, pytest.raises(BlockedURL, match="only http, https and files"):
        f.fetch(url)
    assert seen.requests == []


@pytest.mark.parametrize("url", ["http:///feed", "http://[::1/feed", "https://"])
def test_invalid_urls(url: str) -> None:
    with fetcher(ok) as f, pytest.raises(FetchError, match="not a valid URL") as info:
        f.fetch(url)
    assert "\n" not in str(info.value)


# --- body limits and decoding ------------------------------------------------------


class CountingStream(httpx.SyncByteStream):
    """A body of ``count`` chunks that records how many were taken."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk = chunk
        self.count = count
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.count):
            self.taken += 1
            yield self.chunk


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    stream = CountingStream(b"x" * 1024, 100)
    response = httpx.Response(200, headers={"Content-Length": str(100 * 1024)}, stream=stream)
    settings = FetchSettings(max_body_bytes=50 * 1024)
    with fetcher(lambda r: response, settings=settings) as f, pytest.raises(BodyTooLarge) as info:
        f.fetch(BASE + "/feed")
    assert stream.taken == 0
    assert info.value.reason == "body is 100 KiB, over the 50 KiB limit"


def test_streamed_body_over_the_limit_stops_at_the_limit() -> None:
    stream = CountingStream(b"x" * 1024, 1000)
    settings = FetchSettings(max_body_bytes=10 * 1024)
    with (
        fetcher(lambda r: httpx.Response(200, stream=stream), settings=settings) as f,
        pytest.raises(BodyTooLarge, match="over the 10 KiB limit"),
    ):
        f.fetch(BASE + "/feed")
    assert stream.taken == 11


def test_body_exactly_at_the_limit_is_fine() -> None:
    settings = FetchSettings(max_body_bytes=len(FEED), max_decompressed_bytes=len(FEED))
    with fetcher(ok, settings=settings) as f:
        assert f.fetch(BASE + "/feed").content == FEED


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(FEED)),
        ("deflate", zlib.compress(FEED)),
        ("identity", FEED),
    ],
)
def test_encoded_bodies_are_decoded(encoding: str, body: bytes) -> None:
    response = resp(200, body, {"Content-Encoding": encoding})
    with fetcher(lambda r: response) as f:
        result = f.fetch(BASE + "/feed")
    assert result.content == FEED
    assert result.headers["content-encoding"] == encoding


def test_decompressed_limit_is_separate_from_the_raw_limit() -> None:
    body = gzip.compress(bytes(1 << 20))  # 1 MiB of zeros in about 1 KiB
    response = resp(200, body, {"Content-Encoding": "gzip"})
    settings = FetchSettings(max_body_bytes=64 * 1024, max_decompressed_bytes=256 * 1024)
    with (
        fetcher(lambda r: response, settings=settings) as f,
        pytest.raises(BodyTooLarge) as info,
    ):
        f.fetch(BASE + "/feed")
    assert info.value.reason == "body is over the 256 KiB limit once decompressed (gzip)"


def test_corrupt_gzip_is_a_fetch_error() -> None:
    response = resp(200, b"not gzip", {"Content-Encoding": "gzip"})
    with fetcher(lambda r: response) as f, pytest.raises(FetchError) as info:
        f.fetch(BASE + "/feed")
    assert info.value.reason == "body is not valid gzip data (Content-Encoding: gzip)"
    assert isinstance(info.value.__cause__, ValueError)


def test_unrequested_encoding_is_a_fetch_error() -> None:
    response = resp(200, b"\x0b\x02", {"Content-Encoding": "br"})
    with fetcher(lambda r: response) as f, pytest.raises(FetchError) as info:
        f.fetch(BASE + "/feed")
    assert info.value.reason == "unsupported Content-Encoding br"


# --- transport errors --------------------------------------------------------------


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def with_cause(exc: httpx.HTTPError, cause: BaseException) -> httpx.HTTPError:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (
            httpx.ConnectTimeout("timed out"),
            FetchTimeout,
            "timed out after 10 s connecting",
        ),
        (
            httpx.ReadTimeout("timed out"),
            FetchTimeout,
            "timed out after 30 s waiting for response headers",
        ),
        (
            httpx.PoolTimeout("no connection"),
            FetchTimeout,
            "timed out waiting for a free connection",
        ),
        (
            with_cause(
                httpx.ConnectError("[Errno 111] Connection refused"),
                ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            ),
            FetchConnectionError,
            "could not connect to 93.184.215.14: connection refused",
        ),
        (
            with_cause(
                httpx.ReadError("[Errno 104] Connection reset by peer"),
                ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
            ),
            FetchConnectionError,
            "connection reset by peer while waiting for response headers",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            FetchConnectionError,
            "Server disconnected without sending a response. while waiting for response headers",
        ),
    ],
)
def test_transport_errors_are_mapped(
    exc: httpx.HTTPError, kind: type[FetchError], reason: str
) -> None:
    with fetcher(raising(exc)) as f, pytest.raises(FetchError) as info:
        f.fetch(BASE + "/feed")
    assert type(info.value) is kind
    assert info.value.reason == reason
    assert info.value.__cause__ is exc


class BrokenStream(httpx.SyncByteStream):
    def __init__(self, exc: httpx.HTTPError) -> None:
        self.exc = exc

    def __iter__(self) -> Iterator[bytes]:
        yield b"<rss>"
        raise self.exc


def test_reset_while_reading_the_body() -> None:
    exc = with_cause(
        httpx.ReadError("[Errno 104]"), ConnectionResetError(errno.ECONNRESET, "reset")
    )
    response = httpx.Response(200, stream=BrokenStream(exc))
    with fetcher(lambda r: response) as f, pytest.raises(FetchConnectionError) as info:
        f.fetch(BASE + "/feed")
    assert info.value.reason == "connection reset by peer while reading the body"
    assert info.value.__cause__ is exc


def test_read_timeout_while_reading_the_body() -> None:
    response = httpx.Response(200, stream=BrokenStream(httpx.ReadTimeout("timed out")))
    with fetcher(lambda r: response) as f, pytest.raises(FetchTimeout) as info:
        f.fetch(BASE + "/feed")
    assert info.value.reason == "timed out after 30 s waiting for more of the body"


def test_truncated_body_names_the_byte_counts() -> None:
    exc = httpx.RemoteProtocolError("peer closed connection without sending complete body")
    response = httpx.Response(200, headers={"Content-Length": "1000"}, stream=BrokenStream(exc))
    with fetcher(lambda r: response) as f, pytest.raises(FetchConnectionError) as info:
        f.fetch(BASE + "/feed")
    assert info.value.reason == "connection closed after 5 of 1,000 bytes of the body"


def test_error_after_a_redirect_names_the_hop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return redirect(302, "/new")()
        raise httpx.ReadTimeout("timed out")

    with fetcher(handler) as f, pytest.raises(FetchTimeout) as info:
        f.fetch(BASE + "/old")
    assert info.value.url == BASE + "/old"
    assert info.value.reason == (
        f"timed out after 30 s waiting for response headers (at {BASE}/new)"
    )


def test_a_read_timeout_cut_short_by_the_total_deadline_says_so() -> None:
    settings = FetchSettings(read_timeout=30, total_timeout=2)
    with (
        fetcher(raising(httpx.ReadTimeout("timed out")), settings=settings) as f,
        pytest.raises(FetchTimeout) as info,
    ):
        f.fetch(BASE + "/feed")
    assert info.value.reason == "gave up: the whole fetch took longer than 2 s"


def test_timeouts_sent_to_the_transport_are_capped_by_the_total_deadline() -> None:
    seen = Recorder({"/feed": answer(200, FEED)})
    settings = FetchSettings(connect_timeout=3, read_timeout=30, total_timeout=10)
    with fetcher(seen, settings=settings) as f:
        f.fetch(BASE + "/feed")
    timeout = seen.requests[0].extensions["timeout"]
    assert timeout["connect"] == 3
    assert 9 < timeout["read"] <= 10
    assert 9 < timeout["pool"] <= 10


# --- local files -------------------------------------------------------------------


def test_file_path_and_file_url(tmp_path: Path) -> None:
    feed = tmp_path / "my feed.xml"
    feed.write_bytes(FEED)
    with fetcher(ok) as f:
        by_path = f.fetch(str(feed))
        by_url = f.fetch(feed.as_uri())
    assert feed.as_uri().endswith("/my%20feed.xml")
    for result in (by_path, by_url):
        assert result.content == FEED
        assert result.status == 200
        assert result.final_url == feed.as_uri()
        assert result.validators.last_modified is not None
        assert result.validators.last_modified.endswith(" GMT")
        assert result.validators.etag
    assert by_path.url == str(feed)
    assert by_url.url == feed.as_uri()


def test_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "a.xml").write_bytes(FEED)
    monkeypatch.chdir(tmp_path)
    with fetcher(ok) as f:
        assert f.fetch("feeds/a.xml").content == FEED
        assert f.fetch("file:feeds/a.xml").content == FEED


def test_unchanged_file_is_not_modified(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(FEED)
    os.utime(feed, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    with fetcher(ok) as f:
        first = f.fetch(str(feed))
        # 1,700,000,000 s after the epoch is Tue, 14 Nov 2023 22:13:20 UTC.
        assert first.validators.last_modified == "Tue, 14 Nov 2023 22:13:20 GMT"
        again = f.fetch(str(feed), first.validators)
        assert again.not_modified
        assert again.status == 304
        assert again.validators == first.validators
        # Last-Modified alone also works (validators stored before ETags existed).
        lm_only = Validators(last_modified=first.validators.last_modified)
        assert f.fetch(str(feed), lm_only).not_modified

        # Rewritten within the same second: Last-Modified cannot tell, the ETag can.
        feed.write_bytes(FEED + b"\n")
        os.utime(feed, ns=(1_700_000_000_500_000_000, 1_700_000_000_500_000_000))
        changed = f.fetch(str(feed), first.validators)
    assert changed.content == FEED + b"\n"
    assert changed.validators.last_modified == first.validators.last_modified
    assert changed.validators.etag != first.validators.etag


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.xml"
    with fetcher(ok) as f, pytest.raises(FetchError) as info:
        f.fetch(str(missing))
    assert type(info.value) is FetchError
    assert info.value.reason == f"no such file: {missing}"
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_directory_is_not_a_feed(tmp_path: Path) -> None:
    with fetcher(ok) as f, pytest.raises(FetchError, match="not a regular file"):
        f.fetch(str(tmp_path))


def test_oversized_file(tmp_path: Path) -> None:
    feed = tmp_path / "big.xml"
    feed.write_bytes(b"x" * 2048)
    with (
        fetcher(ok, settings=FetchSettings(max_body_bytes=1024)) as f,
        pytest.raises(BodyTooLarge, match="over the 1 KiB limit"),
    ):
        f.fetch(str(feed))


def test_files_blocked_when_not_allowed(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(FEED)
    with fetcher(ok, allow_file=False) as f:
        for url in (str(feed), feed.as_uri()):
            with pytest.raises(BlockedURL, match="local files may not be fetched"):
                f.fetch(url)


def test_file_url_with_a_remote_host_is_blocked() -> None:
    with fetcher(ok) as f, pytest.raises(BlockedURL, match="another host"):
        f.fetch("file://fileserver/share/feed.xml")


# --- client lifecycle and threads --------------------------------------------------


class ClosingTransport(httpx.MockTransport):
    closed = False

    def close(self) -> None:
        self.closed = True


def test_context_manager_closes_the_transport() -> None:
    transport = ClosingTransport(ok)
    with Fetcher(FetchSettings(), transport=transport) as f:
        f.fetch(BASE + "/feed")
        assert not transport.closed
    assert transport.closed


def test_one_fetcher_serves_many_threads() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = request.url.path.strip("/")
        return resp(200, n.encode(), {"ETag": f'"{n}"'})

    with fetcher(handler) as f, ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: f.fetch(f"{BASE}/{i}"), range(200)))
    assert [r.content for r in results] == [str(i).encode() for i in range(200)]
    assert [r.validators.etag for r in results] == [f'"{i}"' for i in range(200)]
