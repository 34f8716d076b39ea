"""Whole responses kept in memory, keyed by the database's data version.

A page or an API list costs 3-8 ms of CPU to read, shape and render (the Caliphate
feed, 22 real feeds and ten reviews, bench/load.py: 45-280 req/s at 50 connections
on 2 cores), and is the same for every reader who is not logged in until something
it shows changes. Storage counts those changes (``Storage.data_version``: counters
that every write that may change what is shown adds to as it commits, in whichever
process or instance); this ASGI middleware keeps each answer with the count it was
made at.

A GET is answered from memory when it carries no credentials (no ``Cookie``, no
``Authorization``: a logged-in page shows forms and who is logged in), the server
says which count the answer at its path shows, and the answer kept for its scheme,
``Host``, path and query was made at the very count read for this request. The
version is read before the route reads anything, so an answer is never kept under
a count newer than its data: the first GET after a write commits is made afresh.
Any other count (a database restored from a backup counts from where it was) means
made afresh too. Anything else goes to the routes as if there were no cache; a 200
without ``Set-Cookie`` is kept, other answers are not.

When the version moves, the first request for an address makes its answer and the
others for that address wait for it: one render, not one per waiting connection.
Requests that arrive while the version is being read wait for the next read, which
starts after they arrived: one query serves many requests, none takes a number read
before it came.

Every kept answer has an ``ETag`` (a hash of its body) and ``Cache-Control:
no-cache``; a request whose ``If-None-Match`` names it gets 304 with no body. A
request that says ``Cache-Control: no-cache`` (a browser's hard reload) has its
answer made afresh, and kept.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aggregator.exceptions import StorageError

__all__ = ["ResponseCache"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Memory for kept answers; the least recently used go first. A page is 5-60 KB: this
# keeps every page a store of a few thousand series has in its first pages.
MAX_BYTES = 32 * 1024 * 1024
# Larger answers pass through unkept (a page of 500 reviews, with excerpts: ~0.5 MB).
MAX_BODY_BYTES = 1024 * 1024
# Addresses remembered, kept answers or not: a crawler walking ?page=1...100000 must
# not grow the table without end.
MAX_ENTRIES = 4096
# What an entry that keeps no body costs against MAX_BYTES.
ENTRY_OVERHEAD = 512

_CREDENTIALS = (b"cookie", b"authorization")
# Headers a 304 repeats from the answer it stands for (RFC 9110, 15.4.5).
_NOT_MODIFIED_HEADERS = (b"etag", b"cache-control", b"vary", b"content-location", b"expires")

_Key = tuple[str, bytes, str, bytes]  # scheme, Host, path, query
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Kept:
    """An address's answer at ``version``; ``body`` None: not kept (not a 200, too
    large, or setting a cookie), so requests at that version go to the route."""

    version: Hashable  # what the answer shows of the version it was made at
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes | None
    etag: bytes

    @property
    def size(self) -> int:
        return ENTRY_OVERHEAD + (len(self.body) if self.body is not None else 0)


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak comparison, RFC 9110).

    >>> etag_matches(b'"a", W/"b"', b'"b"'), etag_matches(b"*", b'"x"')
    (True, True)
    >>> etag_matches(b'"a"', b'"b"')
    False
    """
    value = if_none_match.strip()
    if value == b"*":
        return True
    return any(tag.strip().removeprefix(b"W/") == etag for tag in value.split(b","))


