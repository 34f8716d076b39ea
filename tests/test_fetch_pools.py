"""The fetcher's connections, against real servers on 127.0.0.1.

One small keep-alive pool per origin (aggregator.feeds._transport.OriginPools):
connections are reused within an origin, idle ones of origins not used lately are
closed, a response still being read is never cut by that, and proxies come from the
environment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aggregator.feeds.fetch import Fetcher
from aggregator.settings import FetchSettings

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
FAST = FetchSettings(connect_timeout=2, read_timeout=2, total_timeout=5)


class CountingServer(ThreadingHTTPServer):
    """Answers every GET with ``body``; counts connections accepted and still open."""

    daemon_threads = True

    def __init__(self, body: bytes = FEED, pause: float = 0.0) -> None:
        self.body = body
        self.pause = pause  # sleep this long in the middle of the body
        self.accepted = 0
        self.open = 0
        self.request_lines: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/feed.xml"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CountingServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.accepted += 1
            self.server.open += 1

    def finish(self) -> None:
        super().finish()
        with self.server.lock:
            self.server.open -= 1

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.request_lines.append(self.requestline)
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        half = len(body) // 2
        self.wfile.write(body[:half])
        self.wfile.flush()
        time.sleep(self.server.pause)
        self.wfile.write(body[half:])

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[Callable[..., CountingServer]]:
    started: list[CountingServer] = []

    def start(body: bytes = FEED, pause: float = 0.0) -> CountingServer:
        server = CountingServer(body, pause)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def wait_for(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_one_origin_reuses_its_connection(servers: Callable[..., CountingServer]) -> None:
    server = servers()
    with Fetcher(FAST) as fetcher:
        for _ in range(5):
            assert fetcher.fetch(server.url).content == FEED
    assert server.accepted == 1


def test_idle_connections_of_origins_not_used_lately_are_closed(
    servers: Callable[..., CountingServer],
) -> None:
    # max_connections=4: the pools of the 2 origins used last stay open.
    many = [servers() for _ in range(6)]
    with Fetcher(FetchSettings(max_connections=4)) as fetcher:
        for server in many:
            assert fetcher.fetch(server.url).content == FEED
        assert wait_for(lambda: sum(s.open for s in many) == 2)
        assert [s.open for s in many[-2:]] == [1, 1]
        # The origin used last keeps its connection: no new one for it.
        fetcher.fetch(many[-1].url)
        assert many[-1].accepted == 1


def test_a_response_being_read_is_not_cut_when_its_pool_grows_old(
    servers: Callable[..., CountingServer],
) -> None:
    slow_body = FEED + b"<!--" + b"x" * 100_000 + b"-->"
    slow = servers(slow_body, pause=0.5)
    others = [servers() for _ in range(4)]
    with Fetcher(FetchSettings(max_connections=2)) as fetcher:  # keeps 1 origin
        got: list[bytes | None] = []
        reader = threading.Thread(target=lambda: got.append(fetcher.fetch(slow.url).content))
        reader.start()
        assert wait_for(lambda: len(slow.request_lines) == 1)
        for server in others:  # each makes the slow origin's pool older
            assert fetcher.fetch(server.url).content == FEED
        reader.join()
    assert got == [slow_body]


def test_proxy_from_the_environment(
    servers: Callable[..., CountingServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = servers()
    direct = servers()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with Fetcher(FAST) as fetcher:
        # The proxy answers for a host that does not exist: it was asked, not the host.
        assert fetcher.fetch("http://feeds.example.invalid/show.xml").content == FEED
        assert fetcher.fetch(direct.url).content == FEED  # NO_PROXY: straight there
    assert proxy.request_lines == ["GET http://feeds.example.invalid/show.xml HTTP/1.1"]
    assert direct.request_lines == ["GET /feed.xml HTTP/1.1"]
