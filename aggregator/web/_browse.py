"""The browsing pages' routes: lists of series, episodes, reviews and authors, search,
and the pages beside the combined feeds.

Read-only, behind the same read gate as every page; the helpers that render a page
and refuse a read come from the pages' router (``_routes``), passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, Request, Response

from aggregator.exceptions import InputError, NotFoundError
from aggregator.settings import HttpSettings
from aggregator.storage import Storage
from aggregator.web import _listings
from aggregator.web._params import MAX_ID, number, page_number

# Longest author name or search query taken from an address (the API's limits).
MAX_AUTHOR_CHARS = 200
MAX_QUERY_CHARS = 500

# ?reviewed= on the episodes list: all, only those no review links to, or only reviewed.
_REVIEWED = {"": None, "no": False, "yes": True}


def feed_base_url(settings: HttpSettings, request: Request) -> str:
    """Where this service is reached: the combined feeds' own rule, so the address to
    copy is the one the feed names as its own."""
    return (settings.base_url or str(request.base_url)).rstrip("/")


class RenderPage(Protocol):
    def __call__(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> Response: ...


@dataclass(frozen=True)
class Browse:
    storage: Storage
    settings: HttpSettings
    render: RenderPage
    read_gate: Callable[[Request], Response | None]
    not_found: Callable[[Request, str], Response]

    def _base_url(self, request: Request) -> str:
        return feed_base_url(self.settings, request)

    def _page_number(self, request: Request, page: str, *, valid: bool = True) -> int | Response:
        """The number of the page asked for; or the answer that refuses it: the read
        gate's, or no such page (nor when another parameter is not ``valid``)."""
        if gate := self.read_gate(request):
            return gate
        n = page_number(page)
        if n is None or not valid:
            return self.not_found(request, f"There is no page {page[:20]!r}.")
        return n

    def series_list(self, request: Request, page: str = "1") -> Response:
        n = self._page_number(request, page)
        if isinstance(n, Response):
            return n
        return self.render(request, "series_list.html", view=_listings.series_list(self.storage, n))

    def episodes(self, request: Request, page: str = "1", reviewed: str = "") -> Response:
        n = self._page_number(request, page, valid=reviewed in _REVIEWED)
        if isinstance(n, Response):
            return n
        view = _listings.episode_list(self.storage, n, reviewed=_REVIEWED[reviewed])
        return self.render(request, "episodes.html", view=view, reviewed=reviewed)

    def reviews(self, request: Request, page: str = "1", author: str = "") -> Response:
        n = self._page_number(request, page, valid=len(author) <= MAX_AUTHOR_CHARS)
        if isinstance(n, Response):
            return n
        view = _listings.review_list(self.storage, n, author=author or None)
        return self.render(request, "reviews.html", view=view, author=author)

    def authors(self, request: Request, page: str = "1") -> Response:
        n = self._page_number(request, page)
        if isinstance(n, Response):
            return n
        return self.render(request, "authors.html", view=_listings.author_list(self.storage, n))

    def search(self, request: Request, q: str = "", kind: str = "", page: str = "1") -> Response:
        n = self._page_number(request, page, valid=not kind or kind in _listings.SEARCH_KINDS)
        if isinstance(n, Response):
            return n
        query = q.strip()
        if not query:
            return self.render(request, "search.html", query="", view=None, problem=None)
        if len(query) > MAX_QUERY_CHARS:
            problem = f"The search is over {MAX_QUERY_CHARS} characters long."
            return self.render(request, "search.html", 400, query="", view=None, problem=problem)
        try:
            view = _listings.search(self.storage, query, kind or None, n)
        except InputError as e:
            problem = f"Nothing to search for: {e}."
            return self.render(request, "search.html", 400, query=query, view=None, problem=problem)
        return self.render(request, "search.html", query=query, view=view, problem=None)

    # --- the pages beside the combined feeds ---------------------------------------

    def _feed_context(self) -> dict[str, Any]:
        return {"public_feeds": self.settings.public_reads}

    def feeds(self, request: Request, page: str = "1") -> Response:
        n = self._page_number(request, page)
        if isinstance(n, Response):
            return n
        view = _listings.feed_index(self.storage, n, self._base_url(request))
        return self.render(request, "feeds.html", view=view, **self._feed_context())

    def series_feed(self, request: Request, series_id: int) -> Response:
        if gate := self.read_gate(request):
            return gate
        try:
            if not 1 <= series_id <= MAX_ID:
                raise NotFoundError(str(series_id))
            view = _listings.series_feed_page(self.storage, series_id, self._base_url(request))
        except NotFoundError:
            return self.not_found(request, "There is no such series.")
        return self.render(request, "feed_series.html", view=view, **self._feed_context())

    def reviews_feed(self, request: Request, series: str = "") -> Response:
        if gate := self.read_gate(request):
            return gate
        sid = number(series) if series else None
        try:
            if series and sid is None:
                raise NotFoundError(series)
            view = _listings.reviews_feed_page(self.storage, sid, self._base_url(request))
        except NotFoundError:
            return self.not_found(request, "There is no such series.")
        return self.render(request, "feed_reviews.html", view=view, **self._feed_context())

    def add_routes(self, router: APIRouter) -> None:
        get = ["GET"]
        router.add_api_route("/series", self.series_list, methods=get)
        router.add_api_route("/episodes", self.episodes, methods=get)
        router.add_api_route("/reviews", self.reviews, methods=get)
        router.add_api_route("/authors", self.authors, methods=get)
        router.add_api_route("/search", self.search, methods=get)
        router.add_api_route("/feeds", self.feeds, methods=get)
        # Digits only: /feeds/series/1.xml is the feed itself (syndicate's route), never
        # this page, whichever router is included first.
        router.add_api_route("/feeds/series/{series_id:int}", self.series_feed, methods=get)
        router.add_api_route("/feeds/reviews", self.reviews_feed, methods=get)