class _VersionReads(Generic[V]):
    """Reads the version on the event loop's executor (never on the loop itself),
    one read shared by the requests that arrived before it started."""

    def __init__(self, read: Callable[[], V]) -> None:
        self._read = read
        self._running: asyncio.Future[V] | None = None
        self._next: asyncio.Future[V] | None = None

    async def read(self) -> V:
        if self._running is None:
            wanted = self._start()
        else:  # begun before this request came: it waits for the next read
            if self._next is None:
                self._next = asyncio.get_running_loop().create_future()
                self._next.add_done_callback(_retrieved)
            wanted = self._next
        return await asyncio.shield(wanted)

    def _start(self) -> asyncio.Future[V]:
        work = asyncio.get_running_loop().run_in_executor(None, self._read)
        work.add_done_callback(_retrieved)
        work.add_done_callback(self._done)
        self._running = work
        return work

    def _done(self, _: asyncio.Future[V]) -> None:
        self._running = None
        if self._next is not None:
            waiting, self._next = self._next, None
            self._start().add_done_callback(lambda work: _copy(work, waiting))


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Look at a shared future's error, so that one whose requests have all gone
    away does not warn that it was never retrieved."""
    if not future.cancelled():
        future.exception()


def _copy(source: asyncio.Future[V], target: asyncio.Future[V]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


class ResponseCache(Generic[V]):
    """ASGI middleware: the answers to anonymous GETs, kept by the data version (see
    the module's docstring).

    ``version`` reads the version (it may block: it runs on a thread); ``shown(path)``
    says what of it an answer at ``path`` shows, as a function of the version (None:
    never kept).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        version: Callable[[], V],
        shown: Callable[[str], Callable[[V], Hashable] | None],
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.app = app
        self._versions = _VersionReads(version)
        self._shown = shown
        self._max_bytes = max_bytes
        self._kept: OrderedDict[_Key, _Kept] = OrderedDict()
        self._bytes = 0
        self._making: dict[_Key, asyncio.Future[None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        shown = self._shown(scope["path"]) if scope["type"] == "http" else None
        if (
            shown is None
            or scope["method"] != "GET"
            or any(name in _CREDENTIALS for name, _ in scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        try:
            version = shown(await self._versions.read())
        except StorageError:  # the route meets the same database and says so its way
            await self.app(scope, receive, send)
            return
        key = _key(scope)
        if _asks_fresh(scope):  # a browser's hard reload: made afresh, and kept
            await self._make(key, version, scope, receive, send)
            return
        while True:
            kept = self._kept.get(key)
            if kept is not None and kept.version == version:
                self._kept.move_to_end(key)
                if kept.body is None:
                    await self.app(scope, receive, send)
                else:
                    await _send_kept(kept, _header(scope, b"if-none-match"), send)
                return
            making = self._making.get(key)
            if making is None:
                break
            await asyncio.shield(making)  # then look again: it may not be at ours
        made: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._making[key] = made
        try:
            await self._make(key, version, scope, receive, send)
        finally:
            del self._making[key]
            made.set_result(None)

    async def _make(
        self, key: _Key, version: Hashable, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the route, keep its answer if it may be kept, and send it."""
        capture = _Capture(send)
        await self.app(scope, receive, capture)
        if capture.passed or capture.start is None:
            self._keep(key, _Kept(version, (), None, b""))
            return
        body = b"".join(capture.chunks)
        etag = b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'
        headers = [(n, v) for n, v in capture.start.get("headers", ()) if n.lower() != b"etag"]
        if not any(n.lower() == b"cache-control" for n, _ in headers):
            # Stored by browsers, but asked again each time: a 304 is cheap.
            headers.append((b"cache-control", b"no-cache"))
        headers.append((b"etag", etag))
        kept = _Kept(version, tuple(headers), body, etag)
        self._keep(key, kept)
        await _send_kept(kept, _header(scope, b"if-none-match"), send)

    def _keep(self, key: _Key, kept: _Kept) -> None:
        old = self._kept.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._kept[key] = kept
        self._bytes += kept.size
        while self._bytes > self._max_bytes or len(self._kept) > MAX_ENTRIES:
            _, dropped = self._kept.popitem(last=False)
            self._bytes -= dropped.size


class _Capture:
    """The ``send`` a route is given: holds a 200's start and body to keep them, and
    passes anything else (another status, a cookie, a body over the limit) on."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.passed = False

    async def __call__(self, message: Message) -> None:
        if self.passed:
            await self._send(message)
            return
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            if message["status"] != 200 or any(n.lower() == b"set-cookie" for n, _ in headers):
                await self._pass(message)
                return
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            self.size += len(self.chunks[-1])
            if self.size > MAX_BODY_BYTES:
                assert self.start is not None
                await self._pass(self.start)
                more = message.get("more_body", False)
                await self._send(
                    {"type": message["type"], "body": b"".join(self.chunks), "more_body": more}
                )
                self.chunks.clear()
        else:
            await self._send(message)

    async def _pass(self, message: Message) -> None:
        self.passed = True
        self.start = None
        await self._send(message)


async def _send_kept(kept: _Kept, if_none_match: bytes | None, send: Send) -> None:
    assert kept.body is not None
    if if_none_match is not None and etag_matches(if_none_match, kept.etag):
        headers = [(n, v) for n, v in kept.headers if n.lower() in _NOT_MODIFIED_HEADERS]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(n, v) for n, v in kept.headers if n.lower() != b"content-length"]
    headers.append((b"content-length", str(len(kept.body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": kept.body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _asks_fresh(scope: Scope) -> bool:
    """Whether the request says ``Cache-Control: no-cache`` (or ``Pragma: no-cache``).

    >>> _asks_fresh({"headers": [(b"cache-control", b"max-age=0, No-Cache")]})
    True
    >>> _asks_fresh({"headers": [(b"cache-control", b"max-age=0")]})
    False
    """
    for name, value in scope["headers"]:
        if name in (b"cache-control", b"pragma") and b"no-cache" in value.lower():
            return True
    return False


def _key(scope: Scope) -> _Key:
    return (scope["scheme"], _header(scope, b"host") or b"", scope["path"], scope["query_string"])
