"""A real HTTP server on 127.0.0.1 that serves feeds politely, for integration tests.

It answers conditional requests (ETag / If-None-Match, Last-Modified /
If-Modified-Since) with 304, can be told to fail a path with a status, and logs every
request (path, status, conditional headers) so tests can check what our client sent.
"""

from __future__ import annotations

import hashlib
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class LoggedRequest:
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    at: float = 0.0  # time.time() when the answer was sent
    host: str | None = None  # the Host header


@dataclass
class _Resource:
    body: bytes
    etag: str
    last_modified: str
    content_type: str = "application/rss+xml"
    status: int | None = None  # when set, answer this status instead
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """Listens on ``host`` (127.0.0.1 unless told), on ``port`` (any free one unless
    told), over TLS with ``tls`` given."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        self._resources: dict[str, _Resource] = {}
        self._lock = threading.Lock()
        self.log: list[LoggedRequest] = []
        self.delay = 0.0  # seconds to wait before answering, to make polls overlap
        # Cleared, every answer waits until it is set again: a server as slow as a
        # test needs, with no clock involved.
        self.gate = threading.Event()
        self.gate.set()
        self.in_flight = 0
        self.max_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                # A client that hangs up early (a body over its limit) is expected here.
                pass

        self._httpd = Server((host, port), Handler)
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.daemon_threads = True
        self._host = host
        self._scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        return f"{self._scheme}://{self._host}:{self.port}{path}"

    def serve(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml",
        headers: dict[str, str] | None = None,
    ) -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        resource = _Resource(
            body, etag, formatdate(usegmt=True), content_type, headers=dict(headers or {})
        )
        with self._lock:
            self._resources[path] = resource

    def fail(self, path: str, status: int, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._resources[path] = _Resource(
                b"", "", "", status=status, headers=dict(headers or {})
            )

    def requests_for(self, path: str) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if r.path == path]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            self.gate.wait()
            self._answer(h)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            resource = self._resources.get(h.path)
        inm = h.headers.get("If-None-Match")
        ims = h.headers.get("If-Modified-Since")
        if resource is None:
            status, body, headers = 404, b"not found", {}
        elif resource.status is not None:
            status, body, headers = resource.status, b"", resource.headers
        elif inm == resource.etag or (inm is None and ims == resource.last_modified):
            status, body, headers = 304, b"", {"ETag": resource.etag}
        else:
            status, body = 200, resource.body
            headers = {
                "ETag": resource.etag,
                "Last-Modified": resource.last_modified,
                "Content-Type": resource.content_type,
                **resource.headers,
            }
        with self._lock:
            self.log.append(
                LoggedRequest(
                    h.path,
                    status,
                    inm,
                    ims,
                    h.headers.get("User-Agent"),
                    time.time(),
                    h.headers.get("Host"),
                )
            )
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
