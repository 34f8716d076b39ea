"""A raw-socket HTTP server on 127.0.0.1 that misbehaves on purpose, for fetch tests.

pytest-httpserver (werkzeug) always answers properly; the faults a feed fetcher must
survive happen below HTTP: a server that never answers, one that trickles a byte at a
time, one that resets the connection mid-body, one that closes before the promised
Content-Length. Each path is given a behaviour, a function that gets the connected
socket after the request head was read. Every loop here is bounded in count and time
and stops when ``close()`` is called.

Also ``gzip_bomb``: a valid gzip stream of many zeros built without ever holding them;
``hostile_cases``: every hostile server we must survive (stalls, floods, bombs,
loops) routed on one server, with the error each must end in
(tests/test_hostile_feeds.py, bench/hostile.py); and
``run_measured``: a child process run to its end, with its own peak RSS.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from aggregator.settings import FetchSettings

Behaviour = Callable[[socket.socket, threading.Event], None]


class HostileServer:
    def __init__(self) -> None:
        self._routes: dict[str, Behaviour] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.requests: list[bytes] = []  # request heads as received
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepter.start()

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> str:
        self._routes[path] = behaviour
        return self.url(path)

    def close(self) -> None:
        self._stop.set()
        self._accepter.join(timeout=2)
        self._sock.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.close()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=2)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._conns.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            self.requests.append(head)
            path = head.split(b" ", 2)[1].decode("ascii")
            behaviour = self._routes.get(path, not_found)
            behaviour(conn, self._stop)
        except OSError:
            pass  # the client gave up on us: that is the point of most behaviours
        finally:
            with contextlib.suppress(OSError):
                conn.close()


# --- behaviours --------------------------------------------------------------------


def not_found(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def stall(seconds: float) -> Behaviour:
    """Read the request, then say nothing for ``seconds``."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        stop.wait(seconds)

    return behaviour


def trickle(interval: float, count: int) -> Behaviour:
    """Promise ``count`` bytes, then send one every ``interval`` seconds."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(200, {"Content-Length": str(count)}))
        for _ in range(count):
            if stop.wait(interval):
                return
            conn.sendall(b"x")

    return behaviour


def reset_mid_body(sent: int = 100, promised: int = 1000) -> Behaviour:
    """Send part of the body, then abort with a TCP reset (RST, not FIN)."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(200, {"Content-Length": str(promised)}) + b"x" * sent)
        stop.wait(0.2)  # let the client take the head and start on the body
        # SO_LINGER on with a zero timeout makes close() send RST.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    return behaviour


