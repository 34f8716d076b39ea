"""Fetch against REAL servers on 127.0.0.1: real headers, redirects, slow and broken bodies.

pytest-httpserver answers the well-behaved cases; ``tests/hostile_server.py`` does
what it cannot (stalls, trickles, resets, short bodies). Timeouts are a fraction of a
second so the whole file runs in a few seconds.
"""

from __future__ import annotations

import socket
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator import USER_AGENT
from aggregator.exceptions import (
    BlockedURL,
    BodyTooLarge,
    FeedGone,
    FetchConnectionError,
    FetchTimeout,
    HTTPStatusError,
    TooManyRedirects,
)
from aggregator.feeds.fetch import Fetcher
from aggregator.settings import FetchSettings
from aggregator.types import Validators
from tests.hostile_server import (
    HostileServer,
    endless,
    gzip_bomb,
    reset_mid_body,
    stall,
    trickle,
    truncated,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
FAST = FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=5)
MiB = 1 << 20


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    # Our own instance on 127.0.0.1 (the plugin's default host is "localhost", which
    # may also resolve to ::1 and would muddle the address tests).
    s = HTTPServer(host="127.0.0.1", port=0)
    s.start()
    yield s
    s.clear()
    s.stop()


@pytest.fixture
def web(server: HTTPServer) -> Iterator[HTTPServer]:
    server.clear()
    yield server
    server.check_assertions()


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    s = HostileServer()
    yield s
    s.close()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST, clock=lambda: NOW) as f:
        yield f


# --- well-behaved server -----------------------------------------------------------


def test_headers_reach_the_server(web: HTTPServer, fetcher: Fetcher) -> None:
    web.expect_request("/feed").respond_with_data(FEED, content_type="application/rss+xml")
    result = fetcher.fetch(web.url_for("/feed"))
    assert result.content == FEED
    request, _ = web.log[0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert "application/rss+xml" in request.headers["Accept"]


def test_conditional_get_round_trip_with_etag(web: HTTPServer, fetcher: Fetcher) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(FEED, headers={"ETag": '"v1"'}, content_type="application/rss+xml")

    web.expect_request("/feed").respond_with_handler(handler)
    url = web.url_for("/feed")
    first = fetcher.fetch(url)
    assert first.content == FEED
    assert first.validators == Validators(etag='"v1"')
    second = fetcher.fetch(url, first.validators)
    assert second.not_modified
    assert second.status == 304
    assert second.validators == Validators(etag='"v1"')
    assert [r.headers.get("If-None-Match") for r, _ in web.log] == [None, '"v1"']


def test_conditional_get_round_trip_with_last_modified(web: HTTPServer, fetcher: Fetcher) -> None:
    stamp = "Sat, 28 Feb 2026 10:00:00 GMT"

    def handler(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return Response(status=304)
        return Response(FEED, headers={"Last-Modified": stamp})

    web.expect_request("/feed").respond_with_handler(handler)
    url = web.url_for("/feed")
    first = fetcher.fetch(url)
    assert first.validators == Validators(last_modified=stamp)
    second = fetcher.fetch(url, first.validators)
    assert second.not_modified
    assert second.validators == Validators(last_modified=stamp)  # kept though not repeated
    assert [r.headers.get("If-Modified-Since") for r, _ in web.log] == [None, stamp]


def test_301_is_a_move(web: HTTPServer, fetcher: Fetcher) -> None:
    web.expect_request("/old").respond_with_response(
        Response(status=301, headers={"Location": "/new"})
    )
    web.expect_request("/new").respond_with_data(FEED)
    result = fetcher.fetch(web.url_for("/old"))
    assert result.content == FEED
    assert result.url == web.url_for("/old")
    assert result.final_url == web.url_for("/new")
    assert result.moved_to == web.url_for("/new")


def test_302_is_not_a_move(web: HTTPServer, fetcher: Fetcher) -> None:
    web.expect_request("/today").respond_with_response(
        Response(status=302, headers={"Location": web.url_for("/feed")})
    )
    web.expect_request("/feed").respond_with_data(FEED)
    result = fetcher.fetch(web.url_for("/today"))
    assert result.content == FEED
    assert result.final_url == web.url_for("/feed")
    assert result.moved_to is None


def test_redirect_loop(web: HTTPServer, fetcher: Fetcher) -> None:
    web.expect_request("/a").respond_with_response(Response(status=302, headers={"Location": "/b"}))
    web.expect_request("/b").respond_with_response(Response(status=301, headers={"Location": "/a"}))
    with pytest.raises(TooManyRedirects, match="redirect loop"):
        fetcher.fetch(web.url_for("/a"))
    assert [r.path for r, _ in web.log] == ["/a", "/b"]


def test_410_gone(web: HTTPServer, fetcher: Fetcher) -> None:
    web.expect_request("/feed").respond_with_data("gone", status=410)
    with pytest.raises(FeedGone) as info:
        fetcher.fetch(web.url_for("/feed"))
    assert info.value.status == 410


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("90", NOW + timedelta(seconds=90)),
        ("Sun, 01 Mar 2026 13:00:00 GMT", datetime(2026, 3, 1, 13, 0, tzinfo=UTC)),
    ],
)
def test_429_with_retry_after(
    web: HTTPServer, fetcher: Fetcher, retry_after: str, expected: datetime
) -> None:
    web.expect_request("/feed").respond_with_data(
        "slow down", status=429, headers={"Retry-After": retry_after}
    )
    with pytest.raises(HTTPStatusError) as info:
        fetcher.fetch(web.url_for("/feed"))
    assert info.value.status == 429
    assert info.value.reason == "HTTP 429 Too Many Requests"
    assert info.value.retry_after == expected


