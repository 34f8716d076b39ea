"""Polls asked for through the API ("poll now"), run by threads of their own, with a
bounded number waiting.

A poll may take minutes (a slow server, up to the fetch's total timeout). Run in
the HTTP server's shared thread pool, as a plain route is, 40 such polls took every
thread, and every other request waited behind them: ``/healthz`` answered after
115 s. Here at most ``workers`` polls run at once on threads of their own, at most
``waiting`` more wait their turn, and a request beyond that is refused at once (429
with ``Retry-After``); a request for a feed already waiting or being polled shares
that poll instead of taking a place. The request itself only waits (a coroutine,
no thread).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from aggregator.feeds.poller import PollReport

__all__ = ["PollNowQueue", "QueueFull"]

# What a poll is taken to last before any has been measured: a few seconds is a
# typical feed; the estimate follows the measured polls from the first one on.
_FIRST_GUESS_SECONDS = 5.0
# Weight of the newest poll in the running estimate of a poll's duration.
_SMOOTHING = 0.2
# Retry-After stays within these bounds, whatever the estimate says.
_MIN_RETRY_SECONDS = 1
_MAX_RETRY_SECONDS = 600


class QueueFull(Exception):
    """Every worker is busy and the waiting places are taken."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many polls asked for at once; try again in {retry_after} s")
        self.retry_after = retry_after


class PollNowQueue:
    """Runs poll-now requests on ``workers`` threads, with ``waiting`` places more."""

    def __init__(self, *, workers: int, waiting: int) -> None:
        self._workers = workers
        self._capacity = workers + waiting
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll-now")
        self._lock = threading.Lock()
        self._pending: dict[int, Future[PollReport]] = {}  # by feed id
        self._seconds = _FIRST_GUESS_SECONDS

    def submit(self, feed_id: int, poll: Callable[[], PollReport]) -> Future[PollReport]:
        """The poll of ``feed_id`` under way or waiting, else ``poll`` queued;
        ``QueueFull`` when there is no room."""
        with self._lock:
            pending = self._pending.get(feed_id)
            if pending is not None:
                return pending  # asked for twice: one poll answers both
            if len(self._pending) >= self._capacity:
                raise QueueFull(self._retry_after())
            future = self._executor.submit(self._timed, poll)
            self._pending[feed_id] = future
        future.add_done_callback(lambda _: self._done(feed_id))
        return future

    def _timed(self, poll: Callable[[], PollReport]) -> PollReport:
        started = time.monotonic()
        try:
            return poll()
        finally:
            elapsed = time.monotonic() - started
            with self._lock:
                self._seconds += _SMOOTHING * (elapsed - self._seconds)

    def _done(self, feed_id: int) -> None:
        with self._lock:
            self._pending.pop(feed_id, None)

    def _retry_after(self) -> int:
        """Seconds until a place is likely free: a place frees when any of the
        ``workers`` polls under way ends, at the measured pace of a poll. With the
        lock held."""
        seconds = math.ceil(self._seconds / self._workers)
        return max(_MIN_RETRY_SECONDS, min(seconds, _MAX_RETRY_SECONDS))

    def close(self) -> None:
        """Start nothing more; polls under way finish on their own threads."""
        self._executor.shutdown(wait=False, cancel_futures=True)
