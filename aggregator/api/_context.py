"""What every API route needs: the app, restricted fetchers, paging, and the shapes.

Feeds and review pages named through the API are fetched by fetchers of our own,
built here from the settings: no ``file:``, no private addresses except the
``allowed_networks`` (see ``ssrf``). ``poll_now`` polls a feed added through the
API with them, and any other feed with the app's own poller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query

from aggregator.api._pollnow import PollNowQueue
from aggregator.api.schemas import MAX_ID
from aggregator.app import App
from aggregator.exceptions import InputError
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.poller import Poller, PollReport
from aggregator.reviews.extract import MAX_REVIEW_BYTES
from aggregator.shapes import (
    episode_json,
    feed_json,
    link_json,
    review_json,
    review_meta_json,
    review_source_json,
    series_json,
)
from aggregator.storage import EpisodeRow, ReviewSummary, SeriesRow
from aggregator.types import FeedRecord, LinkRecord, ReviewRecord, ReviewSourceRecord

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Deep offsets cost a scan; nobody pages a million rows by hand.
MAX_OFFSET = 1_000_000

T = TypeVar("T")


@dataclass
class Api:
    app: App
    feed_fetcher: Fetcher
    review_fetcher: Fetcher
    poller: Poller  # polls feeds added through the API, with feed_fetcher
    poll_queue: PollNowQueue  # where "poll now" requests wait and run
    # /healthz's own threads for its database check: in the web server's shared pool
    # it waited behind whatever else held those threads (slow polls: 115 s).
    health_checks: ThreadPoolExecutor

    @classmethod
    def build(cls, app: App) -> Api:
        settings = app.settings
        networks = settings.http.allowed_networks
        feed_fetcher = Fetcher(
            settings.fetch,
            clock=app.clock,
            allow_file=False,
            allow_private=False,
            allowed_networks=networks,
        )
        review_limits = replace(
            settings.fetch,
            max_body_bytes=min(settings.fetch.max_body_bytes, MAX_REVIEW_BYTES),
            max_decompressed_bytes=min(settings.fetch.max_decompressed_bytes, MAX_REVIEW_BYTES),
        )
        review_fetcher = Fetcher(
            review_limits,
            clock=app.clock,
            allow_file=False,
            allow_private=False,
            allowed_networks=networks,
        )
        poller = Poller(
            app.storage, feed_fetcher, settings.poll, clock=app.clock, listener=app.reviews
        )
        queue = PollNowQueue(
            workers=settings.http.poll_now_workers, waiting=settings.http.poll_now_waiting
        )
        checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="healthz")
        return cls(app, feed_fetcher, review_fetcher, poller, queue, checks)

    def close(self) -> None:
        self.poll_queue.close()
        self.health_checks.shutdown(wait=False, cancel_futures=True)
        self.feed_fetcher.close()
        self.review_fetcher.close()

    def poll_now(self, feed: FeedRecord) -> PollReport:
        if self.app.storage.api_feed_ids([feed.id]):
            return self.poller.poll_feed(feed)
        return self.app.poller.poll_feed(feed)


# --- paging ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int

    @property
    def probe(self) -> int:
        """Rows to ask for: one more than a page tells whether another page follows."""
        return self.limit + 1

    def of(
        self, read: Callable[..., Sequence[T]], shape: Callable[[T], Any], **filters: Any
    ) -> dict[str, Any]:
        """This page of what ``read`` lists (a storage method that takes ``limit``,
        ``offset`` and the ``filters``), each row as ``shape`` gives it."""
        rows = read(**filters, limit=self.probe, offset=self.offset)
        return self.page([shape(row) for row in rows])

    def page(self, items: Sequence[T]) -> dict[str, Any]:
        more = len(items) > self.limit
        return {
            "items": list(items[: self.limit]),
            "limit": self.limit,
            "offset": self.offset,
            "next_offset": self.offset + self.limit if more else None,
        }


def paging(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")] = 0,
) -> Paging:
    return Paging(limit, offset)


PageQuery = Annotated[Paging, Depends(paging)]


def id_filter(description: str) -> Any:
    """A query parameter that keeps the rows of one series, episode or review."""
    return Query(ge=1, le=MAX_ID, description=description)


def utc(value: datetime | None, name: str) -> datetime | None:
    """A datetime from a request as aware UTC; one without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as e:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise InputError(f"{name}: {value.isoformat()} is out of range") from e


# --- shapes (dicts; FastAPI checks them against the schemas once, on the way out) ---------


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def feed_out(feed: FeedRecord, api_ids: set[int]) -> dict[str, Any]:
    return {**feed_json(feed), "added_via_api": feed.id in api_ids}


def series_out(row: SeriesRow, *, detail: bool = False) -> dict[str, Any]:
    out = {**series_json(row.series), "review_count": row.review_count}
    if detail:
        out["description_html"] = row.series.description_html
        out["persons"] = [
            {"name": p.name, "role": p.role, "group": p.group} for p in row.series.persons
        ]
    return out


def episode_out(row: EpisodeRow, *, detail: bool = False) -> dict[str, Any]:
    out = {**episode_json(row.episode), "review_count": row.review_count}
    if detail:
        out["description_html"] = row.episode.description_html
    return out


def link_out(link: LinkRecord) -> dict[str, Any]:
    return {"id": link.id, **link_json(link)}


def review_summary_out(r: ReviewSummary) -> dict[str, Any]:
    return {
        **review_meta_json(r),
        "excerpt": r.excerpt,
        "text_length": r.text_length,
        "link_count": r.link_count,
    }


def review_out(
    review: ReviewRecord, links: Sequence[LinkRecord], sources: Sequence[ReviewSourceRecord]
) -> dict[str, Any]:
    return {
        **review_json(review),
        "hyperlinks": [
            {"href": h.href, "text": h.text, "start": h.start, "end": h.end} for h in review.links
        ],
        "links": [link_out(link) for link in links],
        "sources": [review_source_json(source) for source in sources],
    }
