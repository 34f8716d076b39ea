"""The composition root: builds storage, fetcher and poller from the settings.

Nothing else reads settings or constructs dependencies; every other module gets
what it needs passed in (reader's ``make_reader()`` is the model).

The stages are imported when ``make_app`` builds them, not with this module: a
command that only reads the store (``open_store``) pays for none of httpx,
feedparser, trafilatura or the linker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aggregator.closing import Closing
from aggregator.settings import Settings
from aggregator.storage import Storage, open_storage

if TYPE_CHECKING:
    from aggregator.feeds.fetch import Fetcher
    from aggregator.feeds.poller import Poller
    from aggregator.reviews.service import Reviews
    from aggregator.types import FeedRecord

__all__ = ["App", "make_app", "open_store", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class App(Closing):
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


def open_store(settings: Settings, *, read_only: bool = False) -> Storage:
    """The store alone, for a command that needs nothing else: migrated to the
    current schema, or with ``read_only`` neither created nor migrated (a reader may
    have no right to write it), a schema that is not this version's being refused in
    one line naming the database."""
    storage = open_storage(
        settings.database_url,
        read_only=read_only,
        busy_timeout_seconds=settings.busy_timeout_seconds,
    )
    try:
        if read_only:
            storage.check_schema()
        else:
            storage.migrate()
    except BaseException:
        storage.close()
        raise
    return storage


def make_app(
    settings: Settings,
    *,
    migrate: bool = True,
    read_only: bool = False,
    clock: Callable[[], datetime] = utcnow,
) -> App:
    """Open the store (migrating it to the current schema) and wire the pipeline.

    ``read_only``: the caller only reads; the store is opened as ``open_store`` does.
    """
    from aggregator.feeds.fetch import Fetcher
    from aggregator.feeds.leases import instance_name
    from aggregator.feeds.poller import Poller
    from aggregator.reviews.digest_cache import DigestCache
    from aggregator.reviews.extract import MAX_REVIEW_BYTES
    from aggregator.reviews.service import Reviews

    if read_only or migrate:
        storage = open_store(settings, read_only=read_only)
    else:
        storage = open_storage(
            settings.database_url, busy_timeout_seconds=settings.busy_timeout_seconds
        )
    try:
        # One address policy for every fetcher (feeds/addresses.py): the operator's own
        # feeds may be on a private host; the allow-listed networks count as public.
        networks = settings.http.allowed_networks
        fetcher = Fetcher(settings.fetch, clock=clock, allowed_networks=networks)
        # A review page over the review size limit is refused while it downloads,
        # not after 32 MiB of it have arrived.
        review_limits = replace(
            settings.fetch,
            max_body_bytes=min(settings.fetch.max_body_bytes, MAX_REVIEW_BYTES),
            max_decompressed_bytes=min(settings.fetch.max_decompressed_bytes, MAX_REVIEW_BYTES),
        )
        review_fetcher = Fetcher(
            review_limits, clock=clock, allow_file=False, allowed_networks=networks
        )
        # Feeds added through the HTTP API may only reach public addresses unless
        # allow-listed (the API fetches review pages with restrictions of its own).
        restricted_fetcher = Fetcher(
            settings.fetch,
            clock=clock,
            allow_file=False,
            allow_private=False,
            allowed_networks=networks,
        )
    except BaseException:
        storage.close()
        raise
    # One name for this instance's leases on feeds and on linking work.
    owner = instance_name()
    lease_seconds = settings.poll.lease_seconds
    cache_dir = settings.linker.cache_dir if settings.linker.cache else None
    reviews = Reviews(
        storage,
        review_fetcher,
        clock=clock,
        owner=owner,
        lease_seconds=lease_seconds,
        digests=DigestCache(cache_dir) if cache_dir is not None else None,
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
