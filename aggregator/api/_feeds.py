"""/api/feeds: list, add (http(s) on public addresses only), remove, poll now."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, params

from aggregator.api._context import Api, PageQuery, feed_out
from aggregator.api._errors import resource_router
from aggregator.api._pollnow import QueueFull
from aggregator.api.schemas import MAX_ID, ErrorOut, FeedIn, FeedOut, Page, PollOut
from aggregator.api.ssrf import check_public_url
from aggregator.types import FeedKind, FeedStatus

FeedId = Annotated[int, Path(ge=1, le=MAX_ID, description="The feed's id.")]


def router(api: Api, write: params.Depends) -> APIRouter:
    r = resource_router("feeds")
    storage = api.app.storage

    @r.get("", response_model=Page[FeedOut], summary="List the feeds")
    def list_feeds(
        page: PageQuery,
        kind: FeedKind | None = None,
        status: FeedStatus | None = None,
    ) -> dict[str, Any]:
        """Feeds by id, with how their last poll went."""
        feeds = storage.feeds_page(kind=kind, status=status, limit=page.probe, offset=page.offset)
        from_api = storage.api_feed_ids([f.id for f in feeds])
        return page.page([feed_out(f, from_api) for f in feeds])

    @r.post(
        "",
        response_model=FeedOut,
        status_code=201,
        dependencies=[write],
        summary="Follow a feed",
    )
    def add_feed(body: FeedIn, response: Response) -> dict[str, Any]:
        """Add a feed, polled at the scheduler's next tick (or now: ``POST .../poll``).

        Only http(s) URLs whose host is a public address (the host name is resolved):
        loopback, private and link-local addresses are refused unless the config's
        ``[http] allowed_networks`` lists them, now and whenever the feed is fetched.
        """
        url = check_public_url(body.url, api.app.settings.http.allowed_networks)
        feed = storage.add_api_feed(url, body.kind, api.app.clock())
        response.headers["Location"] = f"/api/feeds/{feed.id}"
        return feed_out(feed, {feed.id})

    @r.get("/{feed_id}", response_model=FeedOut, summary="One feed")
    def get_feed(feed_id: FeedId) -> dict[str, Any]:
        feed = storage.get_feed(feed_id)
        return feed_out(feed, storage.api_feed_ids([feed_id]))

    @r.delete(
        "/{feed_id}",
        status_code=204,
        response_class=Response,
        dependencies=[write],
        summary="Stop following a feed",
    )
    def remove_feed(feed_id: FeedId) -> Response:
        """Delete the feed; a podcast feed takes its series, episodes and their links."""
        storage.remove_feed(feed_id)
        return Response(status_code=204)

    @r.post(
        "/{feed_id}/poll",
        response_model=PollOut,
        dependencies=[write],
        responses={
            429: {
                "model": ErrorOut,
                "description": "Too many polls asked for at once: try again after "
                "Retry-After seconds.",
            }
        },
        summary="Poll a feed now",
    )
    async def poll_feed(feed_id: FeedId) -> dict[str, Any]:
        """Fetch, parse and store the feed now, due or not. A failed poll is an
        answer too (outcome ``failed``, with the error), stored on the feed.

        At most ``[http] poll_now_workers`` such polls run at once and
        ``poll_now_waiting`` more wait; beyond that the answer is 429 with
        ``Retry-After``. The same feed asked for again while it waits or is polled
        gets that poll's answer."""
        try:
            future = api.poll_queue.submit(feed_id, lambda: api.poll_now(storage.get_feed(feed_id)))
        except QueueFull as e:
            raise HTTPException(429, str(e), headers={"Retry-After": str(e.retry_after)}) from None
        # Waited for here, on the event loop: no thread is held while the poll runs.
        report = await asyncio.wrap_future(future)
        c = report.counts
        return {
            "feed_id": report.feed_id,
            "url": report.url,
            "outcome": report.outcome,
            "new": c.new,
            "updated": c.updated,
            "unchanged": c.unchanged,
            "missing": c.missing,
            "error": report.error,
            "elapsed_seconds": round(report.elapsed_seconds, 6),
        }

    return r
