"""/api/search: full-text search over episodes and reviews, and series by name.

SQLite FTS5 or PostgreSQL's full-text search, one behaviour (see
``aggregator.storage._search``): every word must occur, whole words, any case. Series
are found by the start of words of their title and publisher, as the web pages'
search finds them (``/api/series?q=`` pages through them).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator

from aggregator.api._context import (
    Api,
    PageQuery,
    episode_out,
    id_filter,
    review_summary_out,
    series_out,
)
from aggregator.api._errors import resource_router
from aggregator.api.schemas import EpisodeOut, Page, ReviewSummaryOut, SearchOut, plain_text

SearchQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=500,
        description="Words to find (letters and digits; the rest separates words).",
    ),
    AfterValidator(plain_text),
]

# Each half of the combined search shows at most this many hits.
COMBINED_MAX = 50


def router(api: Api) -> APIRouter:
    r = resource_router("search")
    storage = api.app.storage

    @r.get("", response_model=SearchOut, summary="Search series, episodes and reviews")
    def search(
        q: SearchQuery,
        limit: Annotated[int, Query(ge=1, le=COMBINED_MAX, description="Hits of each kind.")] = 10,
    ) -> dict[str, Any]:
        """The series named by the words (by title), and the best episodes and the best
        reviews for the words (best first), as the web pages' search box finds them."""
        episodes = storage.search_episodes(q, limit=limit)
        reviews = storage.search_reviews(q, limit=limit)
        series = storage.search_series(q, limit=limit)
        return {
            "series": [series_out(row) for row in series],
            "episodes": [episode_out(row) for row in episodes],
            "reviews": [review_summary_out(row) for row in reviews],
        }

    @r.get("/episodes", response_model=Page[EpisodeOut], summary="Search episodes")
    def search_episodes(
        q: SearchQuery,
        page: PageQuery,
        series_id: Annotated[int | None, id_filter("Only this series' episodes.")] = None,
    ) -> dict[str, Any]:
        """Episodes whose title and description have every word, best first."""
        return page.of(storage.search_episodes, episode_out, query=q, series_id=series_id)

    @r.get("/reviews", response_model=Page[ReviewSummaryOut], summary="Search reviews")
    def search_reviews(q: SearchQuery, page: PageQuery) -> dict[str, Any]:
        """Reviews whose title and text have every word, best first."""
        return page.of(storage.search_reviews, review_summary_out, query=q)

    return r
