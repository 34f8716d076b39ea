"""The service's clock: one APScheduler job that ticks and polls what is due.

The scheduler is a dumb ticker. Which feeds are due, and when each is due next, is
data in the database (``next_poll_at``, computed by ``decide``); there is never one
APScheduler job per feed. Only this module imports apscheduler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from aggregator.exceptions import AlreadyExistsError, NotFoundError, StorageError
from aggregator.feeds.poller import Poller

__all__ = ["Ticker"]

log = logging.getLogger(__name__)


class Ticker:
    """Runs ``poller.poll_due()`` every ``tick_seconds``, starting now — again at once
    while it polls full batches of ``batch_size`` — then the chores
    (bounded pieces of background work, such as re-linking reviews after a linker
    upgrade).

    ``max_instances=1`` and ``coalesce`` mean a slow tick is never run twice at once
    and missed ticks collapse into one.
    """

    def __init__(
        self,
        poller: Poller,
        tick_seconds: float,
        *,
        batch_size: int | None = None,
        chores: Sequence[Callable[[], object]] = (),
    ) -> None:
        self._poller = poller
        self._batch_size = batch_size
        self._chores = tuple(chores)
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=tick_seconds,
            next_run_time=datetime.now(UTC),
            id="tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._idle = threading.Event()
        self._idle.set()

    def _tick(self) -> None:
        if self._poller.stopping:
            return
        self._idle.clear()
        try:
            while True:
                summary = self._poller.poll_due()
                if summary.polled:
                    log.info(summary.line())
                # A full batch means more may be due: claim the next one now rather
                # than a tick later (a tick per batch would cap a big deployment at
                # batch_size feeds per tick).
                full = self._batch_size is not None and summary.polled >= self._batch_size
                if not full or self._poller.stopping:
                    break
            for chore in self._chores:
                if not self._poller.stopping:
                    chore()
        except (StorageError, NotFoundError, AlreadyExistsError) as e:
            # The database is down or unreachable (or a chore's row went away): nothing
            # was stored, claimed feeds return when their leases end, and the next tick
            # tries again.
            log.error("tick failed, trying again at the next one: %s", e)
        except Exception:
            # A bug in one tick must not kill the service; the next tick tries again.
            log.exception("tick failed")
        finally:
            self._idle.set()

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        """Stop ticking; let the polls in flight finish and be stored."""
        self._poller.stop()
        self._scheduler.shutdown(wait=True)
        self._idle.wait()