def truncated(sent: int = 100, promised: int = 1000) -> Behaviour:
    """Promise ``promised`` bytes, send ``sent``, and close cleanly."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(200, {"Content-Length": str(promised)}) + b"x" * sent)
        conn.shutdown(socket.SHUT_WR)

    return behaviour


def endless(chunk: int = 64 * 1024, cap: int = 256 * 1024 * 1024) -> Behaviour:
    """A body with no Content-Length that goes on until the client leaves (or ``cap``)."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(200, {"Connection": "close", "Content-Type": "application/rss+xml"}))
        block = b"<item/>" * (chunk // 7)
        sent = 0
        deadline = time.monotonic() + 10
        while sent < cap and not stop.is_set() and time.monotonic() < deadline:
            conn.sendall(block)
            sent += len(block)

    return behaviour


def respond(body: bytes, headers: dict[str, str] | None = None) -> Behaviour:
    """A complete, correct response: the hostility is in the body or the headers."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        head = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        conn.sendall(_head(200, head) + body)

    return behaviour


def redirect(location: str, status: int = 302) -> Behaviour:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        head = {"Location": location, "Content-Length": "0", "Connection": "close"}
        conn.sendall(_head(status, head))

    return behaviour


def huge(size: int, *, declare_length: bool, seconds: float = 60) -> Behaviour:
    """A ``size``-byte feed-like body, generated as it is sent and never held whole.

    With ``declare_length`` the size is announced in Content-Length; without, the body
    simply goes on until the connection closes. Stops early when the client leaves.
    """

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        headers = {"Connection": "close", "Content-Type": "application/rss+xml"}
        if declare_length:
            headers["Content-Length"] = str(size)
        opening = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>'
        conn.sendall(_head(200, headers) + opening)
        item = b"<item><title>again</title><guid>g</guid></item>\n"
        block = item * (64 * 1024 // len(item))
        sent = len(opening)
        deadline = time.monotonic() + seconds
        while sent < size and not stop.is_set() and time.monotonic() < deadline:
            piece = block[: size - sent]
            conn.sendall(piece)
            sent += len(piece)

    return behaviour


_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}


def _head(status: int, headers: dict[str, str]) -> bytes:
    reason = _REASONS.get(status, "Whatever")
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


# --- gzip bomb ---------------------------------------------------------------------


@functools.cache
def gzip_bomb(size_mib: int) -> bytes:
    """A valid gzip stream of ``size_mib`` MiB of zeros, about 1 KiB per MiB.

    Compressing 1 GiB for real takes seconds; but once zlib's window is all zeros,
    every further MiB of zeros compresses (with a sync flush, which byte-aligns it) to
    the very same bytes, so we compress two MiB and repeat the second. The trailer
    carries the true CRC-32 and length, so a full inflate checks out.
    """
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = compressor.compress(mib) + compressor.flush(zlib.Z_SYNC_FLUSH)
    steady = compressor.compress(mib) + compressor.flush(zlib.Z_SYNC_FLUSH)
    tail = compressor.flush()  # final empty block + trailer for 2 MiB: trailer replaced
    crc = 0
    for _ in range(size_mib):
        crc = zlib.crc32(mib, crc)
    trailer = struct.pack("<II", crc, (size_mib << 20) & 0xFFFFFFFF)
    return first + steady * (size_mib - 1) + tail[:-8] + trailer


# --- the hostile batch -------------------------------------------------------------
# One catalog of every hostile server a poll must survive without harm to the batch,
# used by the end-to-end tests and by bench/hostile.py. Each case is a URL on a
# HostileServer and what the error stored on its feed must say when fetched with
# HOSTILE_LIMITS.

MiB = 1 << 20
GiB = 1 << 30

# Short on purpose: the whole batch ends in about total_timeout. The trickle (a byte a
# second) never trips read_timeout; only total_timeout stops it.
HOSTILE_LIMITS = FetchSettings(
    connect_timeout=1.0,
    read_timeout=1.5,
    total_timeout=2.0,
    max_body_bytes=4 * MiB,
    max_decompressed_bytes=16 * MiB,
    max_redirects=5,
    max_connections=64,  # every case at once, none waiting for a connection
)


@dataclass(frozen=True)
class HostileCase:
    name: str
    url: str
    error: str  # a fragment the stored error must contain


def billion_laughs() -> bytes:
    """Ten levels of ten references each: 10^9 "lol"s (3 GB) if expanded."""
    entities = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)
    )
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [' + entities + b"]>\n"
        b'<rss version="2.0"><channel><title>&lol9;</title>'
        b"<item><title>&lol9;</title><guid>laughs-1</guid></item></channel></rss>"
    )


def external_entity(secret: Path) -> bytes:
    """A feed that asks the parser to read ``secret`` into its titles (XXE)."""
    return (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "' + secret.as_uri().encode() + b'">]>\n'
        b'<rss version="2.0"><channel><title>Leak &xxe;</title>'
        b"<description>&xxe;</description>"
        b"<item><title>Item &xxe;</title><guid>xxe-1</guid></item></channel></rss>"
    )


def hostile_cases(
    server: HostileServer, *, secret_feed: Path, secret_text: Path
) -> list[HostileCase]:
    """Route every hostile behaviour on ``server``; the cases, with expected errors.

    ``secret_feed`` is a readable RSS file a ``file:`` redirect points at, and
    ``secret_text`` a file an external entity points at: neither may reach storage.
    """
    page = b"<!doctype html><html><head><title>Shop</title></head><body>Buy!</body></html>"
    private = "http://169.254.169.254/latest/meta-data/"
    routes: list[tuple[str, str, Behaviour, str]] = [
        ("stalls before headers", "/stall", stall(30),
         "timed out after 1.5 s waiting for response headers"),
        ("trickles a byte a second", "/trickle", trickle(1.0, 1000),
         "gave up while reading the body: the whole fetch took longer than 2 s"),
        ("resets mid-body", "/reset", reset_mid_body(sent=100, promised=1000),
         "connection reset by peer while reading the body"),
        ("truncates the body", "/truncated", truncated(sent=100, promised=1000),
         "connection closed after 100 of 1,000 bytes of the body"),
        ("loops redirects", "/loop-a", redirect("/loop-b"),
         "redirect loop: "),
        ("redirects to file:", "/to-file", redirect(secret_feed.as_uri()),
         f"redirect to a file: URL ({secret_feed.as_uri()}) is not followed"),
        ("redirects to a private address", "/to-private", redirect(private),
         f"refused redirect to {private}: is a link-local address 169.254.169.254"),
        ("redirects to a private network", "/to-lan", redirect("http://10.1.2.3/feed.xml"),
         "refused redirect to http://10.1.2.3/feed.xml: is a private address 10.1.2.3"),
        ("gzip bomb (1 GiB of zeros)", "/bomb",
         respond(gzip_bomb(1024), {"Content-Encoding": "gzip"}),
         "body is over the 16 MiB limit once decompressed (gzip)"),
        ("2 GB body, Content-Length given", "/huge-declared", huge(2 * GiB, declare_length=True),
         "body is 2 GiB, over the 4 MiB limit"),
        ("2 GB body, streamed", "/huge-streamed", huge(2 * GiB, declare_length=False),
         "body is over the 4 MiB limit"),
        ("wrong content type (an HTML page)", "/html",
         respond(page, {"Content-Type": "text/html; charset=utf-8"}),
         "an HTML page, not an RSS or Atom feed"),
        ("wrong content type (audio)", "/audio",
         respond(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 64,
                 {"Content-Type": "audio/mpeg"}),
         "not XML and not a feed"),
        ("XML billion laughs", "/laughs",
         respond(billion_laughs(), {"Content-Type": "application/rss+xml"}),
         "XML entity 'lol1' is defined by other entities, refused"),
        ("XML external entity (XXE)", "/xxe",
         respond(external_entity(secret_text), {"Content-Type": "application/rss+xml"}),
         f"XML external entity 'xxe' ({secret_text.as_uri()}) refused"),
    ]  # fmt: skip
    server.route("/loop-b", redirect("/loop-a", status=301))
    return [
        HostileCase(name, server.route(path, behaviour), error)
        for name, path, behaviour, error in routes
    ]


# --- a child process, measured -------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_bytes: int
    seconds: float


# Runs a module as ``python -m`` does and, on the way out, writes the process's peak
# RSS (VmHWM) to the file named first. Not ``wait4``'s or RUSAGE_CHILDREN's ru_maxrss:
# Linux carries the parent's peak over into a child that execs, so a big test or
# bench process would show through as the child's peak.
_PEAK_WRAPPER = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
    with open('/proc/self/status') as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith('VmHWM:'))
    with open(out, 'w') as f:
        f.write(str(kib * 1024))
atexit.register(peak)
sys.argv[0] = sys.argv.pop(1)
runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)
"""


def run_measured(module: str, args: list[str], *, cwd: Path, timeout: float) -> Measured:
    """``python -m module args`` run to its end: its output, exit and own peak RSS."""
    with tempfile.TemporaryDirectory() as scratch:
        peak = Path(scratch) / "peak"
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-c", _PEAK_WRAPPER, str(peak), module, *args],
            cwd=cwd,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        seconds = time.monotonic() - started
        return Measured(
            returncode=run.returncode,
            stdout=run.stdout.decode("utf-8", "replace"),
            stderr=run.stderr.decode("utf-8", "replace"),
            peak_rss_bytes=int(peak.read_text()),
            seconds=seconds,
        )


def poll_config(
    urls: list[str], *, database: Path, fetch: FetchSettings, workers: int, per_host: int
) -> str:
    """A config.toml for ``aggregator poll`` of ``urls`` with these limits."""
    limits = "\n".join(f"{key} = {value}" for key, value in asdict(fetch).items())
    feeds = "\n".join(f'[[feeds]]\nurl = "{url}"\n' for url in urls)
    return (
        f'[database]\nurl = "sqlite:///{database}"\n\n[fetch]\n{limits}\n\n'
        f"[poll]\nworkers = {workers}\nper_host = {per_host}\n\n{feeds}"
    )
