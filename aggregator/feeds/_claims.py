"""The feeds one poller holds: claimed in batches, renewed, given back, and taken
back from processes of this host that died.

A claim is a lease on the feed row (``Storage.claim_due_feeds``): an owner name, a
time it runs out, and the process holding it, so that another process on this host
can see it gone (``leases.take_back_from_dead``). The poller (``poller.Poller``)
drives one ``Claims`` per instance name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from aggregator.exceptions import StorageError
from aggregator.feeds import leases
from aggregator.settings import PollSettings
from aggregator.storage import Storage
from aggregator.types import FeedRecord

__all__ = ["Claims"]

log = logging.getLogger("aggregator.feeds.poller")  # its lines are the poller's


class Claims:
    """Claiming, renewing and giving back the feeds of one instance (``owner``)."""

    # Batches one ``poll_due`` may claim in all (see ``refiller``).
    REFILL_BATCHES = 10

    def __init__(
        self,
        storage: Storage,
        settings: PollSettings,
        clock: Callable[[], datetime],
        owner: str,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._clock = clock
        self._owner = owner
        # The process the leases name, for others on this host to see when it is gone.
        self._holder = leases.this_process()

    def claim(self, limit: int, *, ahead_of_schedule: bool = False) -> list[FeedRecord]:
        """Lease up to ``limit`` due feeds (see ``Storage.claim_due_feeds``)."""
        holder = self._holder
        return self._storage.claim_due_feeds(
            self._clock(),
            limit,
            owner=self._owner,
            lease_seconds=self._settings.lease_seconds,
            ahead_of_schedule=ahead_of_schedule,
            host=holder.host if holder else None,
            pid=holder.pid if holder else None,
        )

    def take_back_dead(self) -> int:
        """End the feed leases of processes of this host that are gone; how many."""
        if self._holder is None:
            return 0
        return leases.take_back_from_dead(self._storage, self._clock(), self._holder)

    def next_batch(self) -> list[FeedRecord]:
        """A batch of due feeds, those of dead processes of this host among them."""
        try:
            self.take_back_dead()
        except StorageError as e:
            log.warning("taking back the feeds of dead processes failed: %s", e)
        return self.claim(self._settings.batch_size)

    def refiller(self, claimed: int) -> Callable[[], list[FeedRecord]] | None:
        """More due feeds for a queue running low, while the first claim was full.

        Without it the workers of a batch wait for its slowest poll (a server that
        times out after a minute) before any feed of the next batch is claimed. Up to
        ``REFILL_BATCHES`` batches per call, so a tick still ends and its chores run.
        """
        if claimed < self._settings.batch_size:
            return None  # that was everything due
        budget = [self.REFILL_BATCHES - 1]

        def refill() -> list[FeedRecord]:
            if budget[0] <= 0:
                return []
            budget[0] -= 1
            try:
                return self.next_batch()
            except StorageError as e:
                log.warning("claiming more due feeds failed: %s", e)
                return []

        return refill

    def renew(self) -> None:
        self._storage.renew_feed_leases(
            self._clock(), owner=self._owner, lease_seconds=self._settings.lease_seconds
        )

    def release(self, feeds: list[FeedRecord]) -> None:
        """Give back claimed feeds left unpolled (stopping), for other instances now."""
        try:
            self._storage.release_feeds([f.id for f in feeds], owner=self._owner)
        except StorageError as e:
            log.warning(
                "giving back %d feeds failed (their leases will run out): %s", len(feeds), e
            )
