"""/api/links: list with filters, one link, confirm, reject, add by hand.

A person's decision is kept whatever the linker says later: a confirmed or manual
link stays, a rejected one stays rejected (storage's ``replace_links``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, params

from aggregator.api._context import Api, PageQuery, id_filter, link_out
from aggregator.api._errors import resource_router
from aggregator.api.schemas import MAX_ID, LinkIn, LinkOut, Page
from aggregator.types import LinkStatus

_Endpoint = Callable[[int], dict[str, Any]]
LinkId = Annotated[int, Path(ge=1, le=MAX_ID, description="The link's id.")]


def router(api: Api, write: params.Depends) -> APIRouter:
    r = resource_router("links")
    storage = api.app.storage

    @r.get("", response_model=Page[LinkOut], summary="List links")
    def list_links(
        page: PageQuery,
        review_id: Annotated[int | None, id_filter("Only links of this review.")] = None,
        series_id: Annotated[int | None, id_filter("Only links of this series.")] = None,
        episode_id: Annotated[int | None, id_filter("Only links of this episode.")] = None,
        include_rejected: Annotated[
            bool, Query(description="Also list links a person rejected.")
        ] = False,
    ) -> dict[str, Any]:
        """Links with both ends described and their evidence, in the CLI's JSON shape
        (README "Links as JSON") plus each link's id: by review (newest first), the
        series-level link before episode links, then best score first. A filter that
        names no review, series or episode is a 404."""
        return page.of(
            storage.list_links,
            link_out,
            review_id=review_id,
            series_id=series_id,
            episode_id=episode_id,
            include_rejected=include_rejected,
        )

    @r.get("/{link_id}", response_model=LinkOut, summary="One link")
    def get_link(link_id: LinkId) -> dict[str, Any]:
        return link_out(storage.get_link(link_id))

    @r.post(
        "",
        response_model=LinkOut,
        status_code=201,
        dependencies=[write],
        summary="Link a review by hand",
    )
    def add_link(body: LinkIn, response: Response) -> dict[str, Any]:
        """A manual link (score 1, evidence "manual") from a review to a series, or to
        one of its episodes. The linker's link to the same target becomes this one; a
        link a person already confirmed or added only takes the relation."""
        link = storage.add_link(
            body.review_id, body.series_id, body.episode_id, body.relation, api.app.clock()
        )
        response.headers["Location"] = f"/api/links/{link.id}"
        return link_out(link)

    def decision(verb: str, summary: str) -> Callable[[_Endpoint], _Endpoint]:
        """The route of a person's decision on a link: POST /api/links/{id}/<verb>."""
        return r.post(
            f"/{{link_id}}/{verb}", response_model=LinkOut, dependencies=[write], summary=summary
        )

    @decision("confirm", "Confirm a link")
    def confirm_link(link_id: LinkId) -> dict[str, Any]:
        """A person says yes: the link stays whatever the linker says later."""
        return link_out(storage.set_link_status(link_id, LinkStatus.CONFIRMED, api.app.clock()))

    @decision("reject", "Reject a link")
    def reject_link(link_id: LinkId) -> dict[str, Any]:
        """A person says no: the link is hidden and the linker may not propose it again."""
        return link_out(storage.set_link_status(link_id, LinkStatus.REJECTED, api.app.clock()))

    return r