def test_deflate_body(web: HTTPServer, fetcher: Fetcher) -> None:
    web.expect_request("/feed").respond_with_data(
        zlib.compress(FEED), headers={"Content-Encoding": "deflate"}
    )
    assert fetcher.fetch(web.url_for("/feed")).content == FEED


def test_wrong_content_type_is_still_fetched(web: HTTPServer, fetcher: Fetcher) -> None:
    # Whether the bytes are a feed is for parse to say, not fetch.
    page = b"<!doctype html><html><body>Not a feed</body></html>"
    web.expect_request("/feed").respond_with_data(page, content_type="text/html")
    result = fetcher.fetch(web.url_for("/feed"))
    assert result.content == page
    assert result.headers["content-type"].startswith("text/html")


def test_oversized_body_by_content_length(web: HTTPServer) -> None:
    web.expect_request("/feed").respond_with_data(b"x" * (8 * 1024))
    settings = FetchSettings(read_timeout=2, total_timeout=5, max_body_bytes=4 * 1024)
    with Fetcher(settings) as f, pytest.raises(BodyTooLarge) as info:
        f.fetch(web.url_for("/feed"))
    assert info.value.reason == "body is 8 KiB, over the 4 KiB limit"


def test_gzip_bomb_stops_at_the_limit_without_inflating_it(web: HTTPServer) -> None:
    bomb = gzip_bomb(1024)  # 1 GiB of zeros in about 1 MiB
    assert len(bomb) < 2 * MiB
    web.expect_request("/feed").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    limit = 16 * MiB
    settings = FetchSettings(read_timeout=5, total_timeout=20, max_decompressed_bytes=limit)
    with Fetcher(settings) as f:
        tracemalloc.start()
        try:
            started = time.monotonic()
            with pytest.raises(BodyTooLarge) as info:
                f.fetch(web.url_for("/feed"))
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert info.value.reason == "body is over the 16 MiB limit once decompressed (gzip)"
    # The brief allows 100 MB of growth; we hold ourselves to the limit plus 16 MiB of
    # slack, so a fetcher that inflated a whole 64 KiB network read at once (64 MiB of
    # zeros) would fail here.
    assert peak < limit + 16 * MiB, f"peak traced memory {peak / MiB:.0f} MiB"
    assert elapsed < 10


