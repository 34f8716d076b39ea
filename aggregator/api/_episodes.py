"""/api/episodes: episodes across series, filtered; one episode; its reviews."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from aggregator.api._context import (
    Api,
    PageQuery,
    Paging,
    episode_out,
    id_filter,
    review_summary_out,
    utc,
)
from aggregator.api._errors import resource_router
from aggregator.api.schemas import MAX_ID, EpisodeDetailOut, EpisodeOut, Page, ReviewSummaryOut
from aggregator.storage import Storage

EpisodeId = Annotated[int, Path(ge=1, le=MAX_ID, description="The episode's id.")]
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


def episodes_page(
    storage: Storage,
    page: Paging,
    series_id: int | None,
    reviewed: bool | None,
    published_after: datetime | None,
    published_before: datetime | None,
) -> dict[str, Any]:
    """A page of episodes, newest first, with the filters both lists of episodes take
    (across series, and of one series)."""
    return page.of(
        storage.episodes_page,
        episode_out,
        series_id=series_id,
        reviewed=reviewed,
        published_after=utc(published_after, "published_after"),
        published_before=utc(published_before, "published_before"),
    )


def router(api: Api) -> APIRouter:
    r = resource_router("episodes")
    storage = api.app.storage

    @r.get("", response_model=Page[EpisodeOut], summary="List episodes")
    def list_episodes(
        page: PageQuery,
        series_id: Annotated[int | None, id_filter("Only this series' episodes.")] = None,
        reviewed: Reviewed = None,
        published_after: After = None,
        published_before: Before = None,
    ) -> dict[str, Any]:
        """Newest first (undated last), each with its review count.

        ``reviewed=false`` lists the recent episodes no review is linked to yet.
        """
        return episodes_page(storage, page, series_id, reviewed, published_after, published_before)

    @r.get("/{episode_id}", response_model=EpisodeDetailOut, summary="One episode")
    def get_episode(episode_id: EpisodeId) -> dict[str, Any]:
        return episode_out(storage.episode_row(episode_id), detail=True)

    @r.get(
        "/{episode_id}/reviews",
        response_model=Page[ReviewSummaryOut],
        summary="Reviews of an episode",
    )
    def episode_reviews(episode_id: EpisodeId, page: PageQuery) -> dict[str, Any]:
        """Reviews linked (not rejected) to the episode, newest first. Their links,
        with evidence: ``GET /api/links?episode_id=...``."""
        return page.of(storage.reviews_page, review_summary_out, episode_id=episode_id)

    return r
