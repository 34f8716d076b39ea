"""The HTTP face of the service: one FastAPI application for API, pages and feeds.

Built from the composed ``App``; ``aggregator run`` serves it with uvicorn next to
the polling ticker. Only this module and the routers it includes import FastAPI.

Requests naming a ``Host`` that is not an allowed host (``http.allowed_hosts``) are
refused (400) before any route sees them: a name an attacker points at our address
(DNS rebinding) gets nothing, and the pages' same-origin check is given only hosts
that are ours. The API and the login form count failures against one budget per
client (``api.throttle``).

Behind the Host check, anonymous GETs of the pages and of the API are answered from
the responses kept by data version (``httpcache``) when reads are public; with
``public_reads`` false every read goes to the routes and their checks.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.trustedhost import TrustedHostMiddleware

from aggregator import api, web
from aggregator._version import __version__
from aggregator.api.throttle import FailureThrottle
from aggregator.app import App
from aggregator.httpcache import ResponseCache
from aggregator.storage import DataVersion
from aggregator.syndicate import routes as syndicate_routes

__all__ = ["Server", "create_http_app"]


# Where the API docs' own scripts and styles are served from (under our own address).
DOCS_ASSETS_PATH = "/static/docs"

# What the answer to a GET shows of the data version, so may be kept by it: the
# pages and the API's content show the content; the API's feeds, their polling state
# (every poll moves it). Never kept: /healthz and /metrics (live by design), the
# combined feeds (*.xml: their own ETags, and streamed), static files and the API
# docs (cheap already).
_PAGES = ("/series", "/episodes", "/reviews", "/authors", "/search", "/feeds")
_API = ("/api/series", "/api/episodes", "/api/reviews", "/api/links", "/api/search")
_CONTENT = operator.attrgetter("content")
_FEEDS = operator.attrgetter("feeds")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def shown(path: str) -> Callable[[DataVersion], int] | None:
    """Which counter of the data version the answer to a GET of ``path`` shows;
    None: it is never kept.

    >>> [shown(p) is _CONTENT for p in ("/", "/series/3", "/api/episodes", "/feeds")]
    [True, True, True, True]
    >>> shown("/api/feeds") is _FEEDS
    True
    >>> [shown(p) for p in ("/feeds/series/3.xml", "/healthz", "/static/a.css", "/seriesx")]
    [None, None, None, None]
    """
    if path == "/" or (_under(path, _PAGES + _API) and not path.endswith(".xml")):
        return _CONTENT
    if _under(path, ("/api/feeds",)):
        return _FEEDS
    return None


def create_http_app(app: App, *, bind_host: str | None = None) -> FastAPI:
    """The application; ``bind_host`` is the address it is served on, when not the
    configured ``http.host`` (an allowed host unless ``http.allowed_hosts`` is set)."""
    settings = app.settings.http
    hosts = settings.hosts(bind_host)
    throttle = FailureThrottle(settings.auth_failures_per_minute)
    # /docs and /redoc load Swagger UI and ReDoc from this server, from the copies
    # fastapi-offline ships, not from a CDN: a service on a home network or behind
    # a firewall shows its API docs without reaching the internet.
    http = FastAPIOffline(
        static_url=DOCS_ASSETS_PATH,
        title="aggregator",
        version=__version__,
        description=(
            "Podcast series and episodes, the reviews written about them, and the links "
            "between the two, with their evidence."
        ),
    )
    http.include_router(api.build_router(app, throttle))
    http.include_router(syndicate_routes.build_router(app))
    http.include_router(web.build_router(app, throttle=throttle, allowed_hosts=hosts))
    http.include_router(web.build_fallback_router(app))  # last: what nothing else answers
    if settings.public_reads:
        http.add_middleware(
            ResponseCache[DataVersion], version=app.storage.data_version, shown=shown
        )
    # Added last, so outermost: no Host we do not serve reaches the kept responses.
    # No www. redirect: a host is allowed or refused, never moved.
    http.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts), www_redirect=False)
    return http


class Server(uvicorn.Server):
    """uvicorn's server, minus its own signal handling.

    uvicorn re-raises a captured SIGTERM once it has shut down, which would end the
    process before the caller stops the ticker and closes the store. ``aggregator run``
    owns SIGTERM/SIGINT and sets ``should_exit`` instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
