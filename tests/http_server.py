"""Serve an ASGI application with a real uvicorn server on 127.0.0.1, in a thread.

Tests talk to it over real HTTP (``httpx.Client(base_url=server.url)``), so they
see what a client sees: status lines, headers, encodings. Usage::

    with serve(create_app()) as server:
        response = httpx.get(f"{server.url}/healthz")

The server picks a free port (port 0), runs the application's lifespan (startup and
shutdown), and is stopped and joined when the block ends. ``serve`` fails loudly if
the server does not start within ``STARTUP_TIMEOUT`` seconds, or if it is still
running ``SHUTDOWN_TIMEOUT`` seconds after being told to stop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0


@dataclass(frozen=True)
class Served:
    """A running server: its base URL (``http://127.0.0.1:PORT``) and port."""

    url: str
    port: int
    server: uvicorn.Server


class _Server(uvicorn.Server):
    """uvicorn's server, noticing ``should_exit`` within 10 ms rather than 100 ms:
    tests start and stop many servers. uvicorn leaves signals alone outside the
    main thread, so Ctrl-C still reaches pytest."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            await asyncio.sleep(0.01)


@contextmanager
def serve(app: Any, *, log_level: str = "warning", **config: Any) -> Iterator[Served]:
    """Run ``app`` (any ASGI app) on a free port of 127.0.0.1 for the ``with`` block.

    Extra keyword arguments go to ``uvicorn.Config`` (e.g. ``timeout_keep_alive``).
    """
    # Bound here rather than by uvicorn, so the port is known before the thread runs
    # and nothing else can take it in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        # No websockets: the libraries behind them warn on import, and warnings are
        # errors in this test suite.
        ws="none",
        **config,
    )
    server = _Server(settings)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as e:  # reported by the waiting thread
            failure.append(e)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread, failure)
        yield Served(url=f"http://127.0.0.1:{port}", port=port, server=server)
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"uvicorn on port {port} did not stop within {SHUTDOWN_TIMEOUT} s")
    if failure:
        raise RuntimeError("uvicorn failed") from failure[0]


def _wait_started(
    server: uvicorn.Server, thread: threading.Thread, failure: list[BaseException]
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if failure:
            raise RuntimeError("uvicorn failed to start") from failure[0]
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped before it started (lifespan startup failed?)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start within {STARTUP_TIMEOUT} s")
        time.sleep(0.005)
