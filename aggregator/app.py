"""The composition root: builds storage, fetcher and poller from the settings.

Nothing else reads settings or constructs dependencies; every other module gets
what it needs passed in (reader's ``make_reader()`` is the model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType

from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.leases import instance_name
from aggregator.feeds.poller import Poller
from aggregator.reviews.extract import MAX_REVIEW_BYTES
from aggregator.reviews.service import Reviews
from aggregator.settings import Settings
from aggregator.storage import Storage, open_storage
from aggregator.types import FeedRecord

__all__ = ["App", "make_app", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    storage: Storage
    fetcher: Fetcher
    poller: Poller
    reviews: Reviews
    clock: Callable[[], datetime]
    review_fetcher: Fetcher
    restricted_fetcher: Fetcher
    owner: str  # this instance's name on the leases it takes (aggregator.feeds.leases)

    def sync_config_feeds(self) -> list[FeedRecord]:
        """Add the feeds listed in the config file that the store does not have yet."""
        added = []
        for entry in self.settings.feeds:
            feed, created = self.storage.ensure_feed(entry.url, entry.kind, self.clock())
            if created:
                added.append(feed)
        return added

    def close(self) -> None:
        self.fetcher.close()
        self.review_fetcher.close()
        self.restricted_fetcher.close()
        self.storage.close()

    def __enter__(self) -> App:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def make_app(
    settings: Settings, *, migrate: bool = True, clock: Callable[[], datetime] = utcnow
) -> App:
    """Open the store (migrating it to the current schema) and wire the pipeline."""
    storage = open_storage(
        settings.database_url, busy_timeout_seconds=settings.busy_timeout_seconds
    )
    try:
        if migrate:
            storage.migrate()
        fetcher = Fetcher(settings.fetch, clock=clock)
        # A review page over the review size limit is refused while it downloads,
        # not after 32 MiB of it have arrived.
        review_limits = replace(
            settings.fetch,
            max_body_bytes=min(settings.fetch.max_body_bytes, MAX_REVIEW_BYTES),
            max_decompressed_bytes=min(settings.fetch.max_decompressed_bytes, MAX_REVIEW_BYTES),
        )
        review_fetcher = Fetcher(review_limits, clock=clock, allow_file=False)
        # Feeds added through the HTTP API may only reach public addresses unless
        # allow-listed (the API fetches review pages with restrictions of its own).
        restricted_fetcher = Fetcher(
            settings.fetch,
            clock=clock,
            allow_file=False,
            allow_private=False,
            allowed_networks=settings.http.allowed_networks,
        )
    except BaseException:
        storage.close()
        raise
    # One name for this instance's leases on feeds and on linking work.
    owner = instance_name()
    lease_seconds = settings.poll.lease_seconds
    reviews = Reviews(
        storage, review_fetcher, clock=clock, owner=owner, lease_seconds=lease_seconds
    )
    poller = Poller(
        storage,
        fetcher,
        settings.poll,
        clock=clock,
        listener=reviews,
        restricted_fetcher=restricted_fetcher,
        owner=owner,
    )
    return App(
        settings,
        storage,
        fetcher,
        poller,
        reviews,
        clock,
        review_fetcher,
        restricted_fetcher,
        owner,
    )
