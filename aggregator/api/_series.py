"""/api/series: the podcasts, each with its episodes and the reviews linked to it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator

from aggregator.api._context import Api, PageQuery, review_summary_out, series_out
from aggregator.api._episodes import After, Before, Reviewed, episodes_page
from aggregator.api._errors import resource_router
from aggregator.api.schemas import (
    MAX_ID,
    EpisodeOut,
    Page,
    ReviewSummaryOut,
    SeriesDetailOut,
    SeriesOut,
    plain_text,
)

SeriesId = Annotated[int, Path(ge=1, le=MAX_ID, description="The series' id.")]
# As the web pages' search finds series (Storage.search_series).
SeriesQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=500,
        description="Only series whose title or publisher has a word starting with each "
        "of these words, any case: 'ser prod' finds Serial by Serial Productions.",
    ),
    AfterValidator(plain_text),
]


def router(api: Api) -> APIRouter:
    r = resource_router("series")
    storage = api.app.storage

    @r.get("", response_model=Page[SeriesOut], summary="List the series")
    def list_series(page: PageQuery, q: SeriesQuery = None) -> dict[str, Any]:
        """Series by title, each with its number of episodes and of linked reviews."""
        if q is None:
            return page.of(storage.series_page, series_out)
        return page.of(storage.search_series, series_out, query=q)

    @r.get("/{series_id}", response_model=SeriesDetailOut, summary="One series")
    def get_series(series_id: SeriesId) -> dict[str, Any]:
        return series_out(storage.series_row(series_id), detail=True)

    @r.get(
        "/{series_id}/episodes",
        response_model=Page[EpisodeOut],
        summary="Episodes of a series, with their review counts",
    )
    def series_episodes(
        series_id: SeriesId,
        page: PageQuery,
        reviewed: Reviewed = None,
        published_after: After = None,
        published_before: Before = None,
    ) -> dict[str, Any]:
        """Newest first (undated last), each with the number of reviews linked to it."""
        return episodes_page(storage, page, series_id, reviewed, published_after, published_before)

    @r.get(
        "/{series_id}/reviews",
        response_model=Page[ReviewSummaryOut],
        summary="Reviews linked to a series",
    )
    def series_reviews(series_id: SeriesId, page: PageQuery) -> dict[str, Any]:
        """Reviews linked (not rejected) to the series or any of its episodes, newest
        first."""
        return page.of(storage.reviews_page, review_summary_out, series_id=series_id)

    return r
