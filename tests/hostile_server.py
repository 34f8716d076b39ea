"""A raw-socket HTTP server on 127.0.0.1 that misbehaves on purpose, for fetch tests.

pytest-httpserver (werkzeug) always answers properly; the faults a feed fetcher must
survive happen below HTTP: a server that never answers, one that trickles a byte at a
time, one that resets the connection mid-body, one that closes before the promised
Content-Length. Each path is given a behaviour, a function that gets the connected
socket after the request head was read. Every loop here is bounded in count and time
and stops when ``close()`` is called.

Also ``gzip_bomb``: a valid gzip stream of many zeros built without ever holding them.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable

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


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} OK"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


# --- gzip bomb ---------------------------------------------------------------------


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
