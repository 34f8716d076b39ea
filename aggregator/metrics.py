"""Prometheus metrics: counters the pipeline bumps, totals read at scrape time.

The poller and the reviews service call the ``observe_*`` helpers (plain values in,
so neither needs to know prometheus_client); ``/metrics`` calls ``render`` with the
store's totals. Everything lives in ``REGISTRY``, not in prometheus_client's global
default, so tests and embedding programs get only aggregator's series.

Series (names as exposed):

- ``aggregator_polls_total{outcome}``: polls by outcome (new, updated, unchanged,
  not-modified, failed, gone);
- ``aggregator_poll_failures_total{error}``: failed polls by error class
  (FetchTimeout, HTTPStatusError, ParseError, ...);
- ``aggregator_fetch_seconds``: histogram of fetch latency;
- ``aggregator_reviews_linked_total{outcome}``: reviews (re-)linked, "linked" when
  the linker made at least one link, else "unlinked";
- ``aggregator_links{relation}``, ``aggregator_feeds{status}``,
  ``aggregator_episodes``, ``aggregator_reviews``: totals in the store at scrape time.

This module imports nothing else of aggregator's at run time, so the poller can
import it without an import cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from aggregator.storage import StoreStats

__all__ = [
    "CONTENT_TYPE",
    "REGISTRY",
    "observe_fetch",
    "observe_linking",
    "observe_poll",
    "render",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry()

_POLLS = Counter("aggregator_polls", "Feed polls, by outcome.", ["outcome"], registry=REGISTRY)
_POLL_FAILURES = Counter(
    "aggregator_poll_failures",
    "Failed feed polls, by error class.",
    ["error"],
    registry=REGISTRY,
)
# From a local 304 (a few ms) to a slow feed server near the read timeout (30 s).
_FETCH_SECONDS = Histogram(
    "aggregator_fetch_seconds",
    "Time to fetch a feed (request, redirects and body).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
_REVIEWS_LINKED = Counter(
    "aggregator_reviews_linked",
    "Reviews (re-)linked; outcome is linked when at least one link came out.",
    ["outcome"],
    registry=REGISTRY,
)
_LINKS = Gauge(
    "aggregator_links",
    "Links in the store (rejected ones left out), by relation.",
    ["relation"],
    registry=REGISTRY,
)
_FEEDS = Gauge("aggregator_feeds", "Feeds in the store, by status.", ["status"], registry=REGISTRY)
_EPISODES = Gauge("aggregator_episodes", "Episodes in the store.", registry=REGISTRY)
_REVIEWS = Gauge("aggregator_reviews", "Reviews in the store.", registry=REGISTRY)


@functools.cache
def _poll_counter(outcome: str) -> Counter:
    # .labels() validates and locks on every call; a poll is counted thousands of
    # times a second, so each child is looked up once (the label sets are bounded).
    return _POLLS.labels(outcome=outcome)


@functools.cache
def _failure_counter(error: str) -> Counter:
    return _POLL_FAILURES.labels(error=error)


def observe_poll(outcome: str, *, error: str | None = None) -> None:
    """Count one poll. ``error`` is the class name of what failed it, if it failed
    (a bounded set of names: never the message, which holds URLs)."""
    _poll_counter(outcome).inc()
    if error is not None:
        _failure_counter(error).inc()


def observe_fetch(seconds: float) -> None:
    """Record how long one fetch took (``FetchResult.elapsed_seconds``)."""
    _FETCH_SECONDS.observe(seconds)


def observe_linking(links: int) -> None:
    """Count one review linked, with how many links came out of it."""
    _REVIEWS_LINKED.labels(outcome="linked" if links else "unlinked").inc()


def _set_all(gauge: Gauge, label: str, values: Mapping[str, int]) -> None:
    for key, value in values.items():
        gauge.labels(**{label: key}).set(value)


def render(stats: StoreStats | None = None) -> bytes:
    """The exposition text; with ``stats``, the store totals are brought up to date."""
    if stats is not None:
        _set_all(_LINKS, "relation", stats.links_by_relation)
        _set_all(_FEEDS, "status", stats.feeds_by_status)
        _EPISODES.set(stats.episodes)
        _REVIEWS.set(stats.reviews)
    return generate_latest(REGISTRY)
