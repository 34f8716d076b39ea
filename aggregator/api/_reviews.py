"""/api/reviews: list (by series, episode, person or author), one review with its
links, add by text or by URL, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, params
from pydantic import AfterValidator

from aggregator import dates
from aggregator.api._context import (
    Api,
    PageQuery,
    id_filter,
    review_out,
    review_summary_out,
    utc,
)
from aggregator.api._errors import resource_router
from aggregator.api.schemas import (
    MAX_ID,
    Page,
    ReviewAddedOut,
    ReviewIn,
    ReviewOut,
    ReviewSummaryOut,
    plain_text,
)
from aggregator.api.ssrf import check_http_url, check_public_url
from aggregator.exceptions import BodyTooLarge, InputError, ReviewError, ReviewTooLarge
from aggregator.reviews.service import AddedReview

ReviewId = Annotated[int, Path(ge=1, le=MAX_ID, description="The review's id.")]

_CONTENT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def router(api: Api, write: params.Depends) -> APIRouter:
    r = resource_router("reviews")
    storage = api.app.storage

    @r.get("", response_model=Page[ReviewSummaryOut], summary="List reviews")
    def list_reviews(
        page: PageQuery,
        series_id: Annotated[int | None, id_filter("Only reviews linked to it.")] = None,
        episode_id: Annotated[int | None, id_filter("Only reviews linked to it.")] = None,
        person: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=200,
                description="Only reviews that name this person: the linker matched the "
                "name as a host, guest or other person (however the review spelled it), "
                "or the name stands in the review as a phrase.",
            ),
            AfterValidator(plain_text),
        ] = None,
        author: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=200,
                description="Only reviews by this author, the name exactly as the reviews "
                "give it (the author of each review is in the list).",
            ),
            AfterValidator(plain_text),
        ] = None,
    ) -> dict[str, Any]:
        """Newest published first (undated last); excerpts, not whole texts."""
        return page.of(
            storage.reviews_page,
            review_summary_out,
            series_id=series_id,
            episode_id=episode_id,
            person=person,
            author=author,
        )

    @r.get("/{review_id}", response_model=ReviewOut, summary="One review, with its links")
    def get_review(review_id: ReviewId) -> dict[str, Any]:
        """The review's text (evidence offsets index it), its hyperlinks, and its links
        (rejected ones left out)."""
        review = storage.get_review(review_id)
        links = storage.list_links(review_id=review_id)
        return review_out(review, links, storage.review_sources(review_id))

    @r.post(
        "",
        response_model=ReviewAddedOut,
        status_code=201,
        dependencies=[write],
        responses={
            200: {
                "model": ReviewAddedOut,
                "description": "Stored already: the stored review, with this source added.",
            }
        },
        summary="Add a review by its text or its URL",
    )
    def add_review(body: ReviewIn, response: Response) -> dict[str, Any]:
        """Take a review in and link it at once.

        With ``text``: that is the review (``url``, if given, only says where it lives).
        Without: the page at ``url`` is fetched (http(s) on a public address only) and
        its main text read. A review stored already (the same URL with the same or an
        overlapping text, the same text, or nearly the same text) is answered with 200
        and the stored review, this way of arriving added to its sources and the richer
        copy's text kept (the longer text, the earliest date); a new one with 201 (also
        a different text at a stored review's URL: another post of a thread).
        """
        added = _add(api, body)
        response.status_code = 201 if added.created else 200
        saved = added.saved
        sources = storage.review_sources(added.review.id)
        return {
            "created": added.created,
            "match": None if saved.match is None else saved.match.value,
            "source_added": saved.source_added,
            "review": review_out(added.review, added.links, sources),
        }

    @r.delete(
        "/{review_id}",
        status_code=204,
        response_class=Response,
        dependencies=[write],
        summary="Delete a review and its links",
    )
    def delete_review(review_id: ReviewId) -> Response:
        storage.delete_review(review_id)
        return Response(status_code=204)

    return r


def _add(api: Api, body: ReviewIn) -> AddedReview:
    published = utc(body.published, "published")
    if published is not None and not dates.within(published):
        raise InputError(
            f"published: {published.isoformat()} is outside the dates we take in ({dates.RANGE})"
        )
    if body.text is not None:
        return api.app.reviews.add(
            body.text.encode("utf-8"),
            source="api",
            content_type=_CONTENT_TYPES[body.format] if body.format else None,
            url=check_http_url(body.url) if body.url else None,
            title=body.title,
            author=body.author,
            published=published,
        )
    if body.url is None:
        raise InputError("give the review's text, or the url of its page")
    url = check_public_url(body.url, api.app.settings.http.allowed_networks)
    # Fetched here rather than by Reviews.add_url: the app's review fetcher may reach
    # private addresses (the CLI's user may), a remote user's request may not.
    try:
        result = api.review_fetcher.fetch(url)
    except BodyTooLarge as e:  # the fetcher's limit is the review limit
        raise ReviewTooLarge(f"{url}: review page is too large ({e.reason})") from e
    if result.content is None:
        raise ReviewError(f"{url}: no content")
    return api.app.reviews.add(
        result.content,
        source="url",
        content_type=result.headers.get("content-type"),
        url=result.final_url,
        title=body.title,
        author=body.author,
        published=published,
    )
