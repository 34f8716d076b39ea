"""The fetcher's connections: a small keep-alive pool per origin and address, each
connecting only to the address the address policy judged.

The fetcher (``feeds.fetch``) resolves a request's host once and judges every
address it resolves to (``feeds.addresses.check_url``); the request then names those
addresses (``PINNED``), and this transport connects to one of them and to nothing
else. Left to itself httpx would resolve the name again to connect, and a DNS server
that answered a public address to the check and an internal one to the connection
(DNS rebinding) would walk the server into its own network. Only the socket's
address is pinned: the URL keeps its name, so the ``Host`` header, TLS's SNI and the
certificate check are all on the name, as without the pin.

The pin is an httpcore network backend (``_PinnedBackend``) under one connection pool
per (origin, address): a connection kept alive for one address is never handed to a
request whose check did not judge that address. A name with several addresses is
tried in the resolver's order, an address that already has open connections first
(so that a name whose DNS answers rotate keeps its connections), the next one when a
connection is refused or unreachable.

Through a proxy (``HTTP_PROXY`` and friends) the proxy connects, and resolves the
name itself: nothing is pinned there.

httpcore's own pool scans every connection it holds, several times, on every request
and every response close (encode/httpx#3215: ~1,400 req/s at 10 connections, ~200
at 200): a pool per origin scans only that origin's few connections.
"""

from __future__ import annotations

import ssl
import threading
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import httpcore
import httpx

__all__ = ["PINNED", "OriginPools"]

# The request extension that names the addresses its check judged (a tuple of str).
PINNED = "aggregator.addresses"


class OriginPools(httpx.BaseTransport):
    """Keep-alive connections in one small pool per origin and address.

    The pools of the ``keep`` (origin, address) pairs used last stay open; an older
    one is closed once no response of it is open, so at most ``2 * keep`` idle
    connections are held. Concurrency is bounded by the callers (the poller's
    workers and per-host limit); ``per_origin`` caps one pool's connections all the
    same. A request that goes straight (no proxy) must name its judged addresses
    (``PINNED``): without them it is refused, as a bug, before any connection.

    Proxies come from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``,
    ``NO_PROXY``), as ``httpx.Client`` would take them.
    """

    KEEPALIVE_PER_ORIGIN = 2

    def __init__(self, max_connections: int) -> None:
        self._keep = max(1, max_connections // self.KEEPALIVE_PER_ORIGIN)
        self._limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=self.KEEPALIVE_PER_ORIGIN,
        )
        self._proxies = urllib.request.getproxies_environment()
        self._ssl: ssl.SSLContext | None = None
        # (scheme, host, port, address or None through a proxy): oldest use first.
        self._pools: dict[tuple[bytes, bytes, int | None, str | None], _Pool] = {}
        self._lock = threading.Lock()
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port)
        proxy = self.proxy_for(url)
        if proxy is not None:
            return self._send(request, (*origin, None), proxy)
        addresses: Sequence[str] = request.extensions.get(PINNED, ())
        if not addresses:
            raise ValueError(f"{url}: no address judged for this request")
        with self._lock:
            # Addresses already connected first: their connections are kept alive.
            ordered = sorted(addresses, key=lambda a: (*origin, a) not in self._pools)
        for address in ordered[:-1]:
            try:
                return self._send(request, (*origin, address), None)
            except httpx.ConnectError:
                continue  # refused or unreachable: the next address, as a resolver's
        return self._send(request, (*origin, ordered[-1]), None)

    def _send(
        self,
        request: httpx.Request,
        key: tuple[bytes, bytes, int | None, str | None],
        proxy: str | None,
    ) -> httpx.Response:
        with self._lock:
            if self._closed:
                raise RuntimeError("the fetcher is closed")
            pool = self._pools.pop(key, None) or self._new_pool(key[3], proxy)
            self._pools[key] = pool  # now the most recently used
            pool.open += 1
            idle = self._evict()
        for old in idle:
            old.transport.close()
        try:
            response = pool.transport.handle_request(request)
        except BaseException:
            self._done(pool)
            raise
        response.stream = _Counted(response.stream, pool, self)
        return response

    def _new_pool(self, address: str | None, proxy: str | None) -> _Pool:
        if self._ssl is None:  # loading the CA bundle takes tens of ms: once
            self._ssl = httpx.create_ssl_context()
        if address is None:
            return _Pool(httpx.HTTPTransport(verify=self._ssl, limits=self._limits, proxy=proxy))
        return _Pool(_PinnedTransport(address, self._ssl, self._limits))

    def proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy a request to ``url`` goes through, None when it goes straight."""
        if not self._proxies or urllib.request.proxy_bypass(url.host, self._proxies):
            return None
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if proxy and "://" not in proxy:
            proxy = f"http://{proxy}"
        return proxy

    @property
    def proxied(self) -> bool:
        """Whether any proxy is set in the environment (nearly never)."""
        return bool(self._proxies)

    def _evict(self) -> list[_Pool]:
        """Take out the least recently used pools past ``keep`` that nothing uses."""
        surplus = len(self._pools) - self._keep
        if surplus <= 0:
            return []
        idle = [k for k, p in self._pools.items() if p.open == 0][:surplus]
        return [self._pools.pop(k) for k in idle]

    def _done(self, pool: _Pool) -> None:
        with self._lock:
            pool.open -= 1

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.transport.close()


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport, with a connection pool that connects only to ``address``.

    httpx takes no network backend, so the pool it made is replaced by one made as
    httpx makes it (same SSL context and limits, HTTP/1.1) with ours.
    """

    def __init__(self, address: str, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=ssl_context, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(address),
        )


class _PinnedBackend(httpcore.NetworkBackend):
    """Opens TCP connections to one address, whatever host name it is asked for.

    httpcore passes the URL's host name here; TLS is started afterwards on the
    connection returned, with that name for SNI and the certificate check.
    """

    def __init__(self, address: str) -> None:
        self._address = address
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return self._backend.connect_tcp(
            self._address, port, timeout, local_address, socket_options
        )

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _Pool:
    __slots__ = ("open", "transport")

    def __init__(self, transport: httpx.HTTPTransport) -> None:
        self.transport = transport
        self.open = 0  # requests sent whose response is not closed yet


class _Counted(httpx.SyncByteStream):
    """A response's stream that tells its pool when the response is closed."""

    def __init__(self, stream: Any, pool: _Pool, pools: OriginPools) -> None:
        self._stream = stream
        self._pool: _Pool | None = pool
        self._pools = pools

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            if self._pool is not None:
                self._pools._done(self._pool)
                self._pool = None
