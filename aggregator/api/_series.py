"""/api/series: the podcasts, each with its episodes and the reviews linked to it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator

from aggregator.api._context import (
    Api,
    Paging,
    episode_out,
    paging,
    review_summary_out,
    series_out,
    utc,
)
from aggregator.api._errors import ERROR_RESPONSES, JsonErrorRoute
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
Reviewed = Annotated[
    bool | None,
    Query(
        description="false: only episodes no review is linked to (recent ones first); "
        "true: only episodes some review is linked to."
    ),
]
After = Annotated[
    datetime | None, Query(description="Published at or after (ISO 8601; no offset: UTC).")
]
Before = Annotated[
    datetime | None, Query(description="Published before (ISO 8601; no offset: UTC).")
]
# As the web pages' search finds series (aggregator.storage._series, SeriesStore.search_series).
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
    r = APIRouter(
        prefix="/api/series",
        tags=["series"],
        route_class=JsonErrorRoute,
        responses=ERROR_RESPONSES,
    )
    storage = api.app.storage

    @r.get("", response_model=Page[SeriesOut], summary="List the series")
    def list_series(
        page: Annotated[Paging, Depends(paging)], q: SeriesQuery = None
    ) -> dict[str, Any]:
        """Series by title, each with its number of episodes and of linked reviews."""
        if q is None:
            rows = storage.series_page(limit=page.probe, offset=page.offset)
        else:
            rows = storage.search_series(q, limit=page.probe, offset=page.offset)
        return page.page([series_out(row) for row in rows])

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
        page: Annotated[Paging, Depends(paging)],
        reviewed: Reviewed = None,
        published_after: After = None,
        published_before: Before = None,
    ) -> dict[str, Any]:
        """Newest first (undated last), each with the number of reviews linked to it."""
        rows = storage.episodes_page(
            series_id=series_id,
            reviewed=reviewed,
            published_after=utc(published_after, "published_after"),
            published_before=utc(published_before, "published_before"),
            limit=page.probe,
            offset=page.offset,
        )
        return page.page([episode_out(row) for row in rows])

    @r.get(
        "/{series_id}/reviews",
        response_model=Page[ReviewSummaryOut],
        summary="Reviews linked to a series",
    )
    def series_reviews(
        series_id: SeriesId, page: Annotated[Paging, Depends(paging)]
    ) -> dict[str, Any]:
        """Reviews linked (not rejected) to the series or any of its episodes, newest
        first."""
        rows = storage.reviews_page(series_id=series_id, limit=page.probe, offset=page.offset)
        return page.page([review_summary_out(row) for row in rows])

    return r
