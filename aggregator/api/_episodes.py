"""/api/episodes: episodes across series, filtered; one episode; its reviews."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from aggregator.api._context import Api, Paging, episode_out, paging, review_summary_out, utc
from aggregator.api._errors import ERROR_RESPONSES, JsonErrorRoute
from aggregator.api._series import After, Before, Reviewed
from aggregator.api.schemas import MAX_ID, EpisodeDetailOut, EpisodeOut, Page, ReviewSummaryOut

EpisodeId = Annotated[int, Path(ge=1, le=MAX_ID, description="The episode's id.")]


def router(api: Api) -> APIRouter:
    r = APIRouter(
        prefix="/api/episodes",
        tags=["episodes"],
        route_class=JsonErrorRoute,
        responses=ERROR_RESPONSES,
    )
    storage = api.app.storage

    @r.get("", response_model=Page[EpisodeOut], summary="List episodes")
    def list_episodes(
        page: Annotated[Paging, Depends(paging)],
        series_id: Annotated[
            int | None, Query(ge=1, le=MAX_ID, description="Only this series' episodes.")
        ] = None,
        reviewed: Reviewed = None,
        published_after: After = None,
        published_before: Before = None,
    ) -> dict[str, Any]:
        """Newest first (undated last), each with its review count.

        ``reviewed=false`` lists the recent episodes no review is linked to yet.
        """
        rows = storage.episodes_page(
            series_id=series_id,
            reviewed=reviewed,
            published_after=utc(published_after, "published_after"),
            published_before=utc(published_before, "published_before"),
            limit=page.probe,
            offset=page.offset,
        )
        return page.page([episode_out(row) for row in rows])

    @r.get("/{episode_id}", response_model=EpisodeDetailOut, summary="One episode")
    def get_episode(episode_id: EpisodeId) -> dict[str, Any]:
        return episode_out(storage.episode_row(episode_id), detail=True)

    @r.get(
        "/{episode_id}/reviews",
        response_model=Page[ReviewSummaryOut],
        summary="Reviews of an episode",
    )
    def episode_reviews(
        episode_id: EpisodeId, page: Annotated[Paging, Depends(paging)]
    ) -> dict[str, Any]:
        """Reviews linked (not rejected) to the episode, newest first. Their links,
        with evidence: ``GET /api/links?episode_id=...``."""
        rows = storage.reviews_page(episode_id=episode_id, limit=page.probe, offset=page.offset)
        return page.page([review_summary_out(row) for row in rows])

    return r