def test_redirect_to_a_private_address_is_blocked(web: HTTPServer) -> None:
    # The server itself is on 127.0.0.1, so that one address is allowed; the
    # redirect targets are other non-public addresses.
    web.expect_request("/feed").respond_with_data(FEED)
    web.expect_request("/metadata").respond_with_response(
        Response(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    web.expect_request("/loopback").respond_with_response(
        Response(status=301, headers={"Location": f"http://127.0.0.2:{web.port}/feed"})
    )
    with Fetcher(FAST, allow_private=False, allowed_networks=["127.0.0.1/32"]) as f:
        assert f.fetch(web.url_for("/feed")).content == FEED
        with pytest.raises(BlockedURL) as info:
            f.fetch(web.url_for("/metadata"))
        assert "link-local address 169.254.169.254" in info.value.reason
        with pytest.raises(BlockedURL) as info:
            f.fetch(web.url_for("/loopback"))
        assert "loopback address 127.0.0.2" in info.value.reason
    assert [r.path for r, _ in web.log] == ["/feed", "/metadata", "/loopback"]


def test_private_server_is_not_contacted_at_all(web: HTTPServer) -> None:
    web.expect_request("/feed").respond_with_data(FEED)
    with Fetcher(FAST, allow_private=False) as f, pytest.raises(BlockedURL):
        f.fetch(web.url_for("/feed"))
    assert web.log == []


def test_connection_refused() -> None:
    with socket.socket() as s:  # a port that was free a moment ago, and is again
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Fetcher(FAST) as f, pytest.raises(FetchConnectionError) as info:
        f.fetch(f"http://127.0.0.1:{port}/feed")
    assert info.value.reason == "could not connect to 127.0.0.1: connection refused"


# --- misbehaving server ------------------------------------------------------------


def test_stall_before_headers_hits_the_read_timeout(hostile: HostileServer) -> None:
    url = hostile.route("/stall", stall(5))
    settings = FetchSettings(connect_timeout=1, read_timeout=0.5, total_timeout=5)
    started = time.monotonic()
    with Fetcher(settings) as f, pytest.raises(FetchTimeout) as info:
        f.fetch(url)
    assert info.value.reason == "timed out after 0.5 s waiting for response headers"
    assert 0.4 < time.monotonic() - started < 2


def test_trickling_body_hits_the_total_deadline(hostile: HostileServer) -> None:
    # A byte every 0.1 s never trips the 2 s read timeout; only the total deadline
    # (1 s) stops it, long before the 10 s the server would take.
    url = hostile.route("/trickle", trickle(0.1, 100))
    settings = FetchSettings(connect_timeout=1, read_timeout=2, total_timeout=1)
    started = time.monotonic()
    with Fetcher(settings) as f, pytest.raises(FetchTimeout) as info:
        f.fetch(url)
    elapsed = time.monotonic() - started
    assert info.value.reason == (
        "gave up while reading the body: the whole fetch took longer than 1 s"
    )
    assert 0.9 < elapsed < 2


def test_pause_in_the_body_hits_the_read_timeout(hostile: HostileServer) -> None:
    url = hostile.route("/pause", trickle(1.5, 3))
    settings = FetchSettings(connect_timeout=1, read_timeout=0.5, total_timeout=5)
    with Fetcher(settings) as f, pytest.raises(FetchTimeout) as info:
        f.fetch(url)
    assert info.value.reason == "timed out after 0.5 s waiting for more of the body"


def test_reset_mid_body(hostile: HostileServer, fetcher: Fetcher) -> None:
    url = hostile.route("/reset", reset_mid_body(sent=100, promised=1000))
    with pytest.raises(FetchConnectionError) as info:
        fetcher.fetch(url)
    assert info.value.reason == "connection reset by peer while reading the body"
    assert info.value.__cause__ is not None


def test_truncated_body(hostile: HostileServer, fetcher: Fetcher) -> None:
    url = hostile.route("/short", truncated(sent=100, promised=1000))
    with pytest.raises(FetchConnectionError) as info:
        fetcher.fetch(url)
    assert info.value.reason == "connection closed after 100 of 1,000 bytes of the body"


def test_oversized_streamed_body_without_content_length(hostile: HostileServer) -> None:
    url = hostile.route("/endless", endless())
    settings = FetchSettings(read_timeout=2, total_timeout=5, max_body_bytes=MiB)
    started = time.monotonic()
    with Fetcher(settings) as f, pytest.raises(BodyTooLarge) as info:
        f.fetch(url)
    assert info.value.reason == "body is over the 1 MiB limit"
    assert time.monotonic() - started < 2
